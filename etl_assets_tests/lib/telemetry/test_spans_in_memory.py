"""Spans and counters of a real materialization, recorded by the SDK's in-memory exporter.

The shop pipeline over three days (one single-run backfill): day 1 has a duplicate order and two
rows that fail their types, day 3 a ragged record. What the spans and counters say is compared
with what the run actually stored (the tables loaded back through the IO managers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from etl_assets.factory import build_definitions
from etl_assets.lib import telemetry
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
DAY1 = [
    ("1", "1", "10.0", "2024-01-01T09:00:00Z"),
    ("2", "2", "5.5", "2024-01-01T10:00:00Z"),
    ("2", "2", "5.5", "2024-01-01T10:00:00Z"),  # duplicate order_id: removed, counted
    ("x3", "1", "1.0", "2024-01-01T11:00:00Z"),  # not an int: rejected
    ("4", "", "1.0", "2024-01-01T12:00:00Z"),  # required customer missing: rejected
]
DAY2 = [("5", "3", "7.25", "2024-01-02T08:00:00Z"), ("6", "1", "2.75", "2024-01-02T09:30:00Z")]
DAY3 = "order_id,customer_id,amount,ordered_at\n7,1,1.5,2024-01-03T08:00:00Z\n8,1,2,2024-01-03T09:00:00Z,extra\n"


class Recorded:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def counter_total(self, name: str, asset_key: str) -> int:
        data = self.metrics.get_metrics_data()
        total = 0
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        total += sum(
                            point.value
                            for point in metric.data.data_points
                            if point.attributes.get("etl_assets.asset_key") == asset_key
                        )
        return total


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    into = Recorded()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(into.spans))
    telemetry.configure(tracer_provider, MeterProvider(metric_readers=[into.metrics]))
    try:
        yield into
    finally:
        telemetry.reset()


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    write_customers(tmp_path)
    write_orders(tmp_path, DAYS[0], DAY1)
    write_orders(tmp_path, DAYS[1], DAY2)
    (tmp_path / "landing" / "orders" / f"{DAYS[2]}.csv").write_text(DAY3)
    return tmp_path


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted(s.name for s in spans))
    return found[0]


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> dict[str, ReadableSpan]:
    assert parent.context is not None
    return {
        s.name: s
        for s in spans
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    }


def test_a_range_run_is_traced_with_the_rows_it_stored(landed: Path, recorded: Recorded) -> None:
    defs = build_definitions([parse_spec(SHOP_SPEC)], landed, landed / "warehouse")
    tags = {ASSET_PARTITION_RANGE_START_TAG: DAYS[0], ASSET_PARTITION_RANGE_END_TAG: DAYS[-1]}
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("shop_job").execute_in_process(instance=instance, tags=tags)
        assert result.success

        def stored(layer: str, name: str, partitioned: bool = True) -> int:
            key = AssetKey(["shop", layer, name])
            if not partitioned:
                return len(defs.load_asset_value(key, instance=instance))
            return sum(
                len(defs.load_asset_value(key, partition_key=day, instance=instance))
                for day in DAYS
            )

        clean_rows, rejected_rows = stored("clean", "orders"), stored("rejected", "orders")
        agg_rows = stored("agg", "daily_country")
        customers = stored("clean", "customers", partitioned=False)

    spans = recorded.finished()
    steps = {s.name for s in spans if s.name.startswith("materialize ")}
    assert steps == {
        "materialize shop/raw/orders",
        "materialize shop/raw/customers",
        "materialize shop/clean/orders",
        "materialize shop/clean/customers",
        "materialize shop/agg/daily_country",
        "materialize shop/agg/all_time",
    }
    # every span of the run in one trace per step, children under their step
    for step_name in steps:
        step = _one(spans, step_name)
        assert step.parent is None
        assert step.attributes["etl_assets.pipeline"] == "shop"
        assert step.attributes["dagster.run_id"] == result.run_id
        for child in _children(spans, step).values():
            assert child.context.trace_id == step.context.trace_id
            assert child.attributes["etl_assets.pipeline"] == "shop"

    # raw: the source read and the output write under the step
    raw = _one(spans, "materialize shop/raw/orders")
    assert raw.attributes["etl_assets.layer"] == "raw"
    assert raw.attributes["etl_assets.partition.range"] == "2024-01-01..2024-01-03"
    assert raw.attributes["etl_assets.partition.count"] == 3
    raw_children = _children(spans, raw)
    assert set(raw_children) == {"read source orders", "write shop/raw/orders"}
    read = raw_children["read source orders"]
    files = sorted((landed / "landing" / "orders").glob("*.csv"))
    assert read.attributes["etl_assets.rows"] == 5 + 2 + 2
    assert read.attributes["etl_assets.files"] == 3
    assert read.attributes["etl_assets.bytes"] == sum(f.stat().st_size for f in files)
    assert read.attributes["etl_assets.format"] == "csv"
    assert str(read.attributes["etl_assets.storage.uri"]).endswith("landing/orders/{partition}.csv")
    assert read.attributes["etl_assets.partition.range"] == "2024-01-01..2024-01-03"
    raw_write = raw_children["write shop/raw/orders"]
    assert raw_write.attributes["etl_assets.rows"] == 9
    assert raw_write.attributes["etl_assets.format"] == "parquet"
    written = sorted((landed / "warehouse" / "shop" / "raw" / "orders").glob("*.parquet"))
    assert raw_write.attributes["etl_assets.bytes"] == sum(f.stat().st_size for f in written)
    assert str(raw_write.attributes["etl_assets.storage.uri"]) == str(
        landed / "warehouse" / "shop" / "raw" / "orders"
    )

    # clean: input load, both outputs, and the counts of the step
    clean = _one(spans, "materialize shop/clean/orders")
    clean_children = _children(spans, clean)
    assert set(clean_children) == {
        "load shop/raw/orders",
        "write shop/clean/orders",
        "write shop/rejected/orders",
    }
    assert clean_children["load shop/raw/orders"].attributes["etl_assets.rows"] == 9
    assert clean_children["write shop/clean/orders"].attributes["etl_assets.rows"] == clean_rows
    assert (
        clean_children["write shop/rejected/orders"].attributes["etl_assets.rows"] == rejected_rows
    )
    assert (clean_rows, rejected_rows) == (5, 3)  # 9 in = 5 out + 3 rejected + 1 duplicate
    assert clean.attributes["etl_assets.rows_in"] == 9
    assert clean.attributes["etl_assets.rows_out"] == clean_rows
    assert clean.attributes["etl_assets.rows_rejected"] == rejected_rows
    assert clean.attributes["etl_assets.rows_deduplicated"] == 1
    # the step span covers its input load and its writes
    assert clean.start_time <= clean_children["load shop/raw/orders"].start_time
    assert clean.end_time >= clean_children["write shop/rejected/orders"].end_time

    # aggregate over partitions and joined table
    agg = _one(spans, "materialize shop/agg/daily_country")
    agg_children = _children(spans, agg)
    assert set(agg_children) == {
        "load shop/clean/orders",
        "load shop/clean/customers",
        "write shop/agg/daily_country",
    }
    assert agg_children["load shop/clean/customers"].attributes["etl_assets.rows"] == customers
    assert "etl_assets.partition.count" not in agg_children["load shop/clean/customers"].attributes
    assert agg_children["write shop/agg/daily_country"].attributes["etl_assets.rows"] == agg_rows
    assert agg.attributes["etl_assets.rows_out"] == agg_rows

    # counters: the same counts, per asset
    assert recorded.counter_total("etl_assets.rows.in", "shop/clean/orders") == 9
    assert recorded.counter_total("etl_assets.rows.out", "shop/clean/orders") == clean_rows
    assert recorded.counter_total("etl_assets.rows.rejected", "shop/clean/orders") == rejected_rows
    assert recorded.counter_total("etl_assets.rows.deduplicated", "shop/clean/orders") == 1
    assert recorded.counter_total("etl_assets.rows.out", "shop/agg/daily_country") == agg_rows
    assert recorded.counter_total("etl_assets.rows.in", "shop/raw/customers") == 3


def test_a_failed_read_marks_its_span_and_its_step(landed: Path, recorded: Recorded) -> None:
    defs = build_definitions([parse_spec(SHOP_SPEC)], landed, landed / "warehouse")
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("shop_job").execute_in_process(
            instance=instance, partition_key="2024-01-05", raise_on_error=False
        )
    assert not result.success  # no file landed for that day

    spans = recorded.finished()
    step = _one(spans, "materialize shop/raw/orders")
    read = _children(spans, step)["read source orders"]
    for span in (step, read):
        assert span.status.status_code is StatusCode.ERROR
        assert "2024-01-05" in str(span.status.description)
        assert [event.name for event in span.events] == ["exception"]
    assert step.end_time is not None and step.end_time >= read.end_time


def test_a_failed_write_marks_its_span_and_ends_its_step(landed: Path, recorded: Recorded) -> None:
    (landed / "warehouse" / "shop").mkdir(parents=True)
    (landed / "warehouse" / "shop" / "raw").write_text("a file where the raw tables' folder goes")
    defs = build_definitions([parse_spec(SHOP_SPEC)], landed, landed / "warehouse")
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("shop_job").execute_in_process(
            instance=instance, partition_key="2024-01-01", raise_on_error=False
        )
    assert not result.success

    spans = recorded.finished()
    step = _one(spans, "materialize shop/raw/orders")
    children = _children(spans, step)
    assert children["read source orders"].status.status_code is StatusCode.UNSET
    write = children["write shop/raw/orders"]
    assert write.status.status_code is StatusCode.ERROR
    assert "warehouse/shop/raw" in str(write.status.description)
    # the write failed in Dagster's frame, after the step's function yielded: the step span is
    # still ended (when Dagster drops the suspended function) and marked
    assert step.status.status_code is StatusCode.ERROR
