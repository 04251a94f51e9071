"""IsolationForest scores over chosen numeric columns, fitted on a bounded sample.

Each tree only ever sees ``max_samples`` (256) rows, so fitting on a random sample of at most
``sample_size`` rows loses nothing and keeps the fit time flat at a million rows; every row is
then scored. Columns are robust-scaled (median / IQR) so no column's units matter for the
imputation below and the model sees comparable ranges; nulls are imputed with the column median
(0 after scaling) so a null is never what makes a row unusual.

The fit does not depend on the order of the rows: they are sorted by their values before the
sample is drawn (and IsolationForest draws each tree's rows by position), so the same rows in
any order, e.g. a partition read alone or inside a range, give the same model and scores.

The forest's score is the one of the original paper (``-score_samples``): about 0.5 for ordinary
rows, towards 1 for isolated ones.

With ``n_neighbors > 0`` (opt-in; the tagger's default is the forest alone) the ranking blends it with a
k-nearest-neighbour density score (:mod:`etl_assets.lib.quality.neighbours`): each of the two is
turned into a robust z against the fit sample's own scores (median, 1.4826 x MAD) and the row's
score is their weighted mean (:data:`NEIGHBOUR_WEIGHT`), so neither score's units dominate and each keeps what the other misses
(single extreme values; rare combinations of ordinary values). ``n_neighbors=0`` keeps the forest
alone (scikit-learn's scores bit for bit).

The decision threshold always comes from the scores of the fit sample (so a partition scored
against a stored reference gets the reference's threshold):

- ``contamination=None`` (the default): :func:`robust_threshold`, more than
  :func:`default_score_z` robust standard deviations above the sample's median score; it adapts
  to each data set's score distribution, where a fixed share suited one data set only (0.005
  tagged 2 of 21 labelled anomalies in a set with 5.6% of them), and to the sample's size: the
  cut is where a normal bulk of that many scores would put any score above it with probability
  :data:`DEFAULT_FAMILY_ALPHA` (Bonferroni), so a 100-row set is cut at 3.3 robust sigmas and a
  900-row flights day at 3.9;
- a share ``c``: the quantile of the sample's scores that flags that share, for users who know
  their rate (with the forest alone: scikit-learn's ``offset_``, bit for bit);
- ``'auto'``: the forest alone and 0.5, the paper's threshold (it flags 17% of flights: skewed
  data score high).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from etl_assets.lib.quality.forest_model import isolation_forest_class
from etl_assets.lib.quality.neighbours import NeighbourIndex, fit_neighbours
from etl_assets.lib.quality.robust_z import as_float

#: The default cut's family-wise error rate: if the fit sample's scores were all ordinary (a
#: normal bulk, centred on the median with the robust sigma), the chance that ANY of them lies
#: above the cut. Bonferroni: each score's one-sided tail probability is ``alpha / n``, so the
#: cut in robust sigmas grows with the sample's size ``n`` (:func:`default_score_z`). A fixed
#: cut in sigmas cannot serve both a 100-row table and a 900-row flights day: 4 sigmas tagged
#: 1.5% of flights but missed most of iris virginica (F1 0.28); 3 found it (0.63) but tagged 3.2%
#: of flights. 0.05 is the usual family-wise rate, not a tuned one; on the tuning split every
#: rate from 0.033 to 0.2 kept F1 >= 0.5 on the same four of five families, and flights tagged
#: 1.54% (0.033), 1.67% (0.05), 1.91% (0.1), 2.19% (0.2) (benchmarks/sweep_anomaly_threshold.py).
DEFAULT_FAMILY_ALPHA = 0.05
#: The default cut is never below this many robust sigmas (the classic three-sigma rule): for a
#: sample of fewer than about 40 scores the Bonferroni cut would drop below it.
MIN_SCORE_Z = 3.0
#: Weight of the neighbour score's robust z in the blend (the forest's: the rest). Chosen on the
#: tuning sets and the flights year (benchmarks/eval_anomaly.py), between 1/2 and 2/3: equal F1
#: on hbk, starsCYG and iris at the default cut, and on flights days 1.34% tagged against 1.52%,
#: worst day 3.5% against 3.7%, 70 days above 2% against 101.
NEIGHBOUR_WEIGHT = 2 / 3
#: The paper's threshold: a score at or below 0.5 is never an anomaly, whatever the spread.
PAPER_THRESHOLD = 0.5
MAD_TO_SIGMA = 0.6745
MEAN_AD_TO_SIGMA = 1.2533

Contamination = float | str | None


def robust_center_sigma(scores: np.ndarray) -> tuple[float, float]:
    """Median and robust sigma of ``scores``: the MAD / 0.6745 or, when more than half the scores
    are equal, the mean absolute deviation x 1.2533 (as in :mod:`etl_assets.lib.quality.robust_z`);
    0 when every score is equal."""
    center = float(np.median(scores))
    dev = np.abs(scores - center)
    mad = float(np.median(dev))
    return center, (mad / MAD_TO_SIGMA if mad > 0 else MEAN_AD_TO_SIGMA * float(np.mean(dev)))


def default_score_z(rows: int, alpha: float = DEFAULT_FAMILY_ALPHA) -> float:
    """Robust sigmas above the median of the default cut for a fit sample of ``rows`` scores: the
    standard normal quantile with upper tail ``alpha / rows`` (a normal bulk of ``rows`` scores
    has probability about ``alpha`` to put any score above it), and at least :data:`MIN_SCORE_Z`.

    E.g. 47 rows: 3.07; 105 rows: 3.30; 900 rows: 3.86; 100,000 rows (the largest default
    sample): 4.89.
    """
    return max(MIN_SCORE_Z, -NormalDist().inv_cdf(alpha / max(rows, 1)))


def robust_threshold(
    sample_scores: np.ndarray, z: float | None = None, floor: float | None = PAPER_THRESHOLD
) -> float:
    """The default decision threshold: ``median + z * sigma`` of the fit sample's scores
    (:func:`robust_center_sigma`), and never below ``floor`` (the paper's 0.5 for forest scores;
    ``None`` for the blended score, which has no fixed scale). ``z`` omitted: the sample-size
    aware :func:`default_score_z` of the number of scores.

    Order-independent (a function of the multiset of scores), so it keeps the reproducibility of
    the fit.
    """
    scores = np.asarray(sample_scores, dtype="float64")
    if scores.size == 0:
        return 1.0
    if z is None:
        z = default_score_z(scores.size)
    center, sigma = robust_center_sigma(scores)
    threshold = center + z * sigma
    return threshold if floor is None else max(floor, threshold)


def decision_threshold(sample_scores: np.ndarray | None, contamination: Contamination) -> float:
    """Score above which a row is an anomaly, from the fit sample's paper scores."""
    if contamination == "auto":
        return PAPER_THRESHOLD
    if sample_scores is None:
        raise ValueError("the fit sample's scores are needed unless contamination is 'auto'")
    if contamination is None:
        return robust_threshold(sample_scores)
    if isinstance(contamination, str) or not 0 < float(contamination) <= 0.5:
        raise ValueError(f"contamination must be None, 'auto' or a share in (0, 0.5], got {contamination!r}")
    # scikit-learn's offset_ (a percentile of score_samples = -paper score), negated
    return float(-np.percentile(-sample_scores, 100.0 * float(contamination)))


