#!/usr/bin/env python3
"""Baseline: the `implicit` library's BPR on a split written by `tessera split`.

Trains implicit's CPU BPR (``implicit.cpu.bpr.BayesianPersonalizedRanking``) on
``train.csv``, tunes learning rate x regularization x iterations on ``valid.csv``
by NDCG@K, retrains the best configuration on train only, and writes its test
recommendations in Tessera's recommendations-file format, so that ``tessera eval``
judges this baseline and Tessera with the same metric code. It also measures
implicit's training throughput (examples/s).

Usage (from the repository root; see bench/requirements.txt for the pinned deps)::

    python3.11 -m venv /tmp/implicit-venv
    /tmp/implicit-venv/bin/pip install -r bench/requirements.txt
    /tmp/implicit-venv/bin/python bench/implicit_bpr.py --split SPLIT_DIR --out OUT_DIR \\
        [--factors 64] [--k 10] [--grid quick|full] [--threads N] [--seed S] \\
        [--json OUT_DIR/implicit_bpr.json] [--repeats 3] [--no-single-thread]

Input: SPLIT_DIR/{train,valid,test}.csv with header ``user,item,rating,timestamp``
(columns found by name; ids kept as raw strings). Every row is a positive
(implicit feedback; rating and timestamp are ignored; repeated (user, item) pairs
count once).

Outputs in OUT_DIR:

* ``implicit_test_recs.txt``: for every user with >= 1 test item, K lines
  ``user rank item score`` (raw ids, rank 1..K, single spaces). Candidates are the
  item universe (every item of train, valid or test) minus the user's train and
  valid items (RecBole's full-ranking protocol). Users in the order of their first
  row in train, valid, test; scores printed with 6 significant digits. A user with
  fewer than K unmasked items gets only that many lines.
* ``implicit_valid_recs.txt``: the same for users with >= 1 valid item, masking
  train items only (the tuning protocol), for cross-checking the validation score.
* with ``--json PATH``: a summary (best params, validation NDCG/Recall per grid
  point, the script's own test metrics, fit seconds, examples/s, versions).

The script also prints a popularity baseline (train counts, same masks) as a floor,
and checks implicit's top-K against a plain numpy ranking for up to 200 users.

Metrics computed here (for tuning and as a sanity cross-check only; the official
numbers come from ``tessera eval``): binary relevance, relevant set = the user's
distinct held-out items; Recall@K = hits / |relevant|; NDCG@K = DCG / IDCG with
DCG = sum over hit ranks r <= K of 1/log2(r+1) and IDCG over min(|relevant|, K)
ranks; averaged over users with >= 1 held-out item. A held-out item that is also
masked still counts in |relevant| (RecBole's convention, as in Tessera's
``EvaluationSet``).

Tuning: for each (learning_rate, regularization) one model is fitted for the
largest iteration count of the grid, and validation is scored from implicit's
per-epoch ``callback`` after each smaller iteration count. implicit's learning rate
is constant and its RNG stream does not depend on ``iterations``, so the model
after epoch n of a longer fit is the model a fit with ``iterations=n`` gives (up to
the Hogwild thread nondeterminism noted below). Grids:

* quick: lr {0.0025, 0.005, 0.01} x reg {0.001, 0.01} x iterations {50, 100, 200, 400}
* full:  lr {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1} x
  reg {0.0001, 0.001, 0.01, 0.03} x iterations {25, 50, 100, 200, 400, 800}
* ``--lrs/--regs/--iters a,b,c`` replace one axis of the chosen grid.

On ml-latest-small, validation NDCG@10 peaks near lr x iterations ~ 0.5-1 and then
falls as BPR overfits (train AUC -> 0.99); lr >= 0.025 is past the peak by epoch 50.
Differences between the top points (~0.003) are about the size of seed-to-seed
variation, so the chosen point is one of a plateau rather than a sharp optimum.

factors stays at ``--factors`` (64). The final model is a fresh fit of the best
configuration on train only (valid is used only for tuning, as on the Tessera side).

Throughput: examples/s = train interactions (distinct (user, item) pairs in train)
x iterations / fit wall time, timed with ``time.perf_counter()`` around ``fit`` only
(no callback, no progress bar), median over ``--repeats`` fresh fits of the best
configuration with ``--threads`` threads, and again with 1 thread unless
``--no-single-thread``.

What implicit's BPR does (checked against implicit 0.7.x ``cpu/bpr.pyx``):

* ``fit`` takes the **user x item** CSR matrix (implicit >= 0.5; before 0.5 it took
  item x user). Values are ignored: any stored entry is a positive.
* Factors: it allocates ``factors + 1`` columns; the last is a bias term: fixed at
  1.0 for users and learned per item (an item bias). So ``--factors 64`` means 64
  latent dimensions plus an item bias; ``model.user_factors`` has 65 columns.
  Initialisation is uniform (-0.5, 0.5) / factors.
* Sampling: each epoch draws exactly nnz(train) samples, each a *uniformly random
  training interaction with replacement* (user and positive item), not a pass over
  every interaction once. The negative is the item of another uniformly random
  training interaction, i.e. negatives are drawn in proportion to item popularity,
  not uniformly over items. With ``verify_negative_samples=True`` (the default,
  kept here) a negative the user has liked is skipped (no update, still counted in
  the nnz samples). So "examples" above = sampled (user, pos, neg) triples,
  including the skipped ones; the skipped share is reported per grid point.
* Updates are lock-free SGD (Hogwild) across OpenMP threads; each thread has its
  own mt19937 seeded from ``random_state``. With more than 1 thread, results are
  not bit-reproducible, and they differ between thread counts.
* Items without train interactions keep all-zero factors (score exactly 0 for
  every user; they are never sampled as negatives). Users without train rows
  get zero factors with bias column 1, i.e. they are ranked by item bias.
* ``recommend(userids, user_items[userids], N, filter_already_liked_items=True)``
  needs ``user_items`` to have exactly one row per requested user (not the whole
  matrix); masked items get score -FLT_MAX.

OPENBLAS_NUM_THREADS defaults to 1 here (implicit's recommendation; BLAS is used
only to score users x items for recommendation, and implicit parallelises that
over user batches itself). BPR training does not use BLAS.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import implicit  # noqa: E402
from implicit.cpu.bpr import BayesianPersonalizedRanking  # noqa: E402

GRIDS = {
    # ~1 min on ml-latest-small with 2 cores: 6 fits of 400 epochs.
    "quick": {
        "learning_rate": [0.0025, 0.005, 0.01],
        "regularization": [0.001, 0.01],
        "iterations": [50, 100, 200, 400],
    },
    # 28 fits of 800 epochs. Includes the lr 0.01-0.1 x reg 1e-4-1e-2 x 50-400
    # region, but on ml-latest-small the best points have lr*iterations ~ 0.5-1
    # (lr 0.001-0.01); larger rates overfit within 50 epochs.
    "full": {
        "learning_rate": [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
        "regularization": [0.0001, 0.001, 0.01, 0.03],
        "iterations": [25, 50, 100, 200, 400, 800],
    },
}

NEG_MAX32 = -np.finfo(np.float32).max


def log(message):
    print(message, flush=True)


# ----------------------------------------------------------------------------- data


def read_pairs(path):
    """(user, item) raw-id string pairs of one split file, in file order."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SystemExit(f"{path}: empty file (expected a header user,item,rating,timestamp)")
        try:
            u_col, i_col = header.index("user"), header.index("item")
        except ValueError:
            raise SystemExit(f"{path}: header {header} lacks 'user' and 'item' columns")
        pairs = []
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= max(u_col, i_col):
                raise SystemExit(f"{path}:{line_no}: too few fields: {row}")
            pairs.append((row[u_col].strip(), row[i_col].strip()))
    return pairs


