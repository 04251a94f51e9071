"""Reproducible anomaly tags: independent of row order and of which partitions share a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.quality.anomaly import (
    ANOMALY_COLUMNS,
    FLAG_COLUMN,
    AnomalyConfig,
    IsolationForestConfig,
    ZScoreConfig,
    tag_anomalies,
)
from etl_assets.lib.quality.anomaly_partitions import tag_anomalies_per_partition
from etl_assets.lib.spec import PARTITION_COLUMN
from etl_assets_tests.lib.quality.anomaly_data import flights_with_anomalies

CONFIG = AnomalyConfig(
    zscore=ZScoreConfig(["dep_delay"], group_by=["carrier"], threshold=6),
    isolation_forest=IsolationForestConfig(["distance", "air_time"], contamination=0.01),
)
#: The same with the default threshold (read from each partition's score distribution).
DEFAULT_THRESHOLD_CONFIG = AnomalyConfig(
    zscore=ZScoreConfig(["dep_delay"], group_by=["carrier"], threshold=6),
    isolation_forest=IsolationForestConfig(["distance", "air_time"]),
)
CONFIGS = pytest.mark.parametrize("config", [CONFIG, DEFAULT_THRESHOLD_CONFIG], ids=["share", "default"])


@pytest.fixture(scope="module")
def days() -> pd.DataFrame:
    """Three "days" of flights with different delay levels, one partition key per day."""
    parts = []
    for n, shift in enumerate([0.0, 25.0, -8.0]):
        day = flights_with_anomalies(rows=3_000, seed=20 + n)
        day["dep_delay"] = day["dep_delay"] + shift
        day[PARTITION_COLUMN] = f"2024-01-0{n + 1}"
        parts.append(day)
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("contamination", [0.01, None])
@pytest.mark.parametrize("sample_size", [100_000, 1_000])
def test_isolation_forest_scores_do_not_depend_on_row_order(sample_size: int, contamination: float | None) -> None:
    """Sorted by value before the sample and the fit: a shuffled table gets the same score per row."""
    frame = flights_with_anomalies(rows=5_000, seed=3)
    config = AnomalyConfig(
        isolation_forest=IsolationForestConfig(
            ["distance", "air_time", "dep_delay"], contamination=contamination, sample_size=sample_size
        )
    )
    shuffled = frame.sample(frac=1.0, random_state=1)
    in_order = tag_anomalies(frame, config).frame[list(ANOMALY_COLUMNS)]
    reordered = tag_anomalies(shuffled, config).frame[list(ANOMALY_COLUMNS)].loc[frame.index]
    pd.testing.assert_frame_equal(reordered, in_order, check_exact=True)


@CONFIGS
def test_each_partition_is_tagged_as_if_alone(days: pd.DataFrame, config: AnomalyConfig) -> None:
    together = tag_anomalies_per_partition(days, config)
    assert list(together.result.frame.index) == list(days.index)  # original order kept
    for key, part in days.groupby(PARTITION_COLUMN):
        alone = tag_anomalies(part, config)
        pd.testing.assert_frame_equal(
            together.result.frame.loc[part.index], alone.frame, check_exact=True
        )
        assert together.by_partition[str(key)] == alone.stats
    assert together.result.stats.anomalies == sum(
        s.anomalies for s in together.by_partition.values()
    )
    # pooling the days is what made tags depend on the run: it tags differently
    pooled = tag_anomalies(days, config).frame[FLAG_COLUMN]
    assert not pooled.equals(together.result.frame[FLAG_COLUMN])


@CONFIGS
def test_partitions_in_a_shuffled_run_get_the_same_tags(days: pd.DataFrame, config: AnomalyConfig) -> None:
    """Partitions interleaved in another order (another run composition): same tags per row."""
    first = tag_anomalies_per_partition(days, config).result.frame
    other = days.iloc[::-1]
    second = tag_anomalies_per_partition(other, config).result.frame.loc[days.index]
    pd.testing.assert_frame_equal(
        second[list(ANOMALY_COLUMNS)], first[list(ANOMALY_COLUMNS)], check_exact=True
    )


def test_an_unpartitioned_table_is_its_own_reference() -> None:
    frame = flights_with_anomalies(rows=2_000, seed=5)
    per_partition = tag_anomalies_per_partition(frame, CONFIG)
    assert per_partition.by_partition == {}
    pd.testing.assert_frame_equal(per_partition.result.frame, tag_anomalies(frame, CONFIG).frame)
    empty = tag_anomalies_per_partition(
        frame.iloc[:0].assign(**{PARTITION_COLUMN: pd.Series([], dtype="string")}), CONFIG
    )
    assert (
        empty.result.stats.rows == 0
        and np.isnan(empty.result.frame[list(ANOMALY_COLUMNS[:1])].to_numpy()).all()
    )


@CONFIGS
def test_a_reference_fitted_on_the_rows_themselves_tags_like_no_reference(
    days: pd.DataFrame, config: AnomalyConfig
) -> None:
    """Also checks that scoring the rows themselves (their scores reused as the sample's for the
    threshold) and scoring them against a stored sample (scored separately) agree bit for bit."""
    from etl_assets.lib.quality.anomaly_reference import AnomalyReference, fit_reference

    day = days[days[PARTITION_COLUMN] == "2024-01-02"]
    reference = fit_reference(day, config)
    pd.testing.assert_frame_equal(
        tag_anomalies(day, config, reference).frame,
        tag_anomalies(day, config).frame,
        check_exact=True,
    )
    # the stored JSON is the reference: same version and tags after a round trip
    restored = AnomalyReference.from_json(reference.to_json())
    assert restored.version == reference.version and len(reference.version) == 16
    pd.testing.assert_frame_equal(
        tag_anomalies(days, config, restored).frame,
        tag_anomalies(days, config, reference).frame,
        check_exact=True,
    )


def test_reference_is_independent_of_row_order_and_scores_rows_independently(
    days: pd.DataFrame,
) -> None:
    from etl_assets.lib.quality.anomaly_reference import fit_reference

    window = days[days[PARTITION_COLUMN] <= "2024-01-02"]
    reference = fit_reference(window, CONFIG, about={"window": ["2024-01-01", "2024-01-02"]})
    assert (
        fit_reference(
            window.sample(frac=1.0, random_state=4),
            CONFIG,
            about={"window": ["2024-01-01", "2024-01-02"]},
        ).version
        == reference.version
    )
    assert (
        fit_reference(window, CONFIG, about={"window": ["2024-01-01", "2024-01-03"]}).version
        != reference.version
    )
    # any subset of rows (a run's composition) gets the same tags per row as the whole
    whole = tag_anomalies(days, CONFIG, reference).frame
    day3 = days[days[PARTITION_COLUMN] == "2024-01-03"]
    pd.testing.assert_frame_equal(
        tag_anomalies(day3, CONFIG, reference).frame, whole.loc[day3.index], check_exact=True
    )
    # day 3 (delays 8 minutes earlier) is judged against days 1-2, not against itself
    assert (
        not tag_anomalies(day3, CONFIG, reference)
        .frame[FLAG_COLUMN]
        .equals(tag_anomalies(day3, CONFIG).frame[FLAG_COLUMN])
    )


def test_reference_of_other_settings_is_refused(days: pd.DataFrame) -> None:
    from etl_assets.lib.quality.anomaly_reference import AnomalyReference, fit_reference

    reference = fit_reference(days, CONFIG)
    other = AnomalyConfig(zscore=ZScoreConfig(["air_time"], group_by=["carrier"]))
    with pytest.raises(
        ValueError, match=r"fitted for columns \['dep_delay'\] by \['carrier'\], not \['air_time'\]"
    ):
        tag_anomalies(days, other, reference)
    with pytest.raises(ValueError, match="not an anomaly reference"):
        AnomalyReference.from_json('{"format": "something else"}')
