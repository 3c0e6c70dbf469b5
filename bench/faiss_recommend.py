#!/usr/bin/env python3
"""Baseline: faiss-cpu ``IndexFlatIP`` exact top-k retrieval latency, in-process.

The baseline side of the retrieval-latency benchmark (EVALUATION.md: "faiss-cpu
IndexFlatIP for exact top-K retrieval latency, beside Tessera's Recommend over
gRPC"). It reads exactly the item and query vectors that
``tessera bench recommend --export-vectors DIR`` writes and serves, and measures
exact maximum-inner-product top-k search with faiss in this Python process (no RPC,
no serialization: a floor for what a network service can reach).

Usage (from the repository root; pinned deps in bench/requirements-faiss.txt)::

    python3.11 -m venv /tmp/faiss-venv
    /tmp/faiss-venv/bin/pip install -r bench/requirements-faiss.txt
    /tmp/faiss-venv/bin/python bench/faiss_recommend.py --vectors DIR \\
        [--k 10] [--threads 1|2|1,2] [--warmup 200] [--max-queries N] \\
        [--batch-repeats 3] [--json OUT]

    # random vectors for development (same layout as the export):
    /tmp/faiss-venv/bin/python bench/faiss_recommend.py --make-random DIR \\
        --n-items 100000 --n-queries 2000 --dim 64 [--seed 0]

Input DIR:

* ``items.f32``   little-endian float32, row-major, n_items x dim;
* ``queries.f32`` little-endian float32, row-major, n_queries x dim;
* ``meta.json``   ``{"items": n_items, "queries": n_queries, "dim": dim, "k": 10}``.

Item i is row i of items.f32 (0-based); the reported top-k indices are these row
numbers. ``--k`` defaults to meta.json's k (10 if absent).

What is measured, per thread count:

* build: ``faiss.IndexFlatIP(dim)`` + ``index.add(items)`` wall time (a copy of the
  rows into the index; there is no training for a flat index).
* latency: ``--warmup`` single-query searches (queries cycled from the start, not
  timed), then one ``index.search(q, k)`` per query with q of shape (1, dim) --
  batch size 1, one request in flight, as an online Recommend call -- for the first
  ``--max-queries`` queries in file order (0 = all). Each call is timed with
  ``time.perf_counter_ns()`` and includes the Python/SWIG call overhead and the
  allocation of the (1, k) result arrays, nothing else. Reported: p50, p90, p99,
  mean, min, max in ms (percentiles by linear interpolation, numpy's default) and
  QPS = 1 / mean.
* batch (secondary): the same queries in one ``index.search(Q, k)`` call, repeated
  ``--batch-repeats`` times; queries/s from the median repeat. faiss (1.15) uses its
  BLAS (sgemm) path when n_queries * dim >= ``distance_compute_blas_threshold``
  (128000: e.g. 2000 queries at dim 64), else the same SIMD scan as single queries;
  the JSON records which one applies (``batch.kernel``).
* checks: the top-k of every measured query from the single-query runs against the
  batch call (set agreement; exact search may differ only on near-ties), and the
  first queries against a plain numpy ``items @ q`` ranking.

Threads: ``--threads 1,2`` runs one child process per thread count, each with
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS set before numpy and faiss
are imported and ``faiss.omp_set_num_threads(n)`` called, so the OpenMP and BLAS
pools of one setting never leak into another. Note (faiss 1.15): with 1 thread a
single query is a sequential SIMD scan; with threads >= 2 and
n_items >= max(10000, threads * 1024) faiss switches single queries to a
database-parallel path (each thread runs sgemm on 1024-row blocks, then the
per-thread heaps are merged). On this project's 2-vCPU machines that path is
slower than 1 thread (2x to 10x in our runs, varying from run to run), so
threads=1 is the baseline to quote for batch-size-1 latency; 2 threads is reported
for completeness (the batch figure does gain from it). The JSON records
``single_query_kernel`` accordingly.

Output: one line per (threads, mode) setting on stdout, the top-k of the first 5
queries (``--show-topk``), and with ``--json`` all numbers, versions (faiss, numpy,
python, faiss SIMD level), the machine (cpu model, cpu count, affinity, load average
at start and end of each run), the input sizes and the top-k lists.

This is a benchmark baseline only; faiss is never a dependency of Tessera.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="faiss IndexFlatIP exact top-k latency on Tessera's exported vectors"
    )
    p.add_argument("--vectors", help="directory with items.f32, queries.f32, meta.json")
    p.add_argument("--k", type=int, default=None, help="top-k (default: meta.json k, else 10)")
    p.add_argument(
        "--threads",
        default="1",
        help="OpenMP/BLAS threads; a comma list (e.g. 1,2) runs one child process per value",
    )
    p.add_argument("--warmup", type=int, default=200, help="untimed single-query searches first")
    p.add_argument(
        "--max-queries",
        type=int,
        default=0,
        help="measure only the first N queries (0 = all); also the batch size",
    )
    p.add_argument("--batch-repeats", type=int, default=3, help="repeats of the batch search")
    p.add_argument("--show-topk", type=int, default=5, help="print/record top-k of the first N queries")
    p.add_argument(
        "--check-numpy",
        type=int,
        default=5,
        help="check the first N queries' top-k against a numpy ranking (0 = off)",
    )
    p.add_argument("--json", dest="json_out", help="write all results to this JSON file")
    p.add_argument("--quiet", action="store_true", help="only the per-setting lines")
    # Development helper: write random vectors in the export layout.
    p.add_argument("--make-random", metavar="DIR", help="write random normal vectors to DIR and exit")
    p.add_argument("--n-items", type=int, default=100_000)
    p.add_argument("--n-queries", type=int, default=2000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.make_random and not args.vectors:
        p.error("--vectors DIR is required (or --make-random DIR)")
    try:
        args.thread_list = [int(t) for t in str(args.threads).split(",") if t.strip()]
    except ValueError:
        p.error("--threads takes an integer or a comma list of integers")
    if not args.thread_list or min(args.thread_list) < 1:
        p.error("--threads values must be >= 1")
    return args


def set_thread_env(n: int) -> None:
    # Must run before numpy / faiss are first imported (their BLAS and OpenMP
    # runtimes read these once, at load).
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)


def make_random(args) -> None:
    set_thread_env(1)
    import numpy as np

    os.makedirs(args.make_random, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    items = rng.standard_normal((args.n_items, args.dim), dtype=np.float32)
    queries = rng.standard_normal((args.n_queries, args.dim), dtype=np.float32)
    items.astype("<f4").tofile(os.path.join(args.make_random, "items.f32"))
    queries.astype("<f4").tofile(os.path.join(args.make_random, "queries.f32"))
    meta = {"items": args.n_items, "queries": args.n_queries, "dim": args.dim, "k": args.k or 10}
    with open(os.path.join(args.make_random, "meta.json"), "w") as f:
        json.dump(meta, f)
        f.write("\n")
    print(
        f"wrote {args.make_random}: {args.n_items} items, {args.n_queries} queries, "
        f"dim {args.dim}, standard normal float32, seed {args.seed}"
    )


def machine_info() -> dict:
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def load_vectors(vdir: str):
    import numpy as np

    for name in ("meta.json", "items.f32", "queries.f32"):
        if not os.path.isfile(os.path.join(vdir, name)):
            raise SystemExit(f"{vdir}: missing {name} (expected tessera bench recommend --export-vectors output)")
    with open(os.path.join(vdir, "meta.json")) as f:
        meta = json.load(f)
    n_items, n_queries, dim = int(meta["items"]), int(meta["queries"]), int(meta["dim"])

    def read(name, rows):
        path = os.path.join(vdir, name)
        expected = rows * dim * 4
        size = os.path.getsize(path)
        if size != expected:
            raise SystemExit(
                f"{path}: {size} bytes, expected {rows} x {dim} x 4 = {expected} (meta.json)"
            )
        a = np.fromfile(path, dtype="<f4").reshape(rows, dim)
        # faiss wants native float32, C-contiguous.
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.isfinite(a).all():
            raise SystemExit(f"{path}: contains NaN or Inf")
        return a

    return meta, read("items.f32", n_items), read("queries.f32", n_queries)


def summarize_ns(ns) -> dict:
    import numpy as np

    ms = np.asarray(ns, dtype=np.float64) / 1e6
    mean = float(ms.mean())
    return {
        "n": int(ms.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": mean,
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
        "qps": 1000.0 / mean if mean > 0 else None,
    }


def run_one(args, threads: int) -> dict:
    """Everything for one thread count, in this process (env already set)."""
    load_start = os.getloadavg()
    t_wall0 = time.perf_counter()

    import numpy as np
    import faiss

    faiss.omp_set_num_threads(threads)
    meta, items, queries = load_vectors(args.vectors)
    n_items, dim = items.shape
    k = args.k if args.k is not None else int(meta.get("k", 10))
    if not 1 <= k <= n_items:
        raise SystemExit(f"k={k} must be in 1..{n_items}")
    m = queries.shape[0] if args.max_queries <= 0 else min(args.max_queries, queries.shape[0])
    if m == 0:
        raise SystemExit("no queries")
    qs = queries[:m]

    # Build.
    t0 = time.perf_counter_ns()
    index = faiss.IndexFlatIP(dim)
    index.add(items)
    build_ns = time.perf_counter_ns() - t0

    # Single-query latency. Views made up front so the timed region is the call only.
    rows = [qs[i : i + 1] for i in range(m)]
    for w in range(args.warmup):
        index.search(queries[(w % queries.shape[0]) : (w % queries.shape[0]) + 1], k)
    lat_ns = np.empty(m, dtype=np.int64)
    single_I = np.empty((m, k), dtype=np.int64)
    single_D = np.empty((m, k), dtype=np.float32)
    clock = time.perf_counter_ns
    search = index.search
    t_loop0 = time.perf_counter()
    for i in range(m):
        q = rows[i]
        t0 = clock()
        D, I = search(q, k)
        t1 = clock()
        lat_ns[i] = t1 - t0
        single_I[i] = I[0]
        single_D[i] = D[0]
    loop_s = time.perf_counter() - t_loop0
    latency = summarize_ns(lat_ns)
    latency["loop_wall_s"] = loop_s

    # Batch throughput (BLAS path for >= 20 queries).
    batch_s = []
    batch_I = None
    for _ in range(max(1, args.batch_repeats)):
        t0 = time.perf_counter_ns()
        bD, bI = index.search(qs, k)
        batch_s.append((time.perf_counter_ns() - t0) / 1e9)
        batch_I = bI
    batch_med = float(np.median(batch_s))
    blas_threshold = int(faiss.cvar.distance_compute_blas_threshold)
    batch = {
        "kernel": "blas" if m * dim >= blas_threshold else "simd_scan",
        "blas_threshold": blas_threshold,
        "queries": m,
        "repeats": len(batch_s),
        "seconds": batch_s,
        "median_s": batch_med,
        "qps": m / batch_med if batch_med > 0 else None,
    }

    # Agreement single vs batch (set equality of the top-k, order ignored).
    same_set = sum(
        1 for i in range(m) if set(single_I[i].tolist()) == set(batch_I[i].tolist())
    )
    same_order = int((single_I == batch_I).all(axis=1).sum())

    # numpy reference for the first few queries.
    numpy_check = []
    for i in range(min(args.check_numpy, m)):
        scores = items @ qs[i]
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        kth = scores[top[-1]]
        # Exact search may differ from numpy only on items tied (within float
        # rounding) with the k-th score.
        tol = 1e-4 * max(1.0, abs(float(kth)))
        faiss_scores = scores[single_I[i]]
        ok = bool(
            (faiss_scores >= kth - tol).all()
            and set(single_I[i].tolist()) >= {int(j) for j in top if scores[j] > kth + tol}
        )
        numpy_check.append(
            {"query": i, "agrees": ok, "same_set": set(single_I[i].tolist()) == set(top.tolist())}
        )

    show = min(args.show_topk, m)
    topk = [
        {"query": i, "items": single_I[i].tolist(), "scores": [float(x) for x in single_D[i]]}
        for i in range(show)
    ]

    try:
        simd = faiss.SIMDConfig.get_level_name()
    except Exception:  # older faiss
        simd = None
    try:
        from threadpoolctl import threadpool_info  # optional, not pinned

        pools = [
            {k2: d.get(k2) for k2 in ("user_api", "internal_api", "num_threads", "version", "filepath")}
            for d in threadpool_info()
        ]
    except Exception:
        pools = None

    db_parallel = threads > 1 and n_items >= max(10000, threads * 1024)
    return {
        "threads": threads,
        "single_query_kernel": "db_parallel_sgemm" if db_parallel else "simd_scan",
        "faiss_omp_max_threads": faiss.omp_get_max_threads(),
        "env": {v: os.environ.get(v) for v in THREAD_ENV_VARS + ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "FAISS_OPT_LEVEL")},
        "input": {
            "vectors": os.path.abspath(args.vectors),
            "items": int(n_items),
            "queries_in_file": int(queries.shape[0]),
            "queries_measured": int(m),
            "dim": int(dim),
            "k": int(k),
            "warmup": int(args.warmup),
            "meta": meta,
        },
        "build": {"seconds": build_ns / 1e9, "items_per_s": n_items / (build_ns / 1e9) if build_ns else None},
        "latency": latency,
        "batch": batch,
        "agreement": {
            "single_vs_batch_same_set": same_set,
            "single_vs_batch_same_order": same_order,
            "queries": m,
            "numpy_check": numpy_check,
        },
        "topk_first_queries": topk,
        "versions": {
            "faiss": faiss.__version__,
            "faiss_compile_options": faiss.get_compile_options(),
            "faiss_simd_level": simd,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "threadpools": pools,
        },
        "machine": machine_info(),
        "loadavg_start": list(load_start),
        "loadavg_end": list(os.getloadavg()),
        "wall_s": time.perf_counter() - t_wall0,
    }


def setting_lines(r: dict) -> list[str]:
    inp, lat, b = r["input"], r["latency"], r["batch"]
    head = f"faiss IndexFlatIP items={inp['items']} dim={inp['dim']} k={inp['k']} threads={r['threads']}"
    return [
        f"{head} mode=single  n={lat['n']} p50={lat['p50_ms']:.3f}ms p90={lat['p90_ms']:.3f}ms "
        f"p99={lat['p99_ms']:.3f}ms mean={lat['mean_ms']:.3f}ms qps={lat['qps']:.1f} "
        f"build={r['build']['seconds']:.3f}s kernel={r['single_query_kernel']}",
        f"{head} mode=batch   n={b['queries']} median={b['median_s']:.3f}s qps={b['qps']:.1f} "
        f"(repeats={b['repeats']}) kernel={b['kernel']}",
    ]


def print_details(r: dict) -> None:
    a = r["agreement"]
    ld = ", ".join(f"{x:.2f}" for x in r["loadavg_start"][:1] + r["loadavg_end"][:1])
    print(
        f"  versions: faiss {r['versions']['faiss']} ({r['versions']['faiss_simd_level']}), "
        f"numpy {r['versions']['numpy']}, python {r['versions']['python']}; "
        f"cpus {r['machine']['cpu_count']}, load 1m start/end {ld}"
    )
    nc = a["numpy_check"]
    print(
        f"  agreement: single vs batch same top-{r['input']['k']} set {a['single_vs_batch_same_set']}/{a['queries']}, "
        f"same order {a['single_vs_batch_same_order']}/{a['queries']}; "
        f"numpy check {sum(c['agrees'] for c in nc)}/{len(nc)} agree"
    )
    for t in r["topk_first_queries"]:
        print(f"  top{r['input']['k']} q{t['query']}: {' '.join(map(str, t['items']))}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.make_random:
        make_random(args)
        return 0

    if len(args.thread_list) == 1:
        threads = args.thread_list[0]
        set_thread_env(threads)
        r = run_one(args, threads)
        for line in setting_lines(r):
            print(line, flush=True)
        if not args.quiet and not args._child:
            print_details(r)
        if args.json_out:
            payload = r if args._child else {"benchmark": "faiss_flat_ip_recommend", "runs": [r]}
            with open(args.json_out, "w") as f:
                json.dump(payload, f, indent=2)
                f.write("\n")
        return 0

    # Several thread counts: one fresh child process each.
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.thread_list:
            out = os.path.join(tmp, f"t{threads}.json")
            cmd = [sys.executable, os.path.abspath(__file__), "--_child", "--quiet"]
            cmd += ["--vectors", args.vectors, "--threads", str(threads)]
            cmd += ["--warmup", str(args.warmup), "--max-queries", str(args.max_queries)]
            cmd += ["--batch-repeats", str(args.batch_repeats), "--show-topk", str(args.show_topk)]
            cmd += ["--check-numpy", str(args.check_numpy), "--json", out]
            if args.k is not None:
                cmd += ["--k", str(args.k)]
            env = dict(os.environ)
            for var in THREAD_ENV_VARS:
                env[var] = str(threads)
            subprocess.run(cmd, check=True, env=env)
            with open(out) as f:
                runs.append(json.load(f))
    if not args.quiet:
        print_details(runs[0])
        for r in runs[1:]:
            if [t["items"] for t in r["topk_first_queries"]] != [
                t["items"] for t in runs[0]["topk_first_queries"]
            ]:
                print(f"  note: threads={r['threads']} top-k of the first queries differs from threads={runs[0]['threads']}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"benchmark": "faiss_flat_ip_recommend", "runs": runs}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
