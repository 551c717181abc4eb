#!/usr/bin/env bash
# Run a test command, then remove the /tmp/cmd-* directories it made (the tests' tmpDir()s), when it passed: a
# failed run keeps them for a look. Never one that is, or holds, a mount point still, nor one that was there before.
set -u
before=$(mktemp /tmp/chaosmetad-tmp-before.XXXXXX)
trap 'rm -f "$before"' EXIT
ls -d /tmp/cmd-* 2>/dev/null | sort >"$before"
"$@"
rc=$?
if [ "$rc" = 0 ]; then
  mounts=$(awk '{print $5}' /proc/self/mountinfo)
  ls -d /tmp/cmd-* 2>/dev/null | sort | comm -13 "$before" - | while read -r d; do
    case $'\n'"$mounts" in *$'\n'"$d"|*$'\n'"$d"/*) continue ;; esac
    rm -rf -- "$d" 2>/dev/null || echo "tmp-clean: could not remove all of $d"
  done
fi
exit "$rc"
