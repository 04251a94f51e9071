"""Fuzzy dedup against recordlinkage (multi-pass blocking + ECM) and splink (DuckDB) on the
same generated data.

    .venv/bin/python benchmarks/bench_fuzzy_dedup.py [--records 100000] [--profile a] [--embedding-records N]
        [--peers recordlinkage,splink] [--repeat 1] [--skip-embedding]

Not a test (no assertions). Data: ``etl_assets.demo.customers.generate_customers`` (fixed seed,
ground truth), generated once and handed to every case as a Parquet file. Each case runs in
its own subprocess so its peak RSS is its own; wall time covers the dedup itself (data already
in memory, preprocessing included), not the file read. With ``--repeat N`` the plain cases
(peers, ``ours``) run N times interleaved; the table gives the median seconds and the largest
peak RSS.

Cases:
- ``recordlinkage``: recordlinkage 0.16 in its own venv (created here, pandas 2.x), see
  ``_recordlinkage_peer.py``; clusters = connected components of its matches;
- ``splink``: splink 5 with the DuckDB backend in its own venv (created here), the same
  blocking rules as ours (keys computed by our code), EM training, predict and clustering at
  our threshold; see ``_splink_peer.py``;
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
#: Each peer's own venv under the temp folder, with pinned versions (never the project's).
PEERS: dict[str, list[str]] = {
    "recordlinkage": ["recordlinkage==0.16", "pandas==2.3.3", "numpy==2.3.5", "scipy==1.17.1", "scikit-learn==1.9.1", "jellyfish==1.3.0"],
    "splink": ["splink==5.0.0", "duckdb==2.0.1", "pandas==3.1.1", "numpy==2.4.6", "pyarrow==26.0.1", "sqlglot==30.31.0"],
}


def _peer_python(peer: str) -> Path:
    venv = Path(tempfile.gettempdir()) / f"etl_assets_bench_{peer}"
    python = venv / "bin" / "python"
    marker = venv / (".ready-" + "-".join(PEERS[peer]).replace("=", ""))
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEERS[peer]], check=True)
        marker.touch()
    return python


def _blocking_keys(frame):
    """Each PERSON_FUZZY blocking rule's key (our ``rule_codes``; None where missing), for the
    splink peer to block on exactly the same rules."""
    import pandas as pd

    from etl_assets.demo.customers import PERSON_FUZZY
    from etl_assets.lib.dedup.engine import _field_values
    from etl_assets.lib.dedup.keys import rule_codes
    from etl_assets.lib.spec.models import DedupSpec

    fuzzy = DedupSpec.model_validate({"fuzzy": PERSON_FUZZY}).fuzzy
    derived = {n: _field_values(frame, n, s) for n, s in fuzzy.field_specs.items() if s.columns and n not in frame.columns}
    keyed = frame.assign(**derived)
    keys = {}
    for k, rule in enumerate(fuzzy.blocking):
        codes = rule_codes(keyed, rule)
        keys[f"key_{k}"] = pd.Series(codes, index=frame.index, dtype="Int64").mask(codes < 0)
    return pd.DataFrame(keys, index=frame.index)


def _ours(args: argparse.Namespace) -> None:
    """Child process: run our dedup, save labels, print JSON."""
    import resource

    import numpy as np

    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from etl_assets.demo.customers import COLUMNS, PERSON_FUZZY
    from etl_assets.lib.dedup import deduplicate
    from etl_assets.lib.resources.embedding import EmbeddingModel
    from etl_assets.lib.spec.models import DedupSpec

    frame = pd.read_parquet(args.data, columns=list(COLUMNS))
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
    started, cpu = time.perf_counter(), time.process_time()
    outcome = deduplicate(frame, DedupSpec.model_validate({"fuzzy": fuzzy}), embedder=embedder)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    np.save(args.out, outcome.labels)
    report = {
        "seconds": seconds,
        "cpu_seconds": cpu,  # all threads; on a shared machine steadier than wall time
        "stages": outcome.stats.seconds,
        "split_blocks": {rule: {"blocks": len(sizes), "rows": sum(sizes), "largest": sizes[:3]}
                         for rule, sizes in outcome.stats.split_blocks.items()},
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
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode:
        raise RuntimeError(f"{command[1]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--embedding-records", type=int, default=None)
    parser.add_argument("--profile", default="a")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--peers", default="recordlinkage,splink", help="comma-separated peers to run ('' for none)")
    parser.add_argument("--skip-peer", action="store_true", help="ours only (same as --peers '')")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each plain case, interleaved (median seconds)")
    parser.add_argument(
        "--embedding-field", choices=["company", "full_name"], default="company",
        help="company: compared by embedding (few distinct values); full_name: an extra embedding field (one text per record)",
    )
    parser.add_argument("--score-embedding", action="store_true", help="full_name: the embedding also scores (default: candidates only)")
    parser.add_argument("--child", choices=["plain", "embedding"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _ours(args)
        return

    sys.path.insert(0, str(ROOT))
    import statistics

    from etl_assets.demo.customers import generate_customers

    peers = [] if args.skip_peer else [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    work = Path(tempfile.mkdtemp(prefix="bench_fuzzy_"))
    me = [sys.executable, __file__, "--profile", args.profile, "--seed", str(args.seed), "--precision", args.precision,
          "--embedding-field", args.embedding_field, *(["--score-embedding"] if args.score_embedding else [])]
    datasets: dict[int, tuple[Path, object]] = {}

    def dataset(records: int) -> tuple[Path, object]:
        """Generated once per size: Parquet (records + the splink peer's blocking keys), truth."""
        if records not in datasets:
            frame, entity = generate_customers(records, seed=args.seed, profile=args.profile)
            path = work / f"records_{records}.parquet"
            frame.join(_blocking_keys(frame)).to_parquet(path, index=False)
            if "recordlinkage" in peers and records == args.records:
                frame.to_csv(work / "records.csv", index=False)
            datasets[records] = (path, entity)
        return datasets[records]

    runs: dict[str, list[dict]] = {}

    def record(name: str, records: int, report: dict, labels: Path, entity) -> None:
        row = {"records": records, **report, **_score(labels, entity)}
        runs.setdefault(name, []).append(row)
        print(name, json.dumps(row), flush=True)

    def ours(name: str, records: int, child: str, cache: Path | None = None) -> None:
        data, entity = dataset(records)
        out = work / f"{name}.npy"
        command = [*me, "--records", str(records), "--child", child, "--data", str(data), "--out", str(out)]
        if cache is not None:
            command += ["--cache-dir", str(cache)]
        record(name, records, _run(command), out, entity)

    def peer(name: str) -> None:
        data, entity = dataset(args.records)
        out = work / f"{name}.npy"
        source = work / "records.csv" if name == "recordlinkage" else data
        report = _run([str(_peer_python(name)), str(ROOT / "benchmarks" / f"_{name}_peer.py"), str(source), str(out)])
        record(name, args.records, report, out, entity)

    for name in peers:
        _peer_python(name)  # venv set up outside the timed runs
    for _ in range(args.repeat):
        for name in peers:
            peer(name)
        ours("ours", args.records, "plain")
    if not args.skip_embedding:
        records = args.embedding_records or args.records
        cache = work / "embedding_cache"
        shutil.rmtree(cache, ignore_errors=True)
        ours(f"ours_emb_{args.embedding_field}_cold", records, "embedding", cache)
        ours(f"ours_emb_{args.embedding_field}_warm", records, "embedding", cache)

    results: dict[str, dict] = {}
    for name, rows in runs.items():
        median = statistics.median(r["seconds"] for r in rows)
        results[name] = {**rows[0], "seconds": median, "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                         "cpu_seconds": statistics.median(r.get("cpu_seconds", float("nan")) for r in rows),
                         "runs_seconds": [round(r["seconds"], 2) for r in rows]}
    for peer_name in PEERS:
        peer_seconds = results[peer_name]["seconds"] if peer_name in results else float("nan")
        for row in results.values():
            row[f"time_vs_{peer_name}"] = round(row["seconds"] / peer_seconds, 3)
    target = ROOT / "benchmarks" / "results" / f"fuzzy_dedup_{args.records}_{args.embedding_field}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"profile": args.profile, "seed": args.seed, "repeat": args.repeat, "cases": results}, indent=2))
    print(f"\n{'case':24s} {'records':>8s} {'seconds':>8s} {'cpu s':>8s} {'x rl':>6s} {'x splink':>8s} {'peak MB':>8s}"
          f" {'P':>7s} {'R':>7s} {'F1':>7s}")
    for name, row in results.items():
        print(f"{name:24s} {row['records']:8d} {row['seconds']:8.2f} {row['cpu_seconds']:8.1f} {row['time_vs_recordlinkage']:6.2f}"
              f" {row['time_vs_splink']:8.2f} {row['peak_rss_mb']:8.0f}"
              f" {row['precision']:7.4f} {row['recall']:7.4f} {row['f1']:7.4f}")
    print(f"written: {target}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
