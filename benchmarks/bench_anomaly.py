"""Anomaly tagging throughput and peak memory at 100k and 1M rows, per method (not a test).

    .venv/bin/python benchmarks/bench_anomaly.py [--rows 100000 1000000] [--json OUT]

Input: ``flights_with_anomalies`` (the tests' generator: 4 carriers, nullable delays, injected
anomalies, fixed seed). Each (rows, case) runs in its own subprocess so its peak RSS is its own;
``rss_data_mb`` is the peak after building the input, ``rss_peak_mb`` after tagging, so the
tagging's own memory is roughly the difference. Baselines in the same run:

- ``sklearn_iforest_full``: a plain ``IsolationForest(contamination=0.002).fit(X).predict(X)``
  on every row (what one would write without the bounded fit sample), same columns and seed;
- ``isolation_forest_alone``: the same forest without the k-NN density score blended in
  (``n_neighbors: 0``), so the blend's own cost is the difference with ``isolation_forest``;
- ``pandas_group_mad``: the bare per-group median/MAD arithmetic with ``groupby.transform``,
  no reasons or score columns.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = ["zscore_global", "zscore_by_carrier", "isolation_forest", "isolation_forest_alone", "pattern", "all_methods", "sklearn_iforest_full", "pandas_group_mad"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, rows: int) -> dict:
    import numpy as np

    from etl_assets.lib.quality.anomaly import (
        AnomalyConfig,
        IsolationForestConfig,
        ZScoreConfig,
        tag_anomalies,
    )
    from etl_assets_tests.lib.quality.anomaly_data import flights_with_anomalies

    frame = flights_with_anomalies(rows=rows, seed=11)
    rss_data = _rss_mb()
    forest = IsolationForestConfig(["dep_delay", "distance", "air_time"], contamination=0.002)
    configs = {
        "zscore_global": AnomalyConfig(zscore=ZScoreConfig(["dep_delay", "air_time"])),
        "zscore_by_carrier": AnomalyConfig(zscore=ZScoreConfig(["dep_delay", "air_time"], group_by=["carrier"])),
        "isolation_forest": AnomalyConfig(isolation_forest=forest),
        # the forest without the k-NN density score blended in (the ranking before issue 13)
        "isolation_forest_alone": AnomalyConfig(
            isolation_forest=IsolationForestConfig(forest.columns, contamination=0.002, n_neighbors=0)
        ),
        "pattern": AnomalyConfig(patterns={"code": lambda s: s.str.fullmatch(r"[A-Z]{3}")}),
        "all_methods": AnomalyConfig(
            zscore=ZScoreConfig(["dep_delay", "air_time"], group_by=["carrier"]),
            isolation_forest=forest,
            patterns={"code": lambda s: s.str.fullmatch(r"[A-Z]{3}")},
        ),
    }
    started = time.perf_counter()
    flagged: int
    if case in configs:
        flagged = tag_anomalies(frame, configs[case]).stats.anomalies
    elif case == "sklearn_iforest_full":
        from sklearn.ensemble import IsolationForest

        x = np.nan_to_num(frame[["dep_delay", "distance", "air_time"]].to_numpy(dtype="float64", na_value=np.nan))
        flagged = int((IsolationForest(contamination=0.002, random_state=0).fit(x).predict(x) == -1).sum())
    else:  # pandas_group_mad
        values = frame[["dep_delay", "air_time"]].astype("float64")
        grouped = values.groupby(frame["carrier"], observed=True)
        dev = (values - grouped.transform("median")).abs()
        mad = dev.groupby(frame["carrier"], observed=True).transform("median")
        flagged = int(((0.6745 * dev / mad) > 6).any(axis=1).sum())
    seconds = time.perf_counter() - started
    return {
        "case": case, "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds),
        "flagged": flagged, "rss_data_mb": round(rss_data), "rss_peak_mb": round(_rss_mb()),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child[0], int(args.child[1]))))
        return 0
    results = []
    print(f"{'case':22s} {'rows':>9s} {'seconds':>8s} {'rows/s':>11s} {'flagged':>8s} {'rss data MB':>12s} {'rss peak MB':>12s}")
    for rows in args.rows:
        for case in args.cases:
            out = subprocess.run([sys.executable, __file__, "--child", case, str(rows)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"{r['case']:22s} {r['rows']:>9,d} {r['seconds']:>8.2f} {r['rows_per_s']:>11,d} {r['flagged']:>8,d} {r['rss_data_mb']:>12,d} {r['rss_peak_mb']:>12,d}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
