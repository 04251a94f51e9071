"""Column descriptions reach the UI's Columns table: declared on the asset, kept on every
materialization's ``dagster/column_schema`` with the stored types, for spec columns and for the
columns etl_assets adds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import AssetKey, DagsterInstance, TableColumnConstraints

from etl_assets.factory import build_definitions
from etl_assets.lib.dedup.engine import CLUSTER_ID, CLUSTER_SIZE, KEPT_ID, MATCH_KIND, SCORE
from etl_assets.lib.io.metadata import declared_columns, table_schema
from etl_assets.lib.io.postgres.writer import RUN_ID_COLUMN
from etl_assets.lib.quality.anomaly import FLAG_COLUMN, REASONS_COLUMN, SCORE_COLUMN
from etl_assets.lib.quality.score import ROW_SCORE_COLUMN
from etl_assets.lib.sources.files import PARSE_ERROR_COLUMN, SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN
from etl_assets.lib.spec import PARTITION_COLUMN, parse_spec
from etl_assets.lib.system_columns import SYSTEM_COLUMN_DESCRIPTIONS
from etl_assets.lib.transforms.rejects import REASON, REASON_KIND
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders

DESCRIBED_SHOP = SHOP_SPEC.replace(
    "      amount: {type: float}\n",
    "      amount: {type: float, description: 'Order total in EUR, VAT included'}\n",
)


def test_every_column_etl_assets_adds_is_described() -> None:
    added = {
        SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN, PARTITION_COLUMN, REASON_KIND,
        REASON, ROW_SCORE_COLUMN, SCORE_COLUMN, FLAG_COLUMN, REASONS_COLUMN, CLUSTER_ID,
        CLUSTER_SIZE, KEPT_ID, SCORE, MATCH_KIND, RUN_ID_COLUMN,
    }  # fmt: skip
    assert added == set(SYSTEM_COLUMN_DESCRIPTIONS)


def test_declared_descriptions_and_constraints_with_stored_types() -> None:
    spec = parse_spec(DESCRIBED_SHOP)
    defs = build_definitions([spec], "/nowhere")
    clean = defs.get_assets_def(AssetKey(["shop", "clean", "orders"]))
    declared = declared_columns(clean.metadata_by_key[AssetKey(["shop", "clean", "orders"])])
    assert declared["amount"].description == "Order total in EUR, VAT included"
    assert declared["order_id"].constraints == TableColumnConstraints(nullable=False)
    frame = pd.DataFrame({"amount": pd.array([1.5], dtype="Float64"), "_quality_score": [1.0]})
    schema = table_schema(frame, declared)
    amount, score = schema.columns
    assert (amount.type, amount.description) == ("float64", "Order total in EUR, VAT included")
    assert score.description == SYSTEM_COLUMN_DESCRIPTIONS["_quality_score"]


def test_materializations_carry_the_descriptions(tmp_path: Path) -> None:
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", [("1", "1", "2.5", "2024-01-01T08:00:00Z")])
    defs = build_definitions([parse_spec(DESCRIBED_SHOP)], tmp_path, tmp_path / "warehouse")
    job = defs.resolve_job_def("shop_job")
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, partition_key="2024-01-01").success

        def described(*path: str) -> dict[str, str | None]:
            event = instance.get_latest_materialization_event(AssetKey(list(path)))
            assert event is not None and event.asset_materialization is not None
            schema = event.asset_materialization.metadata["dagster/column_schema"].value
            return {column.name: column.description for column in schema.columns}

        clean = described("shop", "clean", "orders")
        assert clean["amount"] == "Order total in EUR, VAT included"
        assert clean["_quality_score"] == SYSTEM_COLUMN_DESCRIPTIONS["_quality_score"]
        assert clean["order_id"] is None  # declared without a description
        rejected = described("shop", "rejected", "orders")
        assert rejected["_reason"] == SYSTEM_COLUMN_DESCRIPTIONS["_reason"]
        daily = described("shop", "agg", "daily_country")
        assert daily["revenue"] == "Metric: sum(amount)."
        assert daily["country"] == "Group key."
        assert daily["window_start"].startswith("Start of the row's window of one day on ordered_at")
