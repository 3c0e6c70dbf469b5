#!/usr/bin/env bash
# Training throughput on MovieLens latest-small: Tessera (2 shards, 2 workers, dimension 64,
# BSP and ASP) beside implicit's BPR (dimension 64, 1 and 2 threads), run back to back on the
# same split. Examples are positive training interactions processed; for implicit, training
# interactions x iterations / fit time (it samples one triple per interaction per iteration).
#
#   bench/train_speed.sh [OUT_DIR]     (needs bench/quality.sh's split and venv, or makes them)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/quality}
tessera=.build/release/tessera
config=Cluster/movielens.yaml
[ -x "$tessera" ] || make release
[ -f "$out/split/train.csv" ] || $tessera split $config --out "$out/split"
if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
fi

for variant in bsp-1 bsp-4 asp-1; do
  mode=${variant%-*}; negatives=${variant#*-}
  for run in 1 2 3; do
    $tessera launch $config --train "$out/split/train.csv" --valid "$out/split/valid.csv" --test "$out/split/test.csv" \
      --set data.columns.user=user --set data.columns.item=item --set scheduler.port=0 \
      --set training.epochs=20 --set training.patience=0 --set training.consistency=$mode --set model.negatives=$negatives \
      --summary "$out/speed-$variant-$run.json" --run-dir "$out/runs/speed-$variant-$run" > "$out/speed-$variant-$run.log" 2>&1
  done
done
"$out/venv/bin/python" bench/implicit_bpr.py --split "$out/split" --out "$out/implicit-speed" --factors 64 \
  --lrs 0.001 --regs 0.01 --iters 100 --repeats 3 --json "$out/implicit-speed.json" > "$out/implicit-speed.log" 2>&1

python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
rows = []
for variant in ("bsp-1", "bsp-4", "asp-1"):
    mode, negatives = variant.split("-")
    rates = [round(json.load(open(f"{out}/speed-{variant}-{run}.json"))["examplesPerSecond"]) for run in (1, 2, 3)]
    rows.append((f"Tessera BPR-MF, 2 shards, 2 workers, {mode.upper()}, {negatives} negative(s) per positive",
                 statistics.median(rates), rates))
im = json.load(open(f"{out}/implicit-speed.json"))
rows.append((f"implicit BPR, {im['throughput']['threads']} threads (1 sampled negative)", im["throughput"]["examples_per_s"], im["throughput"]["fit_seconds"]))
single = im.get("throughput_single_thread")
if single:
    rows.append(("implicit BPR, 1 thread (1 sampled negative)", single["examples_per_s"], single["fit_seconds"]))
base = rows[-1][1]
print("| system | examples/s (median) | vs implicit 1 thread | runs |")
print("|---|---|---|---|")
for name, rate, runs in rows:
    print(f"| {name} | {rate:,.0f} | {rate / base:.3f}x | {runs} |")
PY
