"""A partition-range run records each partition's own figures: row counts, conservation counts
and quality score per day, as separate runs of each day would, not the range's totals."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.factory.test_materialize_shop import landed, run_range  # noqa: F401

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
PER_DAY_KEYS = (
    "dagster/row_count", "rows_in", "rows_out", "rows_rejected", "rows_dropped", "rows_deduplicated",
    "quality/score", "quality/completeness", "quality/uniqueness", "quality/validity",
)  # fmt: skip


def _by_partition(instance: DagsterInstance, *path: str) -> dict[str, dict]:
    records = instance.fetch_materializations(AssetKey(list(path)), limit=100).records
    return {
        r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()}  # type: ignore[union-attr]
        for r in records
    }


@pytest.fixture
def both_ways(landed: Path, shop_spec_text: str) -> tuple[dict, dict]:  # noqa: F811
    """Per-partition metadata of one range run and of one run per day, on the same files."""
    outcomes = []
    for ranged in (True, False):
        defs = build_definitions([parse_spec(shop_spec_text)], landed, landed / f"warehouse_{ranged}")
        with DagsterInstance.ephemeral() as instance:
            if ranged:
                assert run_range(defs, instance, DAYS[0], DAYS[-1]).success
            else:
                for day in DAYS:
                    assert run_range(defs, instance, day, day).success
            outcomes.append(
                {
                    layer: _by_partition(instance, "shop", layer, "orders")
                    for layer in ("raw", "clean", "rejected")
                }
                | {"agg": _by_partition(instance, "shop", "agg", "daily_country")}
            )
    return outcomes[0], outcomes[1]


def test_each_partition_of_a_range_run_has_its_own_counts_and_score(both_ways) -> None:
    ranged, _ = both_ways
    clean = ranged["clean"]
    assert [clean[d]["dagster/row_count"] for d in DAYS] == [2, 2, 1]
    assert [clean[d]["rows_in"] for d in DAYS] == [5, 2, 2]
    assert [clean[d]["rows_rejected"] for d in DAYS] == [2, 0, 1]
    assert [clean[d]["rows_deduplicated"] for d in DAYS] == [1, 0, 0]
    # day 1 lost rows to rejects and a duplicate, day 2 lost none: their scores differ
    assert clean[DAYS[0]]["quality/score"] < clean[DAYS[1]]["quality/score"]
    assert [ranged["rejected"][d]["dagster/row_count"] for d in DAYS] == [2, 0, 1]
    assert [ranged["raw"][d]["dagster/row_count"] for d in DAYS] == [5, 2, 2]
    assert [ranged["raw"][d]["files_read"] for d in DAYS] == [1, 1, 1]


def test_a_range_run_records_what_one_run_per_day_records(both_ways) -> None:
    ranged, daily = both_ways
    for day in DAYS:
        for key in PER_DAY_KEYS:
            assert ranged["clean"][day][key] == daily["clean"][day][key], (day, key)
        assert ranged["raw"][day]["dagster/row_count"] == daily["raw"][day]["dagster/row_count"]
        for key in ("dagster/row_count", "groups_out", "quality/score"):
            assert ranged["agg"][day][key] == daily["agg"][day][key], (day, key)
