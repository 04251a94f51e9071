"""Schema from the spec, orphan detection and the quality score, against injected ground truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from etl_assets.lib.quality.consistency import find_orphans
from etl_assets.lib.quality.schema import (
    build_aggregate_schema,
    build_schema,
    validate_clean,
    validate_frame,
)
from etl_assets.lib.quality.score import score_table, timeliness
from etl_assets.lib.spec import parse_spec
from etl_assets.lib.transforms import clean_table
from etl_assets_tests.lib.quality.datagen import ORDERS_SPEC, orders_and_customers

N = 1000


@pytest.fixture(scope="module")
def spec():
    return parse_spec(ORDERS_SPEC)


@pytest.fixture(scope="module")
def related():
    return orders_and_customers(N, seed=11)


def clean(spec, raw: pd.DataFrame, table: str):
    result = clean_table(raw.astype("str"), spec.clean[table], table=table)
    assert result.stats.rows_rejected == 0
    return result


def test_schema_is_a_pandera_object_usable_on_its_own(spec) -> None:
    schema = build_schema(spec.clean["orders"])
    assert isinstance(schema, pa.DataFrameSchema)
    assert schema.columns["order_id"].nullable is False
    assert schema.columns["amount"].nullable is True
    assert {c.name for c in schema.columns["email"].checks} == {"semantic:email"}


def test_failures_per_rule_match_injections(spec, related) -> None:
    orders = clean(spec, related.orders, "orders").clean
    report = validate_clean(orders, spec.clean["orders"])
    k = len(related.injected["amount_below_min"])
    assert report.failures == {
        "amount": {"min": k},
        "status": {"allowed": k},
        "email": {"semantic:email": k},
        "order_id": {"unique": 2 * k},
        "(table)": {"rule: shipped >= placed": k},
    }
    for (column, rule), name in [(("amount", "min"), "amount_below_min"), (("status", "allowed"), "status_not_allowed"),
                                 (("email", "semantic:email"), "email_invalid"),
                                 (("(table)", "rule: shipped >= placed"), "shipped_before_placed"),
                                 (("order_id", "unique"), "duplicate_order_id_pairs")]:
        assert set(report.failing_positions[(column, rule)]) == set(related.injected[name]), rule
    # a small sample, every failing rule represented, PII masked
    assert len(report.sample) == 10
    assert {"_row", "_failed_rules"} <= set(report.sample.columns)
    labels = "; ".join(report.sample["_failed_rules"])
    for rule in ("amount.min", "status.allowed", "email.semantic:email", "order_id.unique", "rule: shipped >= placed"):
        assert rule in labels
    assert not report.sample["email"].astype(str).str.contains("@").any()


def test_good_rows_pass(spec, related) -> None:
    bad = np.unique(np.concatenate([v for k, v in related.injected.items() if k != "orphan_customer"]))
    good = related.orders.drop(index=bad)
    report = validate_clean(clean(spec, good, "orders").clean, spec.clean["orders"])
    assert report.passed, report.describe()


def test_dtype_nullability_and_missing_column_fail(spec) -> None:
    frame = pd.DataFrame({
        "order_id": pd.Series([1.0, 2.0]),  # float, not Int64
        "customer_id": pd.array([1, None], dtype="Int64"),  # required but null
        "amount": [1.0, 2.0],
    })
    report = validate_frame(frame, build_schema(spec.clean["orders"]))
    assert report.failures["order_id"] == {"dtype": 1}
    assert report.failures["customer_id"] == {"nullable": 1}
    assert {"status", "placed", "shipped", "email"} <= set(report.failures)
    assert all(r == {"column_present": 1} for c, r in report.failures.items() if c in ("status", "placed"))


def test_orphans_and_score_dimensions(spec, related) -> None:
    customers = clean(spec, related.customers, "customers").clean
    result = clean(spec, related.orders, "orders")
    orders = result.clean
    report = validate_clean(orders, spec.clean["orders"])
    orphans = find_orphans(orders["customer_id"], customers["customer_id"], column="customer_id", references="customers.customer_id")
    k = len(related.injected["orphan_customer"])
    assert orphans.orphans == k and set(np.flatnonzero(orphans.mask)) == set(related.injected["orphan_customer"])
    assert orphans.distinct_orphans == 1 and abs(orphans.coverage - (1 - k / N)) < 1e-12

    score = score_table(orders, list(spec.clean["orders"].columns), report, {"customer_id": orphans}, rules_checked=6)
    assert score.dimensions["completeness"] == 100.0
    assert score.dimensions["validity"] == pytest.approx(100 * (1 - 3 * k / N))
    assert score.dimensions["uniqueness"] == pytest.approx(100 * (1 - 2 * k / N))
    assert score.dimensions["consistency"] == pytest.approx(100 * (1 - 2 * k / N))
    assert score.overall == pytest.approx(np.mean(list(score.dimensions.values())))
    assert "timeliness" not in score.dimensions
    bad_rows = np.unique(np.concatenate(list(related.injected.values())))
    assert (score.row_scores[bad_rows] < 1).all()
    assert (np.delete(score.row_scores, bad_rows) == 1).all()
    assert set(score.as_metadata()) == {"quality/score", "quality/completeness", "quality/uniqueness", "quality/validity", "quality/consistency"}


def test_timeliness_decays_linearly() -> None:
    now = pd.Timestamp("2024-01-03T00:00:00Z")
    assert timeliness(pd.Timestamp("2024-01-02T12:00:00Z"), dt.timedelta(days=1), now)[0] == 100.0
    assert timeliness(pd.Timestamp("2024-01-01T12:00:00Z"), dt.timedelta(days=1), now)[0] == pytest.approx(50.0)
    assert timeliness(pd.Timestamp("2023-12-01"), dt.timedelta(days=1), now)[0] == 0.0
    assert timeliness(None, dt.timedelta(days=1), now)[0] == 0.0


def test_aggregate_schema_catches_duplicates_negative_counts_and_having() -> None:
    spec = parse_spec("""pipeline: p
sources: {s: {format: csv, path: s.csv}}
clean: {t: {from: s, columns: {g: {type: string}, v: {type: float}}}}
aggregates:
  a: {from: t, group_by: [g], metrics: {n: count(), total: sum(v)}, having: ["n >= 2"]}
""")
    schema = build_aggregate_schema(spec.aggregates["a"])
    good = pd.DataFrame({"g": ["x", "y"], "n": [2, 3], "total": [1.0, None]})
    assert validate_frame(good, schema).passed
    bad = pd.DataFrame({"g": ["x", "x", "z"], "n": [2, -1, 1], "total": [1.0, 2.0, 3.0]})
    report = validate_frame(bad, schema)
    assert report.failures == {"n": {"min": 1}, "(table)": {"rule: n >= 2": 2, "unique: g": 2}}