class Split:
    """Dense indices over the user and item universes of train ∪ valid ∪ test."""

    def __init__(self, split_dir):
        self.parts = {}
        for name in ("train", "valid", "test"):
            path = os.path.join(split_dir, f"{name}.csv")
            if not os.path.exists(path):
                raise SystemExit(f"missing {path}")
            self.parts[name] = read_pairs(path)

        self.user_ids, self.item_ids = [], []
        self.user_index, self.item_index = {}, {}
        for name in ("train", "valid", "test"):
            for u, i in self.parts[name]:
                if u not in self.user_index:
                    self.user_index[u] = len(self.user_ids)
                    self.user_ids.append(u)
                if i not in self.item_index:
                    self.item_index[i] = len(self.item_ids)
                    self.item_ids.append(i)
        self.n_users, self.n_items = len(self.user_ids), len(self.item_ids)

        self.train = self.matrix("train")
        self.valid = self.matrix("valid")
        self.test = self.matrix("test")
        # Test-time mask: train ∪ valid, binary.
        self.train_valid = binarize(self.train + self.valid)
        train_items = np.diff(self.train.tocsc().indptr) > 0
        self.items_not_in_train = int(self.n_items - train_items.sum())

    def matrix(self, name):
        pairs = self.parts[name]
        rows = np.fromiter((self.user_index[u] for u, _ in pairs), dtype=np.int32, count=len(pairs))
        cols = np.fromiter((self.item_index[i] for _, i in pairs), dtype=np.int32, count=len(pairs))
        m = sp.csr_matrix(
            (np.ones(len(pairs), dtype=np.float32), (rows, cols)),
            shape=(self.n_users, self.n_items),
        )
        return binarize(m)

    def held_out(self, matrix):
        """Users with >= 1 held-out item (in order of first appearance in the
        universe) and each one's set of relevant dense item indices."""
        counts = np.diff(matrix.indptr)
        users = np.flatnonzero(counts > 0).astype(np.int32)
        relevant = [set(matrix.indices[matrix.indptr[u]:matrix.indptr[u + 1]].tolist()) for u in users]
        return users, relevant


