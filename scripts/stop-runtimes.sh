#!/usr/bin/env bash
# Stop the container runtimes scripts/start-runtimes.sh started (listed in /run/chaosmetad-started-runtimes), newest
# first: npm test leaves a machine's runtimes as it found them. A runtime that was running before is not listed and
# stays. Never fails the caller: it says what it did.
set -u
STARTED=/run/chaosmetad-started-runtimes
[ -s "$STARTED" ] || exit 0
tac "$STARTED" | while read -r name pid; do
  # only that very process: the name it was started as, still running
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then continue; fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null; fi
  echo "stop-runtimes: stopped $name (pid $pid), which the tests had started"
done
rm -f "$STARTED"
exit 0
