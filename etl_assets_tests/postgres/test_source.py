"""PostgreSQL sources: tables and parameterized queries, chunked, incremental across restarts."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from etl_assets.factory import build_definitions
from etl_assets.factory.postgres_source import HIGH_WATER_MARK, previous_high_water_mark
from etl_assets.lib.io.postgres import read_table
from etl_assets.lib.io.postgres.identifiers import TableName
from etl_assets.lib.sources.postgres import (
    decode_mark,
    encode_mark,
    iter_postgres_chunks,
    read_postgres_source,
)
from etl_assets.lib.spec import PostgresSourceOptions, SourceSpec, parse_spec

pytestmark = pytest.mark.xdist_group("postgres")


def _load_events(pg, first: int, last: int) -> None:
    with pg.connection() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS app.events (id bigint PRIMARY KEY, kind text, amount numeric(10,2), "
            "ok boolean, small integer, at timestamptz, day date)"
        )
        conn.execute(
            "INSERT INTO app.events SELECT i, CASE WHEN i %% 3 = 0 THEN NULL ELSE 'k' || (i %% 4) END, "
            "i * 1.25, i %% 2 = 0, CASE WHEN i %% 5 = 0 THEN NULL ELSE i END, "
            "timestamptz '2024-01-01 00:00+00' + i * interval '1 minute', date '2024-01-01' + (i %% 10) "
            "FROM generate_series(%s::int, %s::int) AS i",
            (first, last),
        )


@pytest.fixture
def events(pg):
    with pg.connection() as conn:
        conn.execute("CREATE SCHEMA app")
    _load_events(pg, 1, 250)
    return pg


def test_table_read_in_chunks_with_types(events):
    options = PostgresSourceOptions(table="app.events", chunk_rows=100)
    batches = list(iter_postgres_chunks(events, options, name="events"))
    assert [b.num_rows for b in batches] == [100, 100, 50]
    read = read_postgres_source(events, options, name="events")
    frame = read.frame
    assert read.chunks == 3 and len(frame) == 250
    assert str(frame["id"].dtype) == "Int64" and str(frame["small"].dtype) == "Int32"
    assert str(frame["ok"].dtype) == "boolean"
    assert frame["amount"].iloc[0] == decimal.Decimal("1.25")
    assert str(frame["at"].dtype) == "datetime64[us, UTC]"
    assert frame["at"].iloc[0] == pd.Timestamp("2024-01-01 00:01", tz="UTC")
    assert frame["kind"].isna().sum() == 83 and frame["small"].isna().sum() == 50
    assert frame["day"].iloc[0] == dt.date(2024, 1, 2)
    empty = read_postgres_source(
        events, PostgresSourceOptions(query="SELECT * FROM app.events WHERE false"), name="e"
    ).frame
    assert empty.empty and dict(empty.dtypes) == dict(frame.dtypes)


def test_query_with_parameters_binds_values(events):
    options = PostgresSourceOptions(
        query="SELECT id, kind FROM app.events WHERE kind = %(kind)s AND id < %(limit)s",
        params={"kind": "k1", "limit": 50},
    )
    frame = read_postgres_source(events, options, name="q").frame
    assert len(frame) == math.ceil(49 / 4) - len(
        [i for i in range(1, 50) if i % 4 == 1 and i % 3 == 0]
    )
    assert set(frame["kind"]) == {"k1"}
    hostile = options.model_copy(update={"params": {"kind": "k1' OR '1'='1", "limit": 50}})
    assert read_postgres_source(events, hostile, name="q").frame.empty


def test_spec_validation():
    with pytest.raises(ValueError, match="exactly one of 'table' or 'query'"):
        PostgresSourceOptions()
    with pytest.raises(ValueError, match=r"'schema\.table'"):
        PostgresSourceOptions(table="app.events; DROP TABLE app.events")
    with pytest.raises(ValueError, match="identifier"):
        PostgresSourceOptions(table="events; DROP TABLE events")
    with pytest.raises(ValueError, match="identifier"):
        PostgresSourceOptions(table="events", cursor_column="id) OR (1=1")
    with pytest.raises(ValueError, match="a csv source needs 'path'"):
        SourceSpec(format="csv")
    with pytest.raises(ValueError, match="needs a 'postgres' block"):
        SourceSpec(format="postgres")
    spec = SourceSpec(format="postgres", postgres={"table": "events"})
    assert spec.path is None and spec.postgres.table == "events"


def test_mark_round_trip():
    for value in (
        5,
        decimal.Decimal("1.50"),
        1.5,
        "b",
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    ):
        back = decode_mark(encode_mark(value))
        assert back == value and type(back) is type(value)


SPEC = """
pipeline: app
storage: {default: postgres}
sources:
  events:
    format: postgres
    postgres: {table: app.events, cursor_column: id, chunk_rows: 64, primary_key: [id]}
clean:
  events:
    from: events
    columns:
      id: {type: int, required: true}
      amount: {type: decimal, precision: 10, scale: 2}
aggregates:
  by_ok:
    from: events
    group_by: []
    metrics: {n: count(), total: sum(amount)}
"""


def test_incremental_pipeline_survives_restart(events, tmp_path):
    spec = parse_spec(SPEC)
    defs = build_definitions([spec], tmp_path, postgres=events)
    assets = list(defs.assets)
    resources = dict(defs.resources)
    home = tmp_path / "home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        assert materialize(assets, resources=resources, instance=instance).success
        assert previous_high_water_mark(instance, AssetKey(["app", "raw", "events"])) == 250
    _load_events(events, 251, 300)
    # a new instance object on the same folder: what a restarted deployment sees
    with DagsterInstance.from_config(str(home)) as instance:
        result = materialize(assets, resources=resources, instance=instance)
        assert result.success
        mat = result.asset_materializations_for_node("app__raw__events")[0]
        assert mat.metadata["rows_read"].value == 51  # >= re-reads id 250, upserted once
        assert mat.metadata[HIGH_WATER_MARK].value == {"type": "int", "value": "300"}
        assert mat.metadata["previous_high_water_mark"].value == {"type": "int", "value": "250"}
        # nothing new: only the row at the mark is re-read, and the mark stays where it was
        again = materialize(assets, resources=resources, instance=instance)
        mat = again.asset_materializations_for_node("app__raw__events")[0]
        assert mat.metadata["rows_read"].value == 1
        assert mat.metadata[HIGH_WATER_MARK].value == {"type": "int", "value": "300"}
    # the raw table accumulated by primary key: 300 rows, each once
    raw = read_table(events, TableName("app", "raw_events"))
    assert len(raw) == 300 and raw["id"].is_unique
    agg = read_table(events, TableName("app", "agg_by_ok"))
    assert int(agg["n"].iloc[0]) == 300


def test_postgres_spec_without_server_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="ETL_ASSETS_POSTGRES_HOST"):
        build_definitions([parse_spec(SPEC)], tmp_path)
