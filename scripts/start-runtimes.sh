#!/usr/bin/env bash
# Start containerd and dockerd (Debian's containerd and docker.io) when they are not running, the way the tests and
# .ci/run need them: detached, logs in /var/log/chaosmetad-{containerd,dockerd}.log, dockerd on the system
# containerd (so `ctr -n moby` sees docker's containers). Returns when both answer; exit 1 (with the log) if not.
# What it starts is listed in /run/chaosmetad-started-runtimes, so scripts/stop-runtimes.sh (run by npm test when
# it ends) stops exactly that and leaves runtimes that were running before alone.
STARTED=/run/chaosmetad-started-runtimes
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
wait_for() { for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
if ! ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; then
  command -v containerd >/dev/null || { echo "containerd is not installed (apt-get install containerd runc)"; exit 1; }
  setsid containerd >>/var/log/chaosmetad-containerd.log 2>&1 < /dev/null &
  echo "containerd $!" >>"$STARTED"
  wait_for ctr --address /run/containerd/containerd.sock version || { tail -20 /var/log/chaosmetad-containerd.log; exit 1; }
fi
if ! docker version >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "dockerd is not installed (apt-get install docker.io)"; exit 1; }
  setsid dockerd --containerd /run/containerd/containerd.sock >>/var/log/chaosmetad-dockerd.log 2>&1 < /dev/null &
  echo "dockerd $!" >>"$STARTED"
  wait_for docker version || { tail -20 /var/log/chaosmetad-dockerd.log; exit 1; }
fi
