#!/usr/bin/env bash
# Two-tower retrieval on MovieLens latest-small (EVALUATION.md's full-ranking 8:1:1 protocol),
# beside BPR-MF and implicit's BPR on the identical split, all scored by `tessera eval`:
#   - Tessera two-tower (Cluster/movielens-two-tower.yaml: id + genre features, sampled
#     softmax with in-batch negatives and log-Q), learning rate chosen on validation NDCG@10;
#   - Tessera BPR-MF with the settings bench/quality.sh chose (Cluster/movielens.yaml);
#   - implicit 0.7.3 BPR with the parameters bench/quality.sh chose (lr 0.0025, reg 0.03,
#     200 iterations, 64 factors).
#
#   bench/two_tower.sh [OUT_DIR]        (default bench/out/two-tower; ~10 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/two-tower}
tessera=.build/release/tessera
mkdir -p "$out"
[ -x "$tessera" ] || make release
presplit=(--train "$out/split/train.csv" --valid "$out/split/valid.csv" --test "$out/split/test.csv"
          --set data.columns.user=user --set data.columns.item=item)

echo "== split"
$tessera split Cluster/movielens.yaml --out "$out/split"

echo "== Tessera two-tower: learning rate on validation"
best=""; best_score=-1
for lr in ${LRS:-0.002 0.005 0.01}; do
  sets=(); for t in 0 1 2 3; do sets+=(--set "tables[$t].optimizer.learning_rate=$lr"); done
  $tessera launch Cluster/movielens-two-tower.yaml "${presplit[@]}" "${sets[@]}" \
    --summary "$out/two-tower-lr$lr.json" --export-recs "$out/two-tower-lr$lr.recs" --run-dir "$out/runs/two-tower-lr$lr" \
    > "$out/two-tower-lr$lr.log" 2>&1
  score=$(python3 -c "import json; s=json.load(open('$out/two-tower-lr$lr.json')); print(s['epochs'][s['bestEpoch']-1]['metrics']['ndcg@10'])")
  echo "  lr $lr: valid ndcg@10 $score"
  if python3 -c "import sys; sys.exit(0 if $score > $best_score else 1)"; then best=$lr; best_score=$score; fi
done
echo "  chosen: lr $best"
cp "$out/two-tower-lr$best.json" "$out/two-tower.json"
$tessera eval --recs "$out/two-tower-lr$best.recs" --test "$out/split/test.csv" --train "$out/split/train.csv" --json > "$out/two-tower-test.json"

echo "== Tessera BPR-MF (Cluster/movielens.yaml)"
$tessera launch Cluster/movielens.yaml "${presplit[@]}" --summary "$out/bpr.json" --export-recs "$out/bpr.recs" \
  --run-dir "$out/runs/bpr" > "$out/bpr.log" 2>&1
$tessera eval --recs "$out/bpr.recs" --test "$out/split/test.csv" --train "$out/split/train.csv" --json > "$out/bpr-test.json"

echo "== implicit BPR"
if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
fi
"$out/venv/bin/python" bench/implicit_bpr.py --split "$out/split" --out "$out/implicit" --factors 64 \
  --lrs 0.0025 --regs 0.03 --iters 200 --json "$out/implicit.json" > "$out/implicit.log" 2>&1
$tessera eval --recs "$out/implicit/implicit_test_recs.txt" --test "$out/split/test.csv" --train "$out/split/train.csv" --json > "$out/implicit-test.json"

echo "== results"
python3 - "$out" <<'PY' | tee "$out/results.md"
import json, sys
out = sys.argv[1]
pop = json.load(open(f"{out}/bpr.json"))["popularity"]["test"]
rows = [("Tessera two-tower (2 shards, 2 workers)", json.load(open(f"{out}/two-tower-test.json"))),
        ("Tessera BPR-MF (2 shards, 2 workers)", json.load(open(f"{out}/bpr-test.json"))),
        ("implicit BPR", json.load(open(f"{out}/implicit-test.json"))),
        ("popularity", pop)]
keys = ["recall@10", "ndcg@10", "hit@10", "coverage@10", "novelty@10", "diversity@10"]
print("| model | " + " | ".join(keys) + " |")
print("|---|" + "---|" * len(keys))
for name, m in rows:
    print(f"| {name} | " + " | ".join(f"{m[k]:.4f}" if k in m else "–" for k in keys) + " |")
tt = json.load(open(f"{out}/two-tower.json"))
print(f"\ntwo-tower: best epoch {tt['bestEpoch']}, examples/s (median epoch) {tt['examplesPerSecond']:.0f}")
PY
