"""Anomaly tagging against ground truth: recall and precision per method, nulls, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.quality.anomaly import (
    FLAG_COLUMN,
    REASONS_COLUMN,
    SCORE_COLUMN,
    AnomalyConfig,
    IsolationForestConfig,
    PatternRule,
    ZScoreConfig,
    tag_anomalies,
    top_anomalies,
)
from etl_assets_tests.lib.quality.anomaly_data import flights_with_anomalies, recall_precision


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return flights_with_anomalies(rows=20_000, seed=7)


def _injected(frame: pd.DataFrame) -> pd.Series:
    return frame["truth_global"] | frame["truth_group"] | frame["truth_combo"] | frame["truth_pattern"]


def three_letters(values: pd.Series) -> pd.Series:
    return values.str.fullmatch(r"[A-Z]{3}")


def test_grouped_z_finds_global_and_per_carrier_outliers(data: pd.DataFrame) -> None:
    result = tag_anomalies(data, AnomalyConfig(zscore=ZScoreConfig(["dep_delay"], group_by=["carrier"])))
    flagged = result.frame[FLAG_COLUMN]
    recall_global, precision = recall_precision(flagged, data["truth_global"], _injected(data))
    recall_group, _ = recall_precision(flagged, data["truth_group"], _injected(data))
    # measured: recall 1.0 / 1.0, precision 1.0 (seed 7, 20k rows)
    assert recall_global >= 0.98 and recall_group >= 0.95
    assert precision >= 0.95
    reasons = result.frame.loc[data["truth_group"], REASONS_COLUMN]
    assert reasons.str.contains(r"^dep_delay=.*: robust z -?\d+\.\d within carrier=(?:AA|QQ)$").all()


def test_global_z_cannot_judge_carriers_with_different_scales(data: pd.DataFrame) -> None:
    """Why group_by exists: against all rows, a late-running carrier's ordinary rows look extreme."""
    flagged = tag_anomalies(data, AnomalyConfig(zscore=ZScoreConfig(["dep_delay"]))).frame[FLAG_COLUMN]
    _, precision = recall_precision(flagged, data["truth_global"], _injected(data))
    assert precision < 0.2  # measured 0.06
    assert flagged[data["carrier"] == "ZZ"].mean() > 0.3


def test_isolation_forest_finds_combinations_no_single_column_shows(data: pd.DataFrame) -> None:
    config = AnomalyConfig(isolation_forest=IsolationForestConfig(["distance", "air_time"], contamination=0.004))
    result = tag_anomalies(data, config)
    flagged = result.frame[FLAG_COLUMN]
    recall, precision = recall_precision(flagged, data["truth_combo"], _injected(data))
    assert recall >= 0.85 and precision >= 0.85  # measured 0.925 / 0.925
    # neither column alone reveals them
    alone = tag_anomalies(data, AnomalyConfig(zscore=ZScoreConfig(["distance", "air_time"]))).frame[FLAG_COLUMN]
    assert recall_precision(alone, data["truth_combo"], _injected(data))[0] < 0.2
    assert result.frame.loc[flagged, REASONS_COLUMN].str.startswith("isolation forest").all()


def test_isolation_forest_is_deterministic_and_fits_a_bounded_sample(data: pd.DataFrame) -> None:
    config = AnomalyConfig(isolation_forest=IsolationForestConfig(["distance", "air_time"], contamination=0.004, sample_size=5_000))
    first = tag_anomalies(data, config).frame[SCORE_COLUMN]
    second = tag_anomalies(data, config).frame[SCORE_COLUMN]
    pd.testing.assert_series_equal(first, second)
    recall, _ = recall_precision(first > 0.5, data["truth_combo"], _injected(data))
    assert recall >= 0.8  # a 5k-row fit sample still finds them in 20k rows


def test_pattern_validator_flags_invalid_values_never_nulls(data: pd.DataFrame) -> None:
    result = tag_anomalies(data, AnomalyConfig(patterns={"code": PatternRule(three_letters, "airport code")}))
    flagged = result.frame[FLAG_COLUMN]
    assert recall_precision(flagged, data["truth_pattern"], _injected(data)) == (1.0, 1.0)
    assert not flagged[data["code"].isna()].any()
    assert result.frame.loc[flagged, REASONS_COLUMN].str.contains("not a valid airport code").all()
    # a bare callable works too; its name labels the reason
    bare = tag_anomalies(data, AnomalyConfig(patterns={"code": three_letters})).frame
    assert bare.loc[bare[FLAG_COLUMN], REASONS_COLUMN].str.contains("not a valid three_letters").all()


