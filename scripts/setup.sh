#!/usr/bin/env bash
# One-command set-up on a Debian host (as root): build tools, dependencies, the single executable installed as
# /usr/local/bin/chaosmetad, then a first real fault (a 5-second CPU burn on one core) shown and recovered.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "setup: run as root (chaosmetad changes the host)" >&2; exit 1; fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then echo "setup: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# the tools the faults drive, and what the test suite reads and sets (npm test): e2fsprogs, openssl, acl and
# libcap2-bin (ACLs, file capabilities), zsh and fish (completion); the VM tests also want qemu-system-x86,
# busybox-static and xz-utils plus scripts/vm/build-kernel.sh once, the container tests docker.io, containerd and
# runc (they start the daemons themselves: scripts/start-runtimes.sh); both say why they skip without them.
# openjdk-17-jdk-headless + libjavassist-java + unzip: the Java agent of the JVM faults is built from jvm/ (javac,
# javassist packed in); the JVM tests run a real JVM
# python3 + curl, prometheus + prometheus-node-exporter: the example drills (examples/drills: a local web service, a
# Prometheus alert drill; README "Drills")
apt-get install -y -qq --no-install-recommends build-essential iproute2 procps util-linux iptables nftables \
  e2fsprogs openssl acl libcap2-bin zsh fish openjdk-17-jdk-headless libjavassist-java unzip python3 curl \
  prometheus prometheus-node-exporter >/dev/null
npm ci --no-audit --no-fund
npm run build
install -m 0755 dist/chaosmetad /usr/local/bin/chaosmetad
echo "== installed: $(chaosmetad version)"
echo "== a first fault: burn core 0 at 30% for 5 seconds"
chaosmetad inject cpu burn --percent 30 --list 0 --timeout 5s --uid first-fault-demo
chaosmetad query --uid first-fault-demo --all
sleep 7
echo "== after its timeout it recovered by itself:"
chaosmetad query --uid first-fault-demo