def binarize(m):
    """CSR with duplicates summed, values set to 1, sorted indices, no explicit zeros."""
    m = sp.csr_matrix(m, dtype=np.float32)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.data[:] = 1.0
    m.sort_indices()
    return m


# -------------------------------------------------------------------------- metrics


def rank_metrics(rec_ids, relevant, k):
    """Mean Recall@k and NDCG@k over users; rec_ids[u] is a ranked list of dense
    item ids (masked entries already removed), relevant[u] a non-empty set."""
    discounts = [1.0 / math.log2(r + 1) for r in range(1, k + 1)]
    idcg_prefix = np.cumsum(discounts)
    recall_sum = ndcg_sum = 0.0
    for ranked, rel in zip(rec_ids, relevant):
        seen, hits, dcg = set(), 0, 0.0
        for offset, item in enumerate(ranked[:k]):
            if item in rel and item not in seen:
                seen.add(item)
                hits += 1
                dcg += discounts[offset]
        recall_sum += hits / len(rel)
        ndcg_sum += dcg / idcg_prefix[min(len(rel), k) - 1]
    n = len(relevant)
    return {"users": n, f"recall@{k}": recall_sum / n if n else 0.0, f"ndcg@{k}": ndcg_sum / n if n else 0.0}


def recommend(model, users, mask, k):
    """Top-k dense item ids and scores per user, masked items excluded."""
    if len(users) == 0:
        return [], []
    ids, scores = model.recommend(users, mask[users], N=k, filter_already_liked_items=True)
    out_ids, out_scores = [], []
    for row_ids, row_scores in zip(ids, scores):
        # Only when fewer than k items are unmasked does implicit pad with masked
        # items (score -FLT_MAX); drop those.
        keep = row_scores > NEG_MAX32
        out_ids.append(row_ids[keep].tolist())
        out_scores.append(row_scores[keep].tolist())
    return out_ids, out_scores


