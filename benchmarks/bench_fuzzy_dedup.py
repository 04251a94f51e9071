"""Fuzzy dedup against recordlinkage (multi-pass blocking + ECM) on the same generated data.

    .venv/bin/python benchmarks/bench_fuzzy_dedup.py [--records 100000] [--profile a] [--embedding-records N]

Not a test (no assertions). Data: ``etl_assets.demo.customers.generate_customers`` (fixed seed,
ground truth). Each case runs in its own subprocess so its peak RSS is its own; wall time covers
the dedup itself (data already in memory, preprocessing included), not the CSV read.

Cases:
- ``recordlinkage``: recordlinkage 0.16 in its own venv (created here, pandas 2.x), see
  ``_recordlinkage_peer.py``; clusters = connected components of its matches;
- ``ours``: ``deduplicate`` with PERSON_FUZZY (no embedding field), default threshold;
- ``ours_embedding_cold`` / ``_warm``: company compared by MiniLM embedding (cache emptied
  first / then reused), on ``--embedding-records`` records (default: the same number).

Precision/recall/F1 are of predicted duplicate pairs (all pairs inside a predicted cluster)
against the true pairs. Results: ``benchmarks/results/fuzzy_dedup_<records>_<field>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = Path(tempfile.gettempdir()) / "etl_assets_bench_recordlinkage"
PEER_PACKAGES = ["recordlinkage==0.16", "pandas==2.3.3", "numpy==2.3.5", "scipy==1.17.1", "scikit-learn==1.9.1", "jellyfish==1.3.0"]


def _peer_python() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not (PEER_VENV / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)
        (PEER_VENV / ".ready").touch()
    return python


def _ours(args: argparse.Namespace) -> None:
    """Child process: run our dedup, save labels, print JSON."""
    import resource

    import numpy as np

    sys.path.insert(0, str(ROOT))
    from etl_assets.demo.customers import PERSON_FUZZY, generate_customers
    from etl_assets.lib.dedup import deduplicate
    from etl_assets.lib.resources.embedding import EmbeddingModel
    from etl_assets.lib.spec.models import DedupSpec

    frame, _ = generate_customers(args.records, seed=args.seed, profile=args.profile)
    fuzzy = json.loads(json.dumps(PERSON_FUZZY))
    embedder = None
    if args.child == "embedding":
        if args.embedding_field == "company":
            fuzzy["fields"]["company"] = "embedding"
        else:  # an extra field: the full name's embedding (~one distinct text per record)
            # a candidate source only: full_name already scores the same text (double-counting
            # it cost 0.15 of precision at 100k)
            fuzzy["fields"]["name_embedding"] = {
                "compare": "embedding", "columns": ["first_name", "last_name"], "score": args.score_embedding,
            }
        model = EmbeddingModel(cache_dir=args.cache_dir, precision=args.precision)
        embedder = model.encode
        model.encode_uncached(["warm up the model load"])  # model load is per process, not per run
    started = time.perf_counter()
    outcome = deduplicate(frame, DedupSpec.model_validate({"fuzzy": fuzzy}), embedder=embedder)
    seconds = time.perf_counter() - started
    np.save(args.out, outcome.labels)
    report = {
        "seconds": seconds,
        "stages": outcome.stats.seconds,
        "candidate_pairs": outcome.stats.candidate_pairs,
        "matched_pairs": outcome.stats.matched_pairs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if embedder is not None:
        report["embedding"] = model.last_stats
    print(json.dumps(report))


def _score(labels_file: Path, entity) -> dict[str, float]:
    import numpy as np

    from etl_assets.demo.customers import cluster_pairs, precision_recall, true_pairs

    precision, recall, f1 = precision_recall(cluster_pairs(np.load(labels_file)), true_pairs(entity))
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _run(command: list[str]) -> dict:
    done = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--embedding-records", type=int, default=None)
    parser.add_argument("--profile", default="a")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--skip-peer", action="store_true", help="reuse nothing: ours only (x peer not computed)")
    parser.add_argument(
        "--embedding-field", choices=["company", "full_name"], default="company",
        help="company: compared by embedding (few distinct values); full_name: an extra embedding field (one text per record)",
    )
    parser.add_argument("--score-embedding", action="store_true", help="full_name: the embedding also scores (default: candidates only)")
    parser.add_argument("--child", choices=["plain", "embedding"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _ours(args)
        return

    sys.path.insert(0, str(ROOT))
    from etl_assets.demo.customers import generate_customers

    work = Path(tempfile.mkdtemp(prefix="bench_fuzzy_"))
    results: dict[str, dict] = {}
    me = [sys.executable, __file__, "--profile", args.profile, "--seed", str(args.seed), "--precision", args.precision,
          "--embedding-field", args.embedding_field, *(["--score-embedding"] if args.score_embedding else [])]

    def case(name: str, records: int, child: str, cache: Path | None = None) -> None:
        _frame, entity = generate_customers(records, seed=args.seed, profile=args.profile)
        out = work / f"{name}.npy"
        command = [*me, "--records", str(records), "--child", child, "--out", str(out)]
        if cache is not None:
            command += ["--cache-dir", str(cache)]
        report = _run(command)
        results[name] = {"records": records, **report, **_score(out, entity)}
        print(name, json.dumps(results[name]), flush=True)

    frame, entity = generate_customers(args.records, seed=args.seed, profile=args.profile)
    csv = work / "records.csv"
    frame.to_csv(csv, index=False)
    if not args.skip_peer:
        peer = _peer_python()
        report = _run([str(peer), str(ROOT / "benchmarks" / "_recordlinkage_peer.py"), str(csv), str(work / "peer.npy")])
        results["recordlinkage"] = {"records": args.records, **report, **_score(work / "peer.npy", entity)}
        print("recordlinkage", json.dumps(results["recordlinkage"]), flush=True)

    case("ours", args.records, "plain")
    if not args.skip_embedding:
        records = args.embedding_records or args.records
        cache = work / "embedding_cache"
        shutil.rmtree(cache, ignore_errors=True)
        case(f"ours_emb_{args.embedding_field}_cold", records, "embedding", cache)
        case(f"ours_emb_{args.embedding_field}_warm", records, "embedding", cache)

    peer_seconds = results["recordlinkage"]["seconds"] if "recordlinkage" in results else float("nan")
    for row in results.values():
        row["time_vs_recordlinkage"] = round(row["seconds"] / peer_seconds, 3)
    target = ROOT / "benchmarks" / "results" / f"fuzzy_dedup_{args.records}_{args.embedding_field}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"profile": args.profile, "seed": args.seed, "cases": results}, indent=2))
    print(f"\n{'case':24s} {'records':>8s} {'seconds':>8s} {'x peer':>7s} {'peak MB':>8s} {'P':>7s} {'R':>7s} {'F1':>7s}")
    for name, row in results.items():
        print(f"{name:24s} {row['records']:8d} {row['seconds']:8.2f} {row['time_vs_recordlinkage']:7.2f} {row['peak_rss_mb']:8.0f}"
              f" {row['precision']:7.4f} {row['recall']:7.4f} {row['f1']:7.4f}")
    print(f"written: {target}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
