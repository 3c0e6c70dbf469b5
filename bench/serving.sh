#!/usr/bin/env bash
# Online-serving benchmarks, each beside its baseline in the same run:
#   1. Recommend latency (p50/p99, one request in flight) and QPS over gRPC, top-10, dim 64,
#      at 10^4, 10^5 and 10^6 items on 2 shards, beside faiss-cpu IndexFlatIP exact search
#      in-process on the same vectors (bench/faiss_recommend.py);
#   2. freshness: Feedback click -> first Recommend answer reflecting it, with offline training running;
#   3. feedback ingest: acknowledged events/s with fsync'd group commits, and without fsync;
#   4. exploration: tessera simulate (regret of greedy, epsilon-greedy, UCB, Thompson; replay estimates).
#
#   bench/serving.sh [OUT_DIR]      (default bench/out/serving; about 25 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/serving}
tessera=.build/release/tessera
mkdir -p "$out"
[ -x "$tessera" ] || make release
out=$(cd "$out" && pwd)

echo "== Recommend latency (Tessera over gRPC) and faiss IndexFlatIP (in-process), same vectors"
$tessera bench recommend --items 10000,100000,1000000 --shards 2 --dim 64 -k 10 --queries 2000 \
  --concurrency 8 --seconds 5 --export-vectors "$out/vectors" --json "$out/recommend.json" --log-level warning \
  | tee "$out/recommend.txt"
if [ ! -x "$out/faiss-venv/bin/python" ]; then
  python3 -m venv "$out/faiss-venv"
  "$out/faiss-venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements-faiss.txt
fi
for n in 10000 100000 1000000; do
  "$out/faiss-venv/bin/python" bench/faiss_recommend.py --vectors "$out/vectors/$n" --k 10 --threads 1 \
    --json "$out/faiss-$n.json" | tee -a "$out/faiss.txt"
  # Exact search must agree with Tessera's top-10 (up to ties) on the same vectors.
  python3 - "$out/vectors/$n/tessera_top10.json" "$out/faiss-$n.json" <<'PY'
import json, sys
tessera = json.load(open(sys.argv[1]))
exact = [query["items"] for query in json.load(open(sys.argv[2]))["runs"][0]["topk_first_queries"]]
same = sum(1 for a, b in zip(tessera, exact) if set(a) == set(b))
print(f"top-10 agreement of Tessera with exact search on the first {len(tessera)} queries: {same}/{len(tessera)}")
PY
done

echo "== Freshness under training load"
$tessera bench freshness Cluster/online.yaml --set training.epochs=100000 --set training.patience=0 \
  --set scheduler.port=0 --samples 300 --json "$out/freshness.json" --log-level warning | tee "$out/freshness.txt"

echo "== Feedback ingest"
for fsync in true false; do
  $tessera bench ingest Cluster/online.yaml --set online.fsync=$fsync --set training.epochs=1 --set scheduler.port=0 \
    --concurrency 64 --seconds 10 --json "$out/ingest-fsync-$fsync.json" --log-level warning | tee -a "$out/ingest.txt"
done

echo "== Exploration: regret and replay"
$tessera simulate Cluster/simulate.yaml --rounds 2000 --replay-events 3000 --json "$out/simulate.json" \
  --run-dir "$out/simulate-runs" | tee "$out/simulate.txt"
$tessera simulate Cluster/simulate.yaml --rounds 2000 --new-item-boost 0 --json "$out/simulate-no-boost.json" \
  --run-dir "$out/simulate-runs-no-boost" | tee "$out/simulate-no-boost.txt"
