#!/usr/bin/env bash
# Quality benchmark on MovieLens latest-small (EVALUATION.md's full-ranking 8:1:1 protocol):
# Tessera's BPR-MF (2 shards, 2 workers) beside implicit's BPR on the identical split, both at
# dimension 64, each tuned on the validation split, both scored by `tessera eval` (the same
# metric code), plus the popularity baseline. Also reports training examples/s of both.
#
#   bench/quality.sh [OUT_DIR]        (default bench/out/quality; ~20 min on 2 cores)
#
# Needs: a release build (make release), python3; installs implicit into OUT/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/quality}
data=${DATA:-../shared/data/ml-latest-small/ratings.csv}
tessera=.build/release/tessera
config=Cluster/movielens.yaml
mkdir -p "$out"
[ -x "$tessera" ] || make release
[ -f "$data" ] || { echo "missing $data (../shared/data)" >&2; exit 1; }

echo "== split ($data)"
$tessera split $config --data "$data" --out "$out/split"

echo "== Tessera: grid over learning rate x l2 x negatives, chosen on validation NDCG@10"
best=""; best_score=-1
for lr in 0.05 0.1; do
  for l2 in 0.003 0.01 0.03; do
    for neg in 1 4; do
      tag="lr${lr}-l2${l2}-neg${neg}"
      $tessera launch $config --train "$out/split/train.csv" --valid "$out/split/valid.csv" --test "$out/split/test.csv" \
        --set tables[0].optimizer.learning_rate=$lr --set tables[1].optimizer.learning_rate=$lr \
        --set data.columns.user=user --set data.columns.item=item \
        --set model.l2=$l2 --set model.negatives=$neg --set scheduler.port=0 \
        --summary "$out/tessera-$tag.json" --export-recs "$out/tessera-$tag.recs" --run-dir "$out/runs/$tag" > "$out/tessera-$tag.log" 2>&1
      score=$(python3 -c "import json,sys; s=json.load(open('$out/tessera-$tag.json')); print(s['epochs'][s['bestEpoch']-1]['metrics']['ndcg@10'])")
      echo "  $tag: valid ndcg@10 $score (best epoch $(python3 -c "import json; print(json.load(open('$out/tessera-$tag.json'))['bestEpoch'])"))"
      if python3 -c "import sys; sys.exit(0 if $score > $best_score else 1)"; then best=$tag; best_score=$score; fi
    done
  done
done
echo "  chosen: $best"
cp "$out/tessera-$best.json" "$out/tessera-best.json"
$tessera eval --recs "$out/tessera-$best.recs" --test "$out/split/test.csv" --json > "$out/tessera-test.json"

echo "== implicit BPR (full grid on validation)"
if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
fi
"$out/venv/bin/python" bench/implicit_bpr.py --split "$out/split" --out "$out/implicit" --grid full --factors 64 \
  --json "$out/implicit.json" | tee "$out/implicit.log" | grep -E "best|throughput|test" || true
$tessera eval --recs "$out/implicit/implicit_test_recs.txt" --test "$out/split/test.csv" --json > "$out/implicit-test.json"

echo "== results"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
t = json.load(open(f"{out}/tessera-test.json"))
i = json.load(open(f"{out}/implicit-test.json"))
s = json.load(open(f"{out}/tessera-best.json"))
im = json.load(open(f"{out}/implicit.json"))
pop = s["popularity"]["test"]
rows = [("Tessera BPR-MF (2 shards, 2 workers)", t), ("implicit BPR", i), ("popularity", pop)]
print("| model | Recall@10 | NDCG@10 | Hit@10 | MRR@10 | Precision@10 |")
print("|---|---|---|---|---|---|")
for name, m in rows:
    print(f"| {name} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['hit@10']:.4f} | {m['mrr@10']:.4f} | {m['precision@10']:.4f} |")
print()
print(f"Tessera: examples/s (median epoch) {s['examplesPerSecond']:.0f}; best epoch {s['bestEpoch']}")
print(f"implicit: best {im['best']}")
print(f"implicit: examples/s {im['throughput']['examples_per_s']:.0f} with {im['throughput'].get('threads')} threads; "
      f"{(im.get('throughput_single_thread') or {}).get('examples_per_s', float('nan')):.0f} with 1 thread")
print(f"ratio Tessera/implicit examples/s (1 thread): {s['examplesPerSecond'] / (im.get('throughput_single_thread') or im['throughput'])['examples_per_s']:.3f}")
PY