def check_against_numpy(model, users, mask, rec_ids, k, sample=200):
    """Sanity check of implicit's recommend: same top-k scores as a plain numpy
    ranking on a sample of users. Returns the number of mismatching users."""
    users = users[:sample]
    scores = model.user_factors[users] @ model.item_factors.T
    bad = 0
    for row, u in enumerate(users):
        s = scores[row].astype(np.float64)
        s[mask.indices[mask.indptr[u]:mask.indptr[u + 1]]] = -np.inf
        top = np.sort(s[np.isfinite(s)])[::-1][:k]
        got = np.sort(s[rec_ids[row]])[::-1]
        if len(got) != len(top) or not np.allclose(got, top, rtol=1e-4, atol=1e-5):
            bad += 1
    return bad


def write_recs(path, split, users, rec_ids, rec_scores):
    with open(path, "w") as f:
        for u, ids, scores in zip(users, rec_ids, rec_scores):
            user = split.user_ids[u]
            for rank, (item, score) in enumerate(zip(ids, scores), start=1):
                f.write(f"{user} {rank} {split.item_ids[item]} {score:.6g}\n")


# ------------------------------------------------------------------------- training


def make_model(factors, lr, reg, iterations, threads, seed):
    return BayesianPersonalizedRanking(
        factors=factors,
        learning_rate=lr,
        regularization=reg,
        iterations=iterations,
        num_threads=threads,
        verify_negative_samples=True,
        random_state=seed,
        dtype=np.float32,
    )


def factors_finite(model):
    return bool(np.isfinite(model.user_factors).all() and np.isfinite(model.item_factors).all())


def run_grid(split, grid, args):
    val_users, val_relevant = split.held_out(split.valid)
    nnz = split.train.nnz
    checkpoints = sorted(set(grid["iterations"]))
    points = []
    total = len(grid["learning_rate"]) * len(grid["regularization"]) * len(checkpoints)
    log(f"grid {args.grid}: {total} points ({len(grid['learning_rate']) * len(grid['regularization'])} fits "
        f"of {checkpoints[-1]} epochs, scored after epochs {checkpoints})")
    for lr in grid["learning_rate"]:
        for reg in grid["regularization"]:
            model = make_model(args.factors, lr, reg, checkpoints[-1], args.threads, args.seed)
            state = {"fit_seconds": 0.0}

            def callback(epoch, elapsed, correct, skipped, model=model, lr=lr, reg=reg, state=state):
                state["fit_seconds"] += elapsed
                done = epoch + 1
                if done not in checkpoints:
                    return
                point = {
                    "learning_rate": lr,
                    "regularization": reg,
                    "iterations": done,
                    "fit_seconds": round(state["fit_seconds"], 4),
                    "train_auc_last_epoch": round(correct / max(nnz - skipped, 1), 4),
                    "skipped_share_last_epoch": round(skipped / max(nnz, 1), 4),
                }
                if factors_finite(model):
                    ids, _ = recommend(model, val_users, split.train, args.k)
                    m = rank_metrics(ids, val_relevant, args.k)
                    point["valid_ndcg"] = m[f"ndcg@{args.k}"]
                    point["valid_recall"] = m[f"recall@{args.k}"]
                else:
                    point["valid_ndcg"] = point["valid_recall"] = None
                points.append(point)
                ndcg = "diverged (non-finite factors)" if point["valid_ndcg"] is None else \
                    f"valid ndcg@{args.k}={point['valid_ndcg']:.4f} recall@{args.k}={point['valid_recall']:.4f}"
                log(f"  [{len(points):>2}/{total}] lr={lr:<6g} reg={reg:<7g} it={done:<4} {ndcg} "
                    f"train_auc={point['train_auc_last_epoch']:.3f} skipped={point['skipped_share_last_epoch']:.3f} "
                    f"fit={point['fit_seconds']:.2f}s")

            try:
                model.fit(split.train, show_progress=False, callback=callback)
            except Exception as error:  # implicit raises ModelFitError on NaN factors
                log(f"  lr={lr:g} reg={reg:g}: fit stopped: {type(error).__name__}: {error}")
                # Checkpoints not reached count as diverged.
                reached = {p["iterations"] for p in points if p["learning_rate"] == lr and p["regularization"] == reg}
                for it in checkpoints:
                    if it not in reached:
                        points.append({"learning_rate": lr, "regularization": reg, "iterations": it,
                                       "valid_ndcg": None, "valid_recall": None})
    return points


