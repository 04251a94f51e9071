"""Incremental PostgreSQL sources lose nothing: raw accumulates with every storage, rows at the
high-water mark committed late are still read, json/jsonb/arrays arrive as JSON text."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dagster import DagsterInstance, materialize

from etl_assets.factory import build_definitions
from etl_assets.lib.sources.postgres import accumulate, read_postgres_source
from etl_assets.lib.spec import PostgresSourceOptions, parse_spec
from etl_assets.lib.spec.errors import SpecError

pytestmark = pytest.mark.xdist_group("postgres")

FILE_SPEC = """
pipeline: app
storage: {default: parquet}
sources:
  events:
    format: postgres
    postgres: {table: app.events, cursor_column: id, primary_key: [id]}
clean:
  events:
    from: events
    columns:
      id: {type: int, required: true}
      v: {type: string}
"""


def _sql(pg, text: str, params=()) -> None:
    with pg.connection() as conn:
        conn.execute(text, params)


def _node_meta(result, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_file_storage_accumulates_across_runs(pg, tmp_path):
    _sql(pg, "CREATE SCHEMA app")
    _sql(pg, "CREATE TABLE app.events (id bigint PRIMARY KEY, v text, amount numeric(10,2), at timestamptz)")
    _sql(pg, "INSERT INTO app.events SELECT i, 'x', i * 1.5, now() FROM generate_series(1, 10) i")
    defs = build_definitions([parse_spec(FILE_SPEC)], tmp_path, postgres=pg)
    assets, resources = list(defs.assets), dict(defs.resources)
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        assert materialize(assets, resources=resources, instance=instance).success
        _sql(pg, "INSERT INTO app.events SELECT i, 'y', i * 1.5, now() FROM generate_series(11, 15) i")
        _sql(pg, "UPDATE app.events SET v = 'z' WHERE id = 10")  # at the mark: re-read
        result = materialize(assets, resources=resources, instance=instance)
        assert result.success
        raw = _node_meta(result, "app__raw__events")
        assert raw["rows_read"] == 6  # id 10 (at the mark) and 11..15
        assert (raw["rows_new"], raw["rows_replaced"], raw["rows_total"]) == (5, 1, 15)
        assert raw["dagster/row_count"] == 15
        clean = _node_meta(result, "app__clean__events")
        assert clean["dagster/row_count"] == 15
        stored = defs.load_asset_value(["app", "raw", "events"], instance=instance)
    assert sorted(stored["id"].tolist()) == list(range(1, 16)) and stored["id"].is_unique
    assert stored.set_index("id").loc[10, "v"] == "z"
    full = read_postgres_source(pg, PostgresSourceOptions(table="app.events"), name="e").frame
    assert dict(stored.dtypes) == dict(full.dtypes)  # appending kept every dtype


@pytest.mark.parametrize("storage", ["parquet", "postgres"])
def test_lost_stored_table_is_read_again_from_the_start(pg, tmp_path, storage):
    """A mark without its stored table must not leave only the newest rows behind."""
    _sql(pg, "CREATE SCHEMA app")
    _sql(pg, "CREATE TABLE app.events (id bigint PRIMARY KEY, v text, amount numeric(10,2), at timestamptz)")
    _sql(pg, "INSERT INTO app.events SELECT i, 'x', i * 1.5, now() FROM generate_series(1, 10) i")
    spec = parse_spec(FILE_SPEC.replace("default: parquet", f"default: {storage}"))
    defs = build_definitions([spec], tmp_path, postgres=pg)
    assets, resources = list(defs.assets), dict(defs.resources)
    with DagsterInstance.ephemeral() as instance:
        assert materialize(assets, resources=resources, instance=instance).success
        if storage == "postgres":
            _sql(pg, "DROP TABLE app.raw_events")
        else:
            (path,) = [p for p in tmp_path.rglob("events.parquet") if p.parent.name == "raw"]
            path.unlink()
        _sql(pg, "INSERT INTO app.events SELECT i, 'y', i * 1.5, now() FROM generate_series(11, 12) i")
        result = materialize(assets, resources=resources, instance=instance)
        assert result.success
        assert _node_meta(result, "app__raw__events")["rows_read"] == 12
        raw = defs.load_asset_value(["app", "raw", "events"], instance=instance)
    full = read_postgres_source(pg, PostgresSourceOptions(table="app.events"), name="e").frame
    assert sorted(raw["id"].tolist()) == list(range(1, 13))
    assert dict(raw.dtypes) == dict(full.dtypes)


def test_cursor_without_primary_key_is_refused_naming_the_field(tmp_path):
    text = FILE_SPEC.replace(", primary_key: [id]", "")
    with pytest.raises(SpecError, match=r"app\.yaml:7: sources\.events\.postgres\.cursor_column: cursor_column 'id' needs 'primary_key'"):
        parse_spec(text, tmp_path / "app.yaml")


def test_rows_sharing_the_mark_committed_later_are_not_lost(pg):
    """Three rows share one timestamp: two are committed before the first run, the third
    after it. A ``>`` mark would skip the third forever."""
    at = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    _sql(pg, "CREATE TABLE ev (id bigint PRIMARY KEY, at timestamptz NOT NULL)")
    _sql(pg, "INSERT INTO ev VALUES (1, %s), (2, %s)", (at, at))
    options = PostgresSourceOptions(table="ev", cursor_column="at", primary_key=["id"])
    first = read_postgres_source(pg, options, name="ev")
    assert first.high_water_mark == at and len(first.frame) == 2
    stored = accumulate(None, first.frame, ["id"], name="ev").frame
    _sql(pg, "INSERT INTO ev VALUES (3, %s)", (at,))  # same timestamp, committed later
    second = read_postgres_source(pg, options, name="ev", mark=first.high_water_mark)
    assert sorted(second.frame["id"].tolist()) == [1, 2, 3]
    merged = accumulate(stored, second.frame, ["id"], name="ev")
    assert sorted(merged.frame["id"].tolist()) == [1, 2, 3]
    assert (merged.rows_new, merged.rows_replaced) == (1, 2)
    assert second.high_water_mark == at


def test_json_jsonb_and_arrays_arrive_as_json_text(pg):
    _sql(
        pg,
        "CREATE TABLE docs (id int, j json, jb jsonb, flag json, ints int[], words text[], "
        "nested int[][])",
    )
    _sql(
        pg,
        "INSERT INTO docs VALUES (1, '{\"a\": [1, 2], \"b\": null}', '{\"k\": \"v\", \"n\": 1.5}', "
        "'true', '{1,2,3}', '{\"x y\",z}', '{{1,2},{3,4}}'), (2, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    frame = read_postgres_source(pg, PostgresSourceOptions(table="docs"), name="docs").frame
    row = frame.iloc[0]
    assert json.loads(row["j"]) == {"a": [1, 2], "b": None}
    assert json.loads(row["jb"]) == {"k": "v", "n": 1.5}
    assert row["flag"] == "true"  # JSON, not Python's True
    assert json.loads(row["ints"]) == [1, 2, 3]
    assert json.loads(row["words"]) == ["x y", "z"]
    assert json.loads(row["nested"]) == [[1, 2], [3, 4]]
    assert frame.iloc[1].isna().drop("id").all()
