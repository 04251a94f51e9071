"""Quality checks in real materializations: pass on good data, fail on bad, block downstream."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, materialize

from etl_assets.factory import build_pipeline_definitions
from etl_assets.factory.__init__ import build_resources
from etl_assets.lib.spec import parse_spec

SPEC = """pipeline: shop
partitions: {type: daily, start: 2024-01-01, end: 2024-01-05}
sources:
  orders: {format: csv, path: "landing/orders/{partition}.csv", partitioned: true}
  customers: {format: csv, path: landing/customers.csv}
clean:
  customers:
    from: customers
    columns:
      customer_id: {type: int, required: true, unique: true}
      email: {type: string, semantic: email}
  orders:
    from: orders
    columns:
      order_id: {type: int, required: true, unique: true}
      customer_id: {type: int, required: true, references: customers.customer_id}
      amount: {type: float, min: 0}
      placed: {type: datetime, timezone: UTC}
    rules: ["amount <= 1000"]
    quality: {min_score: MIN_SCORE, severity: SEVERITY, freshness_column: placed, max_age: 1d}
aggregates:
  per_customer:
    from: orders
    partitioned: true
    group_by: [customer_id]
    metrics: {orders: count(), revenue: sum(amount)}
"""


def write(root: Path, day: str, rows: list[str]) -> None:
    folder = root / "landing" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{day}.csv").write_text("order_id,customer_id,amount,placed\n" + "\n".join(rows) + "\n")
    (root / "landing" / "customers.csv").write_text("customer_id,email\n1,a@example.org\n2,b@example.org\n")


def run(root: Path, instance: DagsterInstance, day: str, min_score: float = 50, severity: str = "warn"):
    spec = parse_spec(SPEC.replace("MIN_SCORE", str(min_score)).replace("SEVERITY", severity))
    defs = build_pipeline_definitions(spec)
    assets = list(defs.assets or [])
    return materialize(assets, resources=build_resources(root), instance=instance, partition_key=day, raise_on_error=False)


def checks(result) -> dict[tuple[str, str], object]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


GOOD = ["1,1,10.0,2024-01-02T10:00:00Z", "2,2,20.0,2024-01-02T11:00:00Z"]


def test_good_partition_passes_every_check(tmp_path: Path) -> None:
    write(tmp_path, "2024-01-02", GOOD)
    with DagsterInstance.ephemeral() as instance:
        result = run(tmp_path, instance, "2024-01-02")
    assert result.success
    got = checks(result)
    for name in ("schema", "references", "quality_score"):
        assert got[("shop/clean/orders", name)].passed, name
    assert got[("shop/agg/per_customer", "schema")].passed
    schema = got[("shop/clean/orders", "schema")]
    assert schema.metadata["rows_checked"].value == 2
    score = got[("shop/clean/orders", "quality_score")].metadata
    assert score["quality/timeliness"].value == 100.0  # newest 11:00 is 13h before the partition's end
    assert "shop/agg/per_customer" in materialized(result)


def test_blocking_schema_failure_stops_downstream(tmp_path: Path) -> None:
    write(tmp_path, "2024-01-02", [*GOOD, "3,1,-5.0,2024-01-02T12:00:00Z", "3,2,5000,2024-01-02T13:00:00Z"])
    with DagsterInstance.ephemeral() as instance:
        result = run(tmp_path, instance, "2024-01-02")
        assert not result.success
        schema = checks(result)[("shop/clean/orders", "schema")]
        assert not schema.passed and schema.severity == AssetCheckSeverity.ERROR
        assert schema.metadata["failures_by_column_and_rule"].value == {
            "amount": {"min": 1}, "order_id": {"unique": 2}, "(table)": {"rule: amount <= 1000": 1},
        }
        assert "amount.min" in schema.metadata["failing_rows_sample"].value
        # the aggregate downstream never ran
        assert "shop/agg/per_customer" not in materialized(result)
        assert instance.get_latest_materialization_event(AssetKey(["shop", "agg", "per_customer"])) is None


def test_check_sees_only_the_partitions_built(tmp_path: Path) -> None:
    write(tmp_path, "2024-01-02", GOOD)
    write(tmp_path, "2024-01-03", ["9,1,-1.0,2024-01-03T10:00:00Z"])  # bad, but another partition
    with DagsterInstance.ephemeral() as instance:
        day2 = run(tmp_path, instance, "2024-01-02")
        assert day2.success and checks(day2)[("shop/clean/orders", "schema")].passed
        day3 = run(tmp_path, instance, "2024-01-03")
        evaluation = checks(day3)[("shop/clean/orders", "schema")]
        assert not evaluation.passed and evaluation.metadata["rows_checked"].value == 1


def test_orphans_warn_without_blocking(tmp_path: Path) -> None:
    write(tmp_path, "2024-01-02", [*GOOD, "3,7,1.0,2024-01-02T12:00:00Z", "4,7,1.0,2024-01-02T12:30:00Z"])
    with DagsterInstance.ephemeral() as instance:
        result = run(tmp_path, instance, "2024-01-02")
    assert result.success
    refs = checks(result)[("shop/clean/orders", "references")]
    assert not refs.passed and refs.severity == AssetCheckSeverity.WARN
    assert refs.metadata["orphans/customer_id"].value == 2
    assert refs.metadata["orphan_values_sample"].value == {"customer_id": {"7": 2}}
    assert "shop/agg/per_customer" in materialized(result)


@pytest.mark.parametrize(("severity", "blocks"), [("warn", False), ("error", True)])
def test_quality_score_threshold_severity(tmp_path: Path, severity: str, blocks: bool) -> None:
    # stale data: the newest order is 3 days before the partition's end -> timeliness 0
    write(tmp_path, "2024-01-04", ["1,1,10.0,2024-01-02T00:00:00Z"])
    with DagsterInstance.ephemeral() as instance:
        result = run(tmp_path, instance, "2024-01-04", min_score=99, severity=severity)
    evaluation = checks(result)[("shop/clean/orders", "quality_score")]
    assert not evaluation.passed
    assert evaluation.metadata["quality/timeliness"].value == 0.0
    assert evaluation.severity == (AssetCheckSeverity.ERROR if blocks else AssetCheckSeverity.WARN)
    assert result.success is not blocks
    assert ("shop/agg/per_customer" in materialized(result)) is not blocks


def test_unbuilt_dimension_leaves_references_unchecked_not_failed_run(tmp_path: Path) -> None:
    write(tmp_path, "2024-01-02", GOOD)
    spec = parse_spec(SPEC.replace("MIN_SCORE", "0").replace("SEVERITY", "warn"))
    assets = list(build_pipeline_definitions(spec).assets or [])
    with DagsterInstance.ephemeral() as instance:
        result = materialize(assets, resources=build_resources(tmp_path), instance=instance, partition_key="2024-01-02",
                             selection=[AssetKey(["shop", layer, "orders"]) for layer in ("raw", "clean", "rejected")])
    assert result.success
    refs = checks(result)[("shop/clean/orders", "references")]
    assert not refs.passed and refs.severity == AssetCheckSeverity.WARN
    assert "customer_id: not checked, shop/clean/customers is not materialized" in refs.description