def timed_fits(split, best, threads, repeats, args):
    """Median fit wall time over `repeats` fresh fits; returns (times, first model)."""
    times, first = [], None
    for _ in range(repeats):
        model = make_model(args.factors, best["learning_rate"], best["regularization"],
                           best["iterations"], threads, args.seed)
        start = time.perf_counter()
        model.fit(split.train, show_progress=False)
        times.append(time.perf_counter() - start)
        if first is None:
            first = model
    return times, first


def throughput(times, nnz, iterations, threads):
    median = statistics.median(times)
    return {
        "threads": threads,
        "fit_seconds": [round(t, 4) for t in times],
        "fit_seconds_median": round(median, 4),
        "examples": nnz * iterations,
        "examples_per_s": round(nnz * iterations / median, 1),
    }


# ----------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", required=True, help="directory with train.csv, valid.csv, test.csv")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--factors", type=int, default=64, help="latent dimensions (implicit adds 1 bias column)")
    parser.add_argument("--k", type=int, default=10, help="list length and metric cut-off")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="quick")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for fit and recommend (default: all cores)")
    parser.add_argument("--seed", type=int, default=2024, help="implicit random_state")
    parser.add_argument("--lrs", help="override the grid's learning rates, comma-separated")
    parser.add_argument("--regs", help="override the grid's regularizations, comma-separated")
    parser.add_argument("--iters", help="override the grid's iteration counts, comma-separated")
    parser.add_argument("--json", help="write a JSON summary here")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits of the best config (median)")
    parser.add_argument("--no-single-thread", action="store_true",
                        help="skip the extra threads=1 throughput measurement")
    args = parser.parse_args()
    if args.k < 1 or args.factors < 1 or args.threads < 1 or args.repeats < 1:
        parser.error("--k, --factors, --threads and --repeats must be >= 1")

    wall_start = time.perf_counter()
    load_start = os.getloadavg()
    os.makedirs(args.out, exist_ok=True)
    log(f"implicit {implicit.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"python {platform.python_version()}, threads={args.threads}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")

    split = Split(args.split)
    nnz = split.train.nnz
    data_info = {
        "split": os.path.abspath(args.split),
        "users": split.n_users,
        "items": split.n_items,
        "items_not_in_train": split.items_not_in_train,
        "train_interactions": nnz,
        "train_rows": len(split.parts["train"]),
        "valid_interactions": split.valid.nnz,
        "test_interactions": split.test.nnz,
    }
    log("data: " + ", ".join(f"{k}={v}" for k, v in data_info.items() if k != "split"))

    # ---- tuning
    grid = dict(GRIDS[args.grid])
    for key, text, kind in (("learning_rate", args.lrs, float), ("regularization", args.regs, float),
                            ("iterations", args.iters, int)):
        if text:
            grid[key] = [kind(v) for v in text.split(",") if v.strip()]
    grid_start = time.perf_counter()
    points = run_grid(split, grid, args)
    grid_seconds = time.perf_counter() - grid_start
    scored = [p for p in points if p["valid_ndcg"] is not None]
    if not scored:
        raise SystemExit("every grid point diverged")
    best = max(scored, key=lambda p: p["valid_ndcg"])  # first of equals: lower lr/reg/iterations
    log(f"grid done in {grid_seconds:.1f}s; best: lr={best['learning_rate']:g} reg={best['regularization']:g} "
        f"iterations={best['iterations']} valid ndcg@{args.k}={best['valid_ndcg']:.4f}")

    # ---- retrain best on train only (timed), score valid and test
    times, model = timed_fits(split, best, args.threads, args.repeats, args)
    tp = throughput(times, nnz, best["iterations"], args.threads)
    log(f"throughput threads={args.threads}: {tp['examples_per_s']:.0f} examples/s "
        f"(median fit {tp['fit_seconds_median']:.3f}s of {tp['fit_seconds']})")

    val_users, val_relevant = split.held_out(split.valid)
    val_ids, val_scores = recommend(model, val_users, split.train, args.k)
    val_metrics = rank_metrics(val_ids, val_relevant, args.k)
    write_recs(os.path.join(args.out, "implicit_valid_recs.txt"), split, val_users, val_ids, val_scores)

    test_users, test_relevant = split.held_out(split.test)
    test_ids, test_scores = recommend(model, test_users, split.train_valid, args.k)
    test_metrics = rank_metrics(test_ids, test_relevant, args.k)
    test_path = os.path.join(args.out, "implicit_test_recs.txt")
    write_recs(test_path, split, test_users, test_ids, test_scores)
    mismatches = check_against_numpy(model, test_users, split.train_valid, test_ids, args.k)
    if mismatches:
        log(f"WARNING: implicit.recommend disagrees with a numpy ranking for {mismatches} sampled users")

    # Popularity over train (same masks) as a floor for the sanity check.
    popularity = np.asarray(split.train.sum(axis=0)).ravel()
    pop_ids = []
    order = np.argsort(-popularity, kind="stable")
    for u in test_users:
        masked = set(split.train_valid.indices[split.train_valid.indptr[u]:split.train_valid.indptr[u + 1]].tolist())
        pop_ids.append([int(i) for i in order[:args.k + len(masked)] if i not in masked][:args.k])
    pop_metrics = rank_metrics(pop_ids, test_relevant, args.k)

    log(f"retrained model: valid ndcg@{args.k}={val_metrics[f'ndcg@{args.k}']:.4f} "
        f"recall@{args.k}={val_metrics[f'recall@{args.k}']:.4f} (users={val_metrics['users']})")
    log(f"test (own metric code): ndcg@{args.k}={test_metrics[f'ndcg@{args.k}']:.4f} "
        f"recall@{args.k}={test_metrics[f'recall@{args.k}']:.4f} (users={test_metrics['users']}); "
        f"popularity floor ndcg@{args.k}={pop_metrics[f'ndcg@{args.k}']:.4f} "
        f"recall@{args.k}={pop_metrics[f'recall@{args.k}']:.4f}")
    log(f"wrote {test_path}")

    tp1 = None
    if not args.no_single_thread and args.threads != 1:
        times1, _ = timed_fits(split, best, 1, args.repeats, args)
        tp1 = throughput(times1, nnz, best["iterations"], 1)
        log(f"throughput threads=1: {tp1['examples_per_s']:.0f} examples/s "
            f"(median fit {tp1['fit_seconds_median']:.3f}s of {tp1['fit_seconds']})")

    total_seconds = time.perf_counter() - wall_start
    log(f"total wall time {total_seconds:.1f}s (load average at start {load_start[0]:.2f}, "
        f"now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores: timings on a loaded machine are low)")

    if args.json:
        summary = {
            "baseline": "implicit.cpu.bpr.BayesianPersonalizedRanking",
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "versions": {
                "implicit": implicit.__version__,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "python": platform.python_version(),
            },
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                        "loadavg_1_5_15_at_start": [round(x, 2) for x in load_start],
                        "loadavg_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()]},
            "data": data_info,
            "settings": {
                "factors": args.factors,
                "implicit_factor_columns": int(model.user_factors.shape[1]),
                "k": args.k,
                "grid": args.grid,
                "grid_values": grid,
                "threads": args.threads,
                "seed": args.seed,
                "verify_negative_samples": True,
            },
            "grid_seconds": round(grid_seconds, 2),
            "grid_points": points,
            "best": {key: best[key] for key in ("learning_rate", "regularization", "iterations", "valid_ndcg", "valid_recall")},
            "retrained_valid_metrics": val_metrics,
            "test_metrics": test_metrics,
            "test_metrics_popularity": pop_metrics,
            "test_recs": os.path.abspath(test_path),
            "recommend_check_mismatched_users": mismatches,
            "throughput": tp,
            "throughput_single_thread": tp1,
            "total_seconds": round(total_seconds, 2),
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
