"""IsolationForest scores over chosen numeric columns, fitted on a bounded sample.

Each tree only ever sees ``max_samples`` (256) rows, so fitting on a random sample of at most
``sample_size`` rows loses nothing and keeps the fit time flat at a million rows; every row is
then scored. Columns are robust-scaled (median / IQR) so no column's units matter for the
imputation below and the model sees comparable ranges; nulls are imputed with the column median
(0 after scaling) so a null is never what makes a row unusual.

The fit does not depend on the order of the rows: they are sorted by their values before the
sample is drawn (and IsolationForest draws each tree's rows by position), so the same rows in
any order, e.g. a partition read alone or inside a range, give the same model and scores.

The score is the one of the original paper (``-score_samples``): about 0.5 for ordinary rows,
towards 1 for isolated ones. The decision threshold is 0.5 with ``contamination='auto'``, or
the quantile of the sample's scores that flags that share of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl_assets.lib.quality.robust_z import as_float


@dataclass(frozen=True)
class ForestScores:
    #: Paper score per row, in (0, 1]; higher is more isolated.
    score: np.ndarray
    #: Score above which a row is an anomaly.
    threshold: float


def forest_matrix(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The chosen columns as float64 (NaN for nulls), one row per row of ``frame``."""
    if not len(frame):
        return np.empty((0, len(columns)))
    return np.column_stack([as_float(frame[c]) for c in columns])


def fit_sample(matrix: np.ndarray, *, sample_size: int, random_state: int) -> np.ndarray:
    """The rows the forest is fitted on: sorted by value (row order must not change the fit),
    then a seeded sample of at most ``sample_size`` rows; all-null columns carry no signal (0)."""
    matrix = matrix.copy()
    matrix[:, np.isnan(matrix).all(axis=0)] = 0.0
    by_value = matrix[np.lexsort(matrix.T[::-1])]
    rows = by_value.shape[0]
    if rows <= sample_size:
        return by_value
    rng = np.random.default_rng(random_state)
    return by_value[np.sort(rng.choice(rows, size=sample_size, replace=False))]


def scores_from_sample(
    sample: np.ndarray,
    matrix: np.ndarray,
    *,
    contamination: float | str = "auto",
    n_estimators: int = 100,
    random_state: int = 0,
    n_jobs: int | None = 1,
) -> ForestScores:
    """Fit the scaler and the forest on ``sample`` (seeded) and score every row of ``matrix``."""
    # imported here: scikit-learn takes about a second to import, and loading the code location
    # (every spec, every asset) should not pay for it
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import RobustScaler

    if sample.shape[0] < 2 or matrix.shape[0] == 0:
        return ForestScores(score=np.zeros(matrix.shape[0]), threshold=1.0)
    scaler = RobustScaler().fit(sample)
    model = IsolationForest(
        n_estimators=n_estimators,
        contamination=contamination,
        random_state=random_state,
        n_jobs=n_jobs,
    ).fit(_scaled(scaler, sample))
    score = -model.score_samples(_scaled(scaler, matrix))
    return ForestScores(score=score, threshold=float(-model.offset_))


def forest_scores(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    contamination: float | str = "auto",
    sample_size: int = 100_000,
    n_estimators: int = 100,
    random_state: int = 0,
    n_jobs: int | None = 1,
) -> ForestScores:
    """Scores of every row of ``frame`` by a forest fitted on (a sample of) ``frame`` itself."""
    matrix = forest_matrix(frame, columns)
    if matrix.shape[0] < 2:
        return ForestScores(score=np.zeros(matrix.shape[0]), threshold=1.0)
    matrix[:, np.isnan(matrix).all(axis=0)] = 0.0  # an all-null column carries no signal
    sample = fit_sample(matrix, sample_size=sample_size, random_state=random_state)
    return scores_from_sample(
        sample, matrix, contamination=contamination, n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs
    )


def _scaled(scaler: object, matrix: np.ndarray) -> np.ndarray:
    return np.nan_to_num(scaler.transform(matrix), nan=0.0, posinf=0.0, neginf=0.0)  # type: ignore[attr-defined]


def calibrated(score: np.ndarray, threshold: float) -> np.ndarray:
    """Map paper scores to 0-1 so that the decision threshold lands on exactly 0.5."""
    threshold = min(max(threshold, 1e-9), 1 - 1e-9)
    low = 0.5 * score / threshold
    high = 0.5 + 0.5 * (score - threshold) / (1 - threshold)
    return np.clip(np.where(score <= threshold, low, high), 0.0, 1.0)
