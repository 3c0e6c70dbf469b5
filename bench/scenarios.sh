#!/usr/bin/env bash
# Multi-scenario comparison (issue 4): per-scenario test NDCG@10 of
#   - the multi-scenario model, STAR and MMoE (one model, shared embeddings, per-scenario parts),
#   - one scenario-blind model on all the data,
#   - one model per scenario (blind, trained on that scenario's interactions only),
# on the synthetic generator's multi-scenario mode and on MovieLens split by genre group.
# Every model trains through the shards (2 shards, 2 workers). Each variant gets the same
# small grid of (learning rate, l2) and keeps the point with the best validation NDCG@10
# (per-scenario models: per scenario). Candidates of a scenario are the items that occur in
# it, for every variant alike.
#
#   bench/scenarios.sh [OUT_DIR] [synthetic|movielens|all]   (default bench/out/scenarios, all;
#                                                            ~15 min per data set on 2 cores)
#   SEEDS="2 3" bench/scenarios.sh ...   also reruns each chosen setting with those training
#                                        seeds and reports mean ± sd
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/scenarios}
which=${2:-all}
# Grids of learning_rate:l2, per data set.
grid_synthetic=${GRID_SYNTHETIC:-"0.002:0.3 0.005:0.3 0.01:0.3"}
grid_movielens=${GRID_MOVIELENS:-"0.005:0.1 0.005:0.3 0.005:1.0"}
tessera=.build/release/tessera
mkdir -p "$out"
[ -x "$tessera" ] || make release

# valid_ndcg SUMMARY: the best epoch's validation NDCG@10.
valid_ndcg() { python3 -c "import json; s=json.load(open('$1')); print(s['epochs'][s['bestEpoch']-1]['metrics']['ndcg@10'])"; }

# run CONFIG TAG ARGS...: one job per grid point; keeps the summary with the best validation NDCG@10 as OUT/TAG.json.
run() {
  local config=$1 tag=$2; shift 2
  local best="" best_score=-1 best_point=""
  for point in $grid; do
    local lr=${point%%:*} l2=${point##*:} sets=() name="$tag-lr${point%%:*}-l2${point##*:}"
    for t in 0 1 2; do sets+=(--set "tables[$t].optimizer.learning_rate=$lr"); done
    # A finished run in OUT_DIR is reused (rerun into a fresh OUT_DIR to measure again).
    [ -f "$out/$name.json" ] || $tessera launch "$config" "${sets[@]}" --set "model.l2=$l2" "$@" --summary "$out/$name.json" \
      --run-dir "$out/runs/$name" > "$out/$name.log" 2>&1
    local score; score=$(valid_ndcg "$out/$name.json")
    echo "  $tag lr $lr l2 $l2: valid ndcg@10 $score"
    if python3 -c "import sys; sys.exit(0 if $score > $best_score else 1)"; then best=$name; best_score=$score; best_point=$point; fi
  done
  cp "$out/$best.json" "$out/$tag.json"
  echo "  $tag: chose ${best#$tag-}"
  # The chosen point again with other training seeds (SEEDS="2 3"), for run-to-run spread.
  for seed in ${SEEDS:-}; do
    local lr=${best_point%%:*} l2=${best_point##*:} sets=()
    for t in 0 1 2; do sets+=(--set "tables[$t].optimizer.learning_rate=$lr"); done
    [ -f "$out/$tag-seed$seed.json" ] || $tessera launch "$config" "${sets[@]}" --set "model.l2=$l2" --set "training.seed=$seed" "$@" \
      --summary "$out/$tag-seed$seed.json" --run-dir "$out/runs/$tag-seed$seed" > "$out/$tag-seed$seed.log" 2>&1
    echo "  $tag seed $seed: done"
  done
}

compare() {
  local name=$1 config=$2 user_dim=$3; shift 3
  local scenarios=("$@")
  local blind_dim=$((user_dim + 2))
  echo "== $name ($config)"
  run "$config" "$name-star" --set model.scenarios.topology=star
  run "$config" "$name-mmoe" --set model.scenarios.topology=mmoe
  run "$config" "$name-blind" --set model.scenarios.topology=blind --set "tables[1].dim=$blind_dim"
  for s in "${scenarios[@]}"; do
    run "$config" "$name-only-$s" --set model.scenarios.topology=blind --set "tables[1].dim=$blind_dim" --set "data.only_scenario=$s"
  done
  python3 - "$out" "$name" "${SEEDS:-}" "${scenarios[@]}" <<'PY' | tee "$out/$name.md"
import json, statistics, sys
out, name, seeds, scenarios = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
def runs(tag):  # the chosen run, then the same settings with other seeds
    return [json.load(open(f"{out}/{name}-{tag}.json"))] + [json.load(open(f"{out}/{name}-{tag}-seed{s}.json")) for s in seeds]
def ndcg(summary, sc, per_scenario):
    return summary["test"]["ndcg@10"] if per_scenario else summary["testByPart"][f"test/{sc}"]["ndcg@10"]
rows = {}
for tag in ["star", "mmoe", "blind"]:
    rows[tag] = {sc: [ndcg(s, sc, False) for s in runs(tag)] for sc in scenarios}
rows["per-scenario"] = {sc: [ndcg(s, sc, True) for s in runs(f"only-{sc}")] for sc in scenarios}
pop = runs("star")[0]["popularityByPart"]
rows["popularity"] = {sc: [pop[f"test/{sc}"]["ndcg@10"]] for sc in scenarios}
def cell(values):
    m = statistics.mean(values)
    return f"{m:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{m:.4f}"
runs_note = f" (mean ± sd over {1 + len(seeds)} training seeds)" if seeds else ""
print(f"| {name}: test NDCG@10{runs_note} | " + " | ".join(scenarios) + " | mean |")
print("|---|" + "---|" * (len(scenarios) + 1))
for tag, r in rows.items():
    per_seed_means = [statistics.mean(r[sc][i] for sc in scenarios) for i in range(len(r[scenarios[0]]))]
    print(f"| {tag} | " + " | ".join(cell(r[sc]) for sc in scenarios) + f" | {cell(per_seed_means)} |")
PY
}

if [ "$which" = all ] || [ "$which" = synthetic ]; then
  grid=$grid_synthetic compare synthetic Cluster/synthetic-scenarios.yaml 16 scenario-0 scenario-1 scenario-2
fi
if [ "$which" = all ] || [ "$which" = movielens ]; then
  grid=$grid_movielens compare movielens Cluster/movielens-scenarios.yaml 32 action comedy drama
fi