@dataclass(frozen=True)
class ForestScores:
    #: Paper score per row, in (0, 1]; higher is more isolated.
    score: np.ndarray
    #: Score above which a row is an anomaly.
    threshold: float
    #: Blended scores (robust z units): the sample's robust sigma of the blend, which sets the
    #: slope of the 0-1 map (:func:`calibrated`); ``None``: paper scores of the forest alone.
    spread: float | None = None
    #: Neighbours in the blend (0: the forest alone).
    neighbours: int = 0


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


@dataclass(frozen=True)
class Blend:
    """How the two scores are put on one scale: each one's median and robust sigma on the sample."""

    forest: tuple[float, float]
    neighbours: tuple[float, float]

    def __call__(self, forest_score: np.ndarray, neighbour_score: np.ndarray) -> np.ndarray:
        w = NEIGHBOUR_WEIGHT
        return (1 - w) * _z(forest_score, *self.forest) + w * _z(neighbour_score, *self.neighbours)


def _z(score: np.ndarray, center: float, sigma: float) -> np.ndarray:
    # a score that is the same for most rows (sigma 0) carries no ranking: it adds nothing
    return (score - center) / sigma if sigma > 0 else np.zeros_like(score)


@dataclass
class FittedForest:
    """The scaler and the forest fitted on a sample (and the neighbour index of the same sample,
    when blended), and the sample's scores once computed.

    A deterministic function of the sample and the settings, so a stored reference keeps one and
    scores every partition with it instead of refitting.
    """

    scaler: Any
    model: Any
    sample: np.ndarray
    neighbours: NeighbourIndex | None = None
    _sample_scores: np.ndarray | None = field(default=None, repr=False)
    _sample_neighbour_scores: np.ndarray | None = field(default=None, repr=False)

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Paper score of every row of ``matrix``."""
        if matrix.shape[0] == 0:
            return np.zeros(0)
        with _quiet_sklearn():
            return -self.model.score_samples(_scaled(self.scaler, matrix))

    def sample_scores(self) -> np.ndarray:
        if self._sample_scores is None:
            self._sample_scores = self.score(self.sample)
        return self._sample_scores

    def threshold(self, contamination: Contamination) -> float:
        return decision_threshold(None if contamination == "auto" else self.sample_scores(), contamination)

    def sample_neighbour_scores(self) -> np.ndarray:
        assert self.neighbours is not None
        if self._sample_neighbour_scores is None:
            self._sample_neighbour_scores = self.neighbours.score(self.sample)
        return self._sample_neighbour_scores

    def blend(self) -> Blend:
        return Blend(
            forest=robust_center_sigma(self.sample_scores()),
            neighbours=robust_center_sigma(self.sample_neighbour_scores()),
        )


def fit_forest(
    sample: np.ndarray,
    *,
    n_estimators: int = 100,
    random_state: int = 0,
    n_jobs: int | None = 1,
    n_neighbors: int = 0,
) -> FittedForest | None:
    """Fit the scaler and the seeded forest on ``sample`` (and, with ``n_neighbors``, the
    neighbour index of the blended ranking); ``None`` below two rows."""
    # imported here: scikit-learn takes about a second to import, and loading the code location
    # (every spec, every asset) should not pay for it
    from sklearn.preprocessing import RobustScaler

    if sample.shape[0] < 2:
        return None
    scaler = RobustScaler().fit(sample)
    # the trees do not depend on contamination (only scikit-learn's offset_ does, which would
    # score the sample inside fit): the threshold is computed from the same scores afterwards
    model = isolation_forest_class()(
        n_estimators=n_estimators,
        contamination="auto",
        random_state=random_state,
        n_jobs=n_jobs,
    )
    model._validate_params()  # the forest's own settings: a clear error for a bad n_estimators
    with _quiet_sklearn():
        model.fit(_scaled(scaler, sample))
    neighbours = fit_neighbours(sample, k=n_neighbors, random_state=random_state)
    return FittedForest(scaler=scaler, model=model, sample=sample, neighbours=neighbours)


def _quiet_sklearn() -> Any:
    """Skip scikit-learn's per-call parameter validation inside the forest: fit validates the
    parameters of each of its 100 trees (settings it made itself) and that Python overhead is a
    large part of a small partition's fit. Only checks are skipped, so scores are the same bit for
    bit (benchmarks/bench_anomaly_partitions.py verifies it on flights days)."""
    import sklearn

    return sklearn.config_context(skip_parameter_validation=True)


def scores_from_sample(
    sample: np.ndarray,
    matrix: np.ndarray,
    *,
    contamination: Contamination = None,
    n_estimators: int = 100,
    random_state: int = 0,
    n_jobs: int | None = 1,
    n_neighbors: int = 0,
    matrix_is_sample: bool = False,
) -> ForestScores:
    """Fit the scaler and the forest on ``sample`` (seeded) and score every row of ``matrix``.

    ``matrix_is_sample``: ``matrix`` holds the same rows as ``sample`` (in any order), as when a
    frame no larger than ``sample_size`` is scored against itself; the sample's scores are then
    those of ``matrix`` and are not computed a second time (scores are per row, so the threshold
    is the same bit for bit).
    """
    if sample.shape[0] < 2 or matrix.shape[0] == 0:
        return ForestScores(score=np.zeros(matrix.shape[0]), threshold=1.0)
    forest = fit_forest(
        sample, n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs, n_neighbors=n_neighbors
    )
    assert forest is not None
    return scores_with(forest, matrix, contamination=contamination, matrix_is_sample=matrix_is_sample)


def scores_with(
    forest: FittedForest, matrix: np.ndarray, *, contamination: Contamination = None, matrix_is_sample: bool = False
) -> ForestScores:
    """Score ``matrix`` with a fitted forest (blended with its neighbour score when it has one,
    unless ``contamination`` is ``'auto'``); the threshold comes from its sample's scores."""
    score = forest.score(matrix)
    if matrix_is_sample and forest._sample_scores is None:
        forest._sample_scores = score
    if forest.neighbours is None or contamination == "auto":
        return ForestScores(score=score, threshold=forest.threshold(contamination))
    neighbour_score = forest.neighbours.score(matrix)
    if matrix_is_sample and forest._sample_neighbour_scores is None:
        forest._sample_neighbour_scores = neighbour_score
    blend = forest.blend()
    sample_blend = blend(forest.sample_scores(), forest.sample_neighbour_scores())
    if contamination is None:
        threshold = robust_threshold(sample_blend, floor=None)
    elif isinstance(contamination, str) or not 0 < float(contamination) <= 0.5:
        raise ValueError(f"contamination must be None, 'auto' or a share in (0, 0.5], got {contamination!r}")
    else:
        threshold = float(np.percentile(sample_blend, 100.0 * (1.0 - float(contamination))))
    spread = robust_center_sigma(sample_blend)[1]
    return ForestScores(
        score=blend(score, neighbour_score),
        threshold=threshold,
        spread=spread if spread > 0 else 1.0,
        neighbours=forest.neighbours.k,
    )


