"""Threshold rules for the anomaly tagger's default, compared on the TUNING split only (not a test).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/sweep_anomaly_threshold.py [--days 365]

How the default cut (``contamination`` omitted) was chosen. The scores are computed once: the
forest alone (the default ranking) and the opt-in blend (``n_neighbors: 10``), on the tuning
split of benchmarks/eval_anomaly.py (hbk, starsCYG, iris with each class in turn made 5% of the
rows, 10 draws) and on the flights year (each day scored on its own); then each rule cuts them:

- ``z K``: a fixed K robust sigmas above the median score (the former default: 4);
- ``bonf A``: the current default's form, :func:`~etl_assets.lib.quality.isolation.default_score_z`
  with family-wise rate A (K grows with the sample's size; the default: 0.05);
- ``gap``: :func:`eval_anomaly.gap_threshold`, the lowest clear gap of the upper tail, else the
  default cut (evaluation only).

Prints, per rule, the mean F1 of each tuning family, how many reach 0.5, and the share of
flights tagged (whole year, worst day, days above 2%). The held-out sets (glass, Pima, penguins)
are deliberately not read here: they are reported by benchmarks/eval_anomaly.py only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_anomaly import FLIGHT_FOREST_COLUMNS, flights_by_day, gap_threshold  # noqa: E402

from etl_assets.lib.quality.isolation import (  # noqa: E402
    PAPER_THRESHOLD,
    default_score_z,
    forest_scores,
    robust_threshold,
)
from etl_assets.lib.quality.neighbours import DEFAULT_NEIGHBOURS  # noqa: E402
from etl_assets_tests.lib.quality.anomaly_labelled import (  # noqa: E402
    DOWNSAMPLE_DRAWS,
    LabelledSet,
    hbk,
    iris,
    stars_cyg,
    tags_f1,
)

Rule = Callable[[np.ndarray, "float | None"], float]


def tuning_sets() -> list[LabelledSet]:
    sets = [hbk(), stars_cyg()]
    for name in ("setosa", "versicolor", "virginica"):
        sets += [iris(name, draw) for draw in range(DOWNSAMPLE_DRAWS)]
    return sets


def rules() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for z in (3.0, 3.5, 4.0, 4.5):
        out[f"z {z:g}"] = lambda s, floor, z=z: robust_threshold(s, z=z, floor=floor)
    for alpha in (0.2, 0.1, 0.05, 0.033):
        out[f"bonf {alpha:g}"] = lambda s, floor, a=alpha: robust_threshold(
            s, z=default_score_z(s.size, a), floor=floor
        )
    out["gap"] = gap_threshold
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365, help="flights days scored (from 1 January)")
    args = parser.parse_args()
    rankings = {"forest": 0, "blend": DEFAULT_NEIGHBOURS}
    sets = tuning_sets()
    # every frame here is within the default sample_size: its scores are the fit sample's
    labelled = {
        name: [(s.family, s.label, forest_scores(s.frame, s.columns, n_neighbors=k).score) for s in sets]
        for name, k in rankings.items()
    }
    days = flights_by_day()[: args.days]
    flights = {
        name: [forest_scores(day, FLIGHT_FOREST_COLUMNS, n_neighbors=k).score for day in days]
        for name, k in rankings.items()
    }
    families = list(dict.fromkeys(s.family for s in sets))
    print(f"{'ranking':7s} {'rule':9s} " + " ".join(f"{f.split(':')[-1][:9]:>9s}" for f in families)
          + f" {'>=0.5':>5s} {'flights':>7s} {'worst':>6s} {'>2%':>4s}")  # fmt: skip
    for ranking in rankings:
        floor = PAPER_THRESHOLD if ranking == "forest" else None
        for rule_name, rule in rules().items():
            f1: dict[str, list[float]] = {f: [] for f in families}
            for family, label, score in labelled[ranking]:
                f1[family].append(tags_f1(label, score > rule(score, floor)))
            means = [float(np.mean(f1[f])) for f in families]
            counts = np.array([(s > rule(s, floor)).sum() for s in flights[ranking]])
            sizes = np.array([s.size for s in flights[ranking]])
            rates = counts / sizes
            print(
                f"{ranking:7s} {rule_name:9s} " + " ".join(f"{m:>9.2f}" for m in means)
                + f" {sum(m >= 0.5 for m in means):>5d} {counts.sum() / sizes.sum():>6.2%} {rates.max():>6.2%} {(rates > 0.02).sum():>4d}"
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