def test_all_methods_together_tag_every_kind_and_keep_every_row(data: pd.DataFrame) -> None:
    config = AnomalyConfig(
        zscore=ZScoreConfig(["dep_delay"], group_by=["carrier"]),
        isolation_forest=IsolationForestConfig(["distance", "air_time"], contamination=0.004),
        patterns={"code": three_letters},
    )
    result = tag_anomalies(data, config)
    tagged = result.frame
    assert len(tagged) == len(data) and list(tagged.columns[: len(data.columns)]) == list(data.columns)
    recall, precision = recall_precision(tagged[FLAG_COLUMN], _injected(data), _injected(data))
    assert recall >= 0.95 and precision >= 0.95  # measured 0.98 / 0.98
    assert not tagged.loc[data["truth_null_delay"], FLAG_COLUMN].any()
    # the documented invariant between score and flag
    assert ((tagged[SCORE_COLUMN] > 0.5) == tagged[FLAG_COLUMN]).all()
    assert tagged[SCORE_COLUMN].between(0, 1).all()
    assert tagged[REASONS_COLUMN].isna().eq(~tagged[FLAG_COLUMN]).all()
    assert result.stats.anomalies == int(tagged[FLAG_COLUMN].sum())
    assert set(result.stats.by_rule) == {"zscore:dep_delay by carrier", "isolation_forest", "pattern:code"}
    top = top_anomalies(tagged, 5, ["carrier", "dep_delay"])
    assert len(top) == 5 and top[0][SCORE_COLUMN] >= top[-1][SCORE_COLUMN]
    assert {"carrier", "dep_delay", SCORE_COLUMN, REASONS_COLUMN} == set(top[0])


def test_retagging_replaces_the_columns(data: pd.DataFrame) -> None:
    config = AnomalyConfig(zscore=ZScoreConfig(["dep_delay"], group_by=["carrier"]))
    once = tag_anomalies(data, config).frame
    twice = tag_anomalies(once, config).frame
    assert list(twice.columns) == list(once.columns)
    pd.testing.assert_frame_equal(once, twice)


def test_small_groups_use_global_statistics() -> None:
    values = np.r_[np.random.default_rng(1).normal(0, 1, 500), [3.5, 40.0]]
    frame = pd.DataFrame({"g": ["big"] * 500 + ["tiny", "tiny"], "x": values})
    tagged = tag_anomalies(frame, AnomalyConfig(zscore=ZScoreConfig(["x"], group_by=["g"], min_group_size=30))).frame
    # in a two-row group both values would be 'normal'; against all rows 40 is an outlier, 3.5 is not
    assert tagged[FLAG_COLUMN].tolist()[-2:] == [False, True]


def test_nulls_constant_columns_and_empty_frames_do_not_crash() -> None:
    frame = pd.DataFrame(
        {
            "all_null": pd.array([None] * 50, dtype="Float64"),
            "constant": pd.array([7] * 50, dtype="Int64"),
            "g": pd.array([None] * 25 + ["a"] * 25, dtype="string"),
        }
    )
    config = AnomalyConfig(
        zscore=ZScoreConfig(["all_null", "constant"], group_by=["g"]),
        isolation_forest=IsolationForestConfig(["all_null", "constant"]),
    )
    tagged = tag_anomalies(frame, config).frame
    assert not tagged[FLAG_COLUMN].any()
    empty = tag_anomalies(frame.iloc[:0], config)
    assert empty.stats.rows == 0 and empty.stats.rate == 0.0 and list(empty.frame.columns)[-3:] == [SCORE_COLUMN, FLAG_COLUMN, REASONS_COLUMN]


def test_mostly_identical_values_fall_back_to_mean_absolute_deviation() -> None:
    frame = pd.DataFrame({"x": [0.0] * 90 + [1.0] * 9 + [500.0]})
    flagged = tag_anomalies(frame, AnomalyConfig(zscore=ZScoreConfig(["x"]))).frame[FLAG_COLUMN]
    assert flagged.tolist() == [False] * 99 + [True]


def test_unknown_columns_and_bad_validators_are_named() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(KeyError, match="'nope'"):
        tag_anomalies(frame, AnomalyConfig(zscore=ZScoreConfig(["nope"])))
    with pytest.raises(TypeError, match="column 'x'"):
        tag_anomalies(frame, AnomalyConfig(patterns={"x": lambda s: True}))  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="at least one method"):
        AnomalyConfig()


def test_every_numeric_storage_type_of_a_clean_table_is_scored() -> None:
    """Arrow decimals (what decimal columns are), nullable ints, bools: nulls stay nulls."""
    import decimal

    import pyarrow as pa

    values = [decimal.Decimal("10.00")] * 60 + [None, decimal.Decimal("9999.99")]
    frame = pd.DataFrame(
        {
            "amount": pd.Series(pd.array(values, dtype=pd.ArrowDtype(pa.decimal128(12, 2)))),
            "qty": pd.array([3] * 30 + [4] * 30 + [None, 400], dtype="Int64"),
            "ok": pd.array([True] * 61 + [None], dtype="boolean"),
        }
    )
    config = AnomalyConfig(
        zscore=ZScoreConfig(["amount", "qty"]),
        isolation_forest=IsolationForestConfig(["amount", "qty", "ok"], contamination=0.02),
    )
    tagged = tag_anomalies(frame, config).frame
    assert tagged[FLAG_COLUMN].tolist() == [False] * 61 + [True]
    assert "amount=9999.99: robust z" in tagged.loc[61, REASONS_COLUMN]
