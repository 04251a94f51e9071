"""Shared fixtures: a small partitioned spec and its landing folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SHOP_SPEC = """
pipeline: shop
partitions: {type: daily, start: 2024-01-01, end: 2024-01-11}
schedule: {cron: "0 6 * * *", timezone: UTC}
sources:
  orders:
    format: csv
    path: landing/orders/{partition}.csv
    partitioned: true
    sensor: true
  customers:
    format: csv
    path: landing/customers.csv
    sensor: true
clean:
  orders:
    from: orders
    columns:
      order_id: {type: int, required: true}
      customer_id: {type: int, required: true}
      amount: {type: float}
      ordered_at: {type: datetime, timezone: UTC, required: true}
    dedup: {keys: [order_id]}
  customers:
    from: customers
    columns:
      customer_id: {type: int, required: true}
      country: {type: string, case: upper}
aggregates:
  daily_country:
    from: orders
    partitioned: true
    join: [{table: customers, on: [customer_id], columns: [country]}]
    group_by: [country]
    window: {column: ordered_at, every: day}
    metrics: {orders: count(), revenue: sum(amount)}
  all_time:
    from: orders
    group_by: [customer_id]
    metrics: {orders: count(), revenue: sum(amount)}
"""


@pytest.fixture
def shop_spec_text() -> str:
    return SHOP_SPEC


def write_orders(root: Path, day: str, rows: list[tuple[str, str, str, str]]) -> Path:
    folder = root / "landing" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day}.csv"
    lines = ["order_id,customer_id,amount,ordered_at", *(",".join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_customers(root: Path) -> Path:
    path = root / "landing" / "customers.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("customer_id,country\n1,de\n2,fr\n3, nl \n")
    return path


# Real servers started by the tests themselves (session-scoped, one per xdist worker).
from etl_assets_tests.servers.http import http_server  # noqa: E402, F401
from etl_assets_tests.servers.s3 import s3_bucket, s3_server  # noqa: E402, F401
