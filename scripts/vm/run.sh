#!/usr/bin/env bash
# run.sh CMD [ARG…] — run one command in a throwaway VM with a stock Debian kernel (netem, cgroup v2), prepared
# once by build-kernel.sh. The host's / is the guest's, read-only under a tmpfs overlay (writes vanish); the working
# directory and PATH carry over; stdin is /dev/null; the only interface is lo. Prints the command's output and exits
# with its code: 125 = could not cd, 255 = the VM failed or timed out.
# Env: VM_DIR (kernel, default ~/.cache/chaosmetad-vm), VM_MEM (1G), VM_CPUS (2), VM_TIMEOUT (600 s),
#      VM_RW=DIR (one host directory shared read-write at the same path), VM_ACCEL (kvm|tcg, chosen when unset),
#      VM_TRACE=1 (trace the guest's init), VM_INIT=systemd (PID 1 is systemd, the command one of its units).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARG…]" >&2; exit 2; }
dir=${VM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chaosmetad-vm}
[ -s "$dir/initramfs.cpio.gz" ] || { echo "run: no VM kernel in $dir (run scripts/vm/build-kernel.sh)" >&2; exit 255; }
# an initramfs packed before scripts/vm/init last changed is packed again (the kernel is kept: a few seconds)
here=$(cd "$(dirname "$0")" && pwd)
if [ "$here/init" -nt "$dir/initramfs.cpio.gz" ]; then "$here/build-kernel.sh" "$dir" >&2 || exit 255; fi
job=$(mktemp -d /tmp/chaosmetad-vm.XXXXXX); trap 'rm -rf "$job"' EXIT
extra=()
{
  printf 'export PATH=%q HOME=/root TERM=dumb\n' "$PATH"
  printf 'cd %q || exit 125\n' "$PWD"
  printf '%q ' "$@"; echo
} > "$job/run.sh"
if [ "${VM_INIT:-}" = systemd ]; then
  # PID 1 is the host's systemd; the job is one unit (no default dependencies: nothing else of the host's starts),
  # and the machine powers off when it ends
  cat > "$job/pid1" <<'EOF'
#!/.vm/busybox sh
/.vm/busybox mkdir -p /run/systemd/system
/.vm/busybox cat > /run/systemd/system/cm-job.service <<'UNIT'
[Unit]
Description=the throwaway VM's job
DefaultDependencies=no
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/.vm/busybox sh -c '/bin/sh /.vm/job/run.sh < /dev/null; echo $$? > /.vm/job/rc; sync'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
UNIT
exec /lib/systemd/systemd --unit=cm-job.service
EOF
  chmod 0755 "$job/pid1"
fi
if [ -n "${VM_RW:-}" ]; then
  rw=$(realpath "$VM_RW"); echo "$rw" > "$job/rw"
  extra=(-fsdev "local,id=rw,path=$rw,security_model=none" -device virtio-9p-pci,fsdev=rw,mount_tag=rw)
fi
# KVM only on real hardware virtualisation (a paravirtual /dev/kvm, kvm_pvm, cannot boot a stock kernel)
accel=${VM_ACCEL:-$(if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then echo kvm; else echo tcg; fi)}
if [ "$accel" = kvm ]; then cpu=(-accel kvm -cpu host); else cpu=(-accel tcg,thread=multi -cpu max); fi
kernel=$dir/vmlinux; [ -s "$kernel" ] || kernel=$dir/vmlinuz
append="console=ttyS0 quiet panic=-1"; [ -z "${VM_TRACE:-}" ] || append="$append vmtrace"
timeout "${VM_TIMEOUT:-600}" qemu-system-x86_64 "${cpu[@]}" -m "${VM_MEM:-1G}" -smp "${VM_CPUS:-2}" \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$kernel" -initrd "$dir/initramfs.cpio.gz" -append "$append" \
  -fsdev local,id=host,path=/,security_model=none,readonly=on,multidevs=remap -device virtio-9p-pci,fsdev=host,mount_tag=host \
  -fsdev "local,id=job,path=$job,security_model=none" -device virtio-9p-pci,fsdev=job,mount_tag=job \
  "${extra[@]}" < /dev/null || echo "run: qemu exited with $?" >&2
[ -s "$job/rc" ] || { echo "run: the guest left no exit code" >&2; exit 255; }
exit "$(cat "$job/rc")"
