#!/usr/bin/env bash
# build-kernel.sh [DIR] — prepare the throwaway VM of run.sh: a stock Debian kernel (the linux-image-amd64 package,
# unpacked into DIR, never installed on this host) and an initramfs with busybox, the few modules that mount the
# host's / (virtio, 9p, overlay) and scripts/vm/init. Needs apt, busybox-static, xz-utils. ~10 s, once.
# DIR default: $XDG_CACHE_HOME/chaosmetad-vm (~/.cache/chaosmetad-vm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(realpath -m "${1:-${XDG_CACHE_HOME:-$HOME/.cache}/chaosmetad-vm}")
mkdir -p "$dir"
if [ ! -d "$dir/lib/modules" ]; then
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
  [ -n "$pkg" ] || { echo "build-kernel: apt knows no linux-image-amd64 (apt-get update?)" >&2; exit 1; }
  dl=$(mktemp -d); chmod 0755 "$dl"
  (cd "$dl" && apt-get download -q "$pkg" >/dev/null)
  dpkg-deb -x "$dl"/*.deb "$dir"
  rm -rf "$dl"
fi
kv=$(ls "$dir/lib/modules" | head -1)
mods=$dir/lib/modules/$kv
[ -f "$mods/modules.dep" ] || busybox depmod -b "$dir" "$kv"
# an uncompressed vmlinux boots through its PVH entry: no firmware, no decompression (twice as fast under TCG)
xzat=$(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$dir/boot/vmlinuz-$kv" | head -1 | cut -d: -f1)
tail -c +$((xzat + 1)) "$dir/boot/vmlinuz-$kv" | xz -dcq > "$dir/vmlinux" 2>/dev/null || true
cp "$dir/boot/vmlinuz-$kv" "$dir/vmlinuz"
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys} "$root/lib/modules/$kv"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$here/init" "$root/init"; chmod 0755 "$root/init"
echo "$mods" > "$root/modules-dir"
# the modules to mount the root and everything they depend on (modules.dep: "path: dep dep …")
need="virtio_pci 9pnet_virtio 9p overlay"; done_=""
while [ -n "$need" ]; do
  set -- $need; m=$1; shift; need="$*"
  case " $done_ " in *" $m "*) continue ;; esac
  done_="$done_ $m"
  line=$(grep -E "(^|/)${m//_/[-_]}\.ko(\.[a-z]+)?:" "$mods/modules.dep" | head -1)
  [ -n "$line" ] || { echo "build-kernel: module $m not in $mods/modules.dep" >&2; exit 1; }
  for f in ${line//:/ }; do
    (cd "$mods" && cp --parents "$f" "$root/lib/modules/$kv/")
    d=$(basename "$f"); d=${d%%.ko*}; need="$need ${d//-/_}"
  done
done
busybox depmod -b "$root" "$kv"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$dir/initramfs.cpio.gz"
echo "build-kernel: $dir (kernel $kv, initramfs $(du -h "$dir/initramfs.cpio.gz" | cut -f1))"
