"""Nothing lost, through Dagster: the reported unclosed-quote file, physical metadata and checks.

Real runs of generated assets on real files: the raw asset records what its files physically
held and checks it (``physical_conservation``); the clean step's ``row_conservation`` compares
its rows in with that physical count, so rows lost between the files and the clean step fail.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec

SPEC = """
pipeline: faults
sources:
  events:
    format: csv
    path: landing/events.csv
    csv: {{multiline_values: {multiline}}}
clean:
  events:
    from: events
    columns:
      id: {{type: int, required: true}}
      name: {{type: string}}
      city: {{type: string}}
"""

DAYS_SPEC = """
pipeline: days
partitions: {type: daily, start: 2024-01-01, end: 2024-01-05}
sources:
  events:
    format: csv
    path: landing/days/{partition}.csv
    partitioned: true
clean:
  events:
    from: events
    columns:
      id: {type: int, required: true}
"""

RAW = AssetKey(["faults", "raw", "events"])
CLEAN = AssetKey(["faults", "clean", "events"])
REJECTED = AssetKey(["faults", "rejected", "events"])
BROKEN = '2,"name 2 has an unclosed quote,city 2'


def _write_issue_file(root: Path) -> str:
    lines = ["id,name,city"] + [f"{i},name {i},city {i}" for i in range(1, 10_001)]
    lines[2] = BROKEN
    text = "\n".join(lines) + "\n"
    path = root / "landing" / "events.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def _metadata(instance: DagsterInstance, key: AssetKey, partition: str | None = None) -> dict:
    if partition is None:
        event = instance.get_latest_materialization_event(key)
    else:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records
        event = records[0].event_log_entry
    assert event is not None and event.asset_materialization is not None
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


@pytest.mark.parametrize("multiline", ["true", "false"])
def test_unclosed_quote_in_row_2_loses_nothing(tmp_path: Path, multiline: str) -> None:
    text = _write_issue_file(tmp_path)
    defs = build_definitions(
        [parse_spec(SPEC.format(multiline=multiline))], tmp_path, tmp_path / "warehouse"
    )
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("faults_job").execute_in_process(instance=instance)
        assert result.success
        checks = {(c.asset_key, c.check_name): c for c in result.get_asset_check_evaluations()}
        assert checks[(RAW, "physical_conservation")].passed
        assert checks[(CLEAN, "row_conservation")].passed
        assert (
            "10000 rows physically in the raw files"
            in checks[(CLEAN, "row_conservation")].description
        )

        clean = defs.load_asset_value(CLEAN, instance=instance)
        assert len(clean) == 9_999
        assert 2 not in set(clean["id"].tolist()) and clean["id"].iloc[-1] == 10_000
        rejected = defs.load_asset_value(REJECTED, instance=instance)
        assert rejected["_source_row"].tolist() == [2]
        assert rejected["_reason_kind"].tolist() == ["parse_error"]
        assert rejected["_reason"].iloc[0].endswith(": " + BROKEN)  # the raw text, whole

        raw = _metadata(instance, RAW)
        assert raw["physical_expected_rows"] == raw["physical_emitted_rows"] == 10_000
        assert raw["physical_lines"] == 10_001
        assert raw["physical_bytes"] == len(text.encode())
        assert raw["physical_input"][0]["detail"]["records_rejected_by_scan"] == 1


def test_rows_lost_between_raw_and_clean_fail_row_conservation(tmp_path: Path) -> None:
    _write_issue_file(tmp_path)
    defs = build_definitions(
        [parse_spec(SPEC.format(multiline="true"))], tmp_path, tmp_path / "warehouse"
    )
    with DagsterInstance.ephemeral() as instance:
        job = defs.resolve_job_def("faults_job")
        assert job.execute_in_process(instance=instance).success
        # the stored raw table loses a row (a truncated copy, a bad restore): the clean step
        # still balances its own counts, but no longer matches what the files held
        stored = [p for p in (tmp_path / "warehouse").rglob("*.parquet") if "raw" in p.parts]
        assert len(stored) == 1
        pd.read_parquet(stored[0]).iloc[1:].to_parquet(stored[0])
        result = job.execute_in_process(
            instance=instance, asset_selection=[CLEAN, REJECTED], raise_on_error=False
        )
        assert not result.success
        [check] = [
            c for c in result.get_asset_check_evaluations() if c.check_name == "row_conservation"
        ]
        assert not check.passed
        assert "9999 rows in" in check.description
        assert "the raw files physically hold 10000 rows" in check.description


def test_each_partition_records_its_own_physical_count(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "days"
    folder.mkdir(parents=True)
    (folder / "2024-01-01.csv").write_text("id\n1\n2\n3\n")
    (folder / "2024-01-02.csv").write_text('id\n4\n"5\n')  # an unclosed quote: rejected, counted
    defs = build_definitions([parse_spec(DAYS_SPEC)], tmp_path, tmp_path / "warehouse")
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: "2024-01-01",
        ASSET_PARTITION_RANGE_END_TAG: "2024-01-02",
    }
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("days_job").execute_in_process(instance=instance, tags=tags)
        assert result.success
        assert all(c.passed for c in result.get_asset_check_evaluations())
        raw = AssetKey(["days", "raw", "events"])
        first = _metadata(instance, raw, "2024-01-01")
        second = _metadata(instance, raw, "2024-01-02")
        assert (first["physical_expected_rows"], first["physical_lines"]) == (3, 4)
        assert (second["physical_expected_rows"], second["physical_lines"]) == (2, 3)