def forest_scores(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    contamination: Contamination = None,
    sample_size: int = 100_000,
    n_estimators: int = 100,
    random_state: int = 0,
    n_jobs: int | None = 1,
    n_neighbors: int = 0,
) -> ForestScores:
    """Scores of every row of ``frame`` by a forest (blended with ``n_neighbors`` neighbours
    when > 0) fitted on (a sample of) ``frame`` itself."""
    matrix = forest_matrix(frame, columns)
    if matrix.shape[0] < 2:
        return ForestScores(score=np.zeros(matrix.shape[0]), threshold=1.0)
    matrix[:, np.isnan(matrix).all(axis=0)] = 0.0  # an all-null column carries no signal
    sample = fit_sample(matrix, sample_size=sample_size, random_state=random_state)
    return scores_from_sample(
        sample,
        matrix,
        contamination=contamination,
        n_estimators=n_estimators,
        random_state=random_state,
        n_jobs=n_jobs,
        n_neighbors=n_neighbors,
        matrix_is_sample=matrix.shape[0] <= sample_size,
    )


def _scaled(scaler: object, matrix: np.ndarray) -> np.ndarray:
    return np.nan_to_num(scaler.transform(matrix), nan=0.0, posinf=0.0, neginf=0.0)  # type: ignore[attr-defined]


def calibrated(score: np.ndarray, threshold: float, spread: float | None = None) -> np.ndarray:
    """Map scores to 0-1 so that the decision threshold lands on exactly 0.5.

    Paper scores (``spread`` None) piecewise linearly; blended scores, which have no bounds, by a
    logistic of their distance to the threshold in sample sigmas (one sigma above: 0.73).
    """
    if spread is not None:
        return 1.0 / (1.0 + np.exp(-(np.asarray(score, dtype="float64") - threshold) / spread))
    threshold = min(max(threshold, 1e-9), 1 - 1e-9)
    low = 0.5 * score / threshold
    high = 0.5 + 0.5 * (score - threshold) / (1 - threshold)
    return np.clip(np.where(score <= threshold, low, high), 0.0, 1.0)
