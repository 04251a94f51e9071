"""The shop pipeline with every layer stored in PostgreSQL: same results as with files."""

from __future__ import annotations

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import write_customers, write_orders
from etl_assets_tests.factory.test_materialize_shop import DAY1, DAY2, run_range

pytestmark = pytest.mark.xdist_group("postgres")


def test_shop_range_run_into_postgres(pg, tmp_path, shop_spec_text):
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", DAY1)
    write_orders(tmp_path, "2024-01-02", DAY2)
    spec = parse_spec(
        shop_spec_text.replace("pipeline: shop\n", "pipeline: shop\nstorage: {default: postgres}\n")
    )
    defs = build_definitions([spec], tmp_path, tmp_path / "warehouse", postgres=pg)
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance, "2024-01-01", "2024-01-02")
        assert result.success
        clean = defs.load_asset_value(
            AssetKey(["shop", "clean", "orders"]), partition_key="2024-01-01", instance=instance
        )
        assert clean["order_id"].tolist() == [1, 2]
        assert str(clean["order_id"].dtype) == "Int64" and str(clean["ordered_at"].dt.tz) == "UTC"
        mats = {
            m.asset_key.to_user_string(): m.metadata
            for m in result.asset_materializations_for_node("shop__clean__orders")
        }
        assert mats["shop/clean/orders"]["dagster/table_name"].value == "shop.clean_orders"
        # a rerun of the same range replaces the partitions: nothing doubles
        assert run_range(defs, instance, "2024-01-01", "2024-01-02").success
    with pg.connection() as conn:
        counts = dict(conn.execute("SELECT _partition, count(*) FROM shop.clean_orders GROUP BY 1"))
        rejected = conn.execute("SELECT count(*) FROM shop.rejected_orders").fetchone()[0]
        totals = conn.execute("SELECT sum(orders) FROM shop.agg_all_time").fetchone()[0]
    assert counts == {"2024-01-01": 2, "2024-01-02": 2}
    assert rejected == 2 and totals == 4


def test_days_run_one_by_one_keep_one_layout(pg, tmp_path, shop_spec_text):
    """A day without rejects (or with only some null columns) must not change a table's layout."""
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", DAY1)
    write_orders(tmp_path, "2024-01-02", DAY2)
    spec = parse_spec(
        shop_spec_text.replace("pipeline: shop\n", "pipeline: shop\nstorage: {default: postgres}\n")
    )
    defs = build_definitions([spec], tmp_path, tmp_path / "warehouse", postgres=pg)
    with DagsterInstance.ephemeral() as instance:
        for day in ("2024-01-02", "2024-01-01", "2024-01-02"):
            assert run_range(defs, instance, day, day).success, day
    with pg.connection() as conn:
        counts = dict(conn.execute("SELECT _partition, count(*) FROM shop.clean_orders GROUP BY 1"))
        rejected = dict(
            conn.execute("SELECT _partition, count(*) FROM shop.rejected_orders GROUP BY 1")
        )
    assert counts == {"2024-01-01": 2, "2024-01-02": 2}
    assert rejected == {"2024-01-01": 2}


REF_SPEC = """
pipeline: app
storage: {default: postgres}
sources:
  orders:
    format: postgres
    postgres: {table: app.orders}
  customers:
    format: postgres
    postgres: {table: app.customers}
clean:
  customers:
    from: customers
    columns:
      id: {type: int, required: true}
  orders:
    from: orders
    columns:
      id: {type: int, required: true}
      cid: {type: int, references: customers.id}
"""


def test_unbuilt_postgres_dimension_leaves_references_unchecked(pg, tmp_path):
    """The dimension's table was never written: ``references`` reports it, the run goes on."""
    with pg.connection() as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("CREATE TABLE app.orders (id bigint, cid bigint)")
        conn.execute("CREATE TABLE app.customers (id bigint)")
        conn.execute("INSERT INTO app.orders VALUES (1, 1)")
    defs = build_definitions([parse_spec(REF_SPEC)], tmp_path, postgres=pg)
    selection = [AssetKey(["app", layer, "orders"]) for layer in ("raw", "clean", "rejected")]
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            list(defs.assets), resources=dict(defs.resources), instance=instance, selection=selection
        )
    assert result.success
    (refs,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "references"]
    assert not refs.passed
    assert "cid: not checked, app/clean/customers is not materialized" in refs.description
