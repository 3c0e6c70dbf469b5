#!/usr/bin/env bash
# Live resharding during training: launches Cluster/local.yaml on larger synthetic data,
# runs `tessera reshard --scheduler ADDR --shards TO` once the first epoch is done, and
# records what it printed (rows moved against the ideal, copy throughput, the pause at
# the switch, the checksum before and after). Repeats RUNS times for FROM -> TO.
#
#   bench/live_reshard.sh [OUT_DIR] [FROM] [TO] [RUNS]
#   TESSERA=.build-reshard/debug/tessera bench/live_reshard.sh      (default: .build/release/tessera)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/live-reshard}
from=${2:-2}; to=${3:-4}; runs=${4:-3}
tessera=${TESSERA:-.build/release/tessera}
users=${USERS:-30000}; items=${ITEMS:-10000}
[ -x "$tessera" ] || make release
mkdir -p "$out"
for run in $(seq 1 "$runs"); do
  dir="$out/runs/$from-$to-$run"
  rm -rf "$dir"
  $tessera launch Cluster/local.yaml --run-dir "$dir" --set scheduler.port=0 --set shards=$from \
    --set data.synthetic.users=$users --set data.synthetic.items=$items --set data.synthetic.interactions_per_user=5 \
    --set training.epochs=4 --set training.patience=0 > "$out/launch-$from-$to-$run.log" 2>&1 &
  launcher=$!
  until grep -q "^epoch 1/" "$out/launch-$from-$to-$run.log" 2>/dev/null; do
    kill -0 $launcher 2>/dev/null || { echo "launch $run ended early" >&2; cat "$out/launch-$from-$to-$run.log" >&2; exit 1; }
    sleep 0.5
  done
  $tessera reshard --scheduler "$(cat "$dir/scheduler.address")" --shards $to | tee "$out/reshard-$from-$to-$run.log"
  wait $launcher
done
python3 - "$out" "$from" "$to" "$runs" <<'PY'
import re, statistics, sys
out, a, b, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pauses, rates, moved = [], [], []
for run in range(1, runs + 1):
    text = open(f"{out}/reshard-{a}-{b}-{run}.log").read()
    pauses.append(float(re.search(r"paused training ([\d.]+) ms", text).group(1)))
    m = re.search(r"moved ([\d.]+) of the rows \(ideal ([\d.]+)\): (\d+) of (\d+) rows copied in ([\d.]+) s \((\d+) rows/s\)", text)
    moved.append((float(m.group(1)), float(m.group(2)), int(m.group(3)), int(m.group(4))))
    rates.append(int(m.group(6)))
    assert "after: equal" in text, text
print(f"{a} -> {b}: pause median {statistics.median(pauses):.1f} ms {pauses}; copy median {statistics.median(rates)} rows/s {rates}; moved {moved}")
PY
