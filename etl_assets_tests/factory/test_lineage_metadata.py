"""``column_lineage``: the column lineage as a Markdown table the open-source UI shows."""

from __future__ import annotations

from dagster import AssetKey, TableColumnDep, TableColumnLineage

from etl_assets.factory.lineage_metadata import lineage_table


def test_one_row_per_column_with_a_link_to_each_upstream_asset() -> None:
    orders, customers = (
        AssetKey(["shop", "clean", "orders"]),
        AssetKey(["shop", "clean", "customers"]),
    )
    lineage = TableColumnLineage(
        deps_by_column={
            "revenue": [TableColumnDep(asset_key=orders, column_name="amount")],
            "key": [
                TableColumnDep(asset_key=orders, column_name="customer_id"),
                TableColumnDep(asset_key=customers, column_name="customer_id"),
            ],
        }
    )
    assert lineage_table(lineage).value.splitlines() == [
        "| column | from |",
        "|---|---|",
        "| `revenue` | `amount` in [shop/clean/orders](/assets/shop/clean/orders) |",
        # in Dagster's order (TableColumnLineage sorts each column's deps)
        "| `key` | `customer_id` in [shop/clean/customers](/assets/shop/clean/customers), "
        "`customer_id` in [shop/clean/orders](/assets/shop/clean/orders) |",
    ]
