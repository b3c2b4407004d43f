#!/usr/bin/env bash
# Runs the kill/resume test N times (default 10) while `stress --cpu 2` (Debian's stress) loads the machine, and
# prints per run: exit code, wall time, the kill count and a digest of where the kills landed. Every line should
# show the same count and digest: kills are chosen by event, not by time.
set -u
cd "$(dirname "$0")/.."
runs=${1:-10}
command -v stress >/dev/null || { echo "needs Debian's stress (apt-get install stress)"; exit 2; }
stress --cpu 2 --timeout $((runs * 600)) >/dev/null 2>&1 &
load=$!
trap 'kill $load 2>/dev/null' EXIT
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  out=$(.venv/bin/python -m pytest -q -p no:cacheprovider -s tests/e2e/test_kill_resume.py 2>&1)
  rc=$?
  landed=$(echo "$out" | grep -o "kills: [0-9]* by event: .*" | head -1)
  echo "run $i: rc=$rc $(($(date +%s) - start)) s, ${landed%% by event*}, where: $(echo "$landed" | md5sum | cut -c1-8)"
done
