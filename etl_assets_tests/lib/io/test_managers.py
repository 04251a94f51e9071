"""The IO managers inside real Dagster runs: paths, partitions, range runs, loads, rewrites, crashes."""

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    build_output_context,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from upath import UPath

from etl_assets.lib.io import (
    FORMATS,
    IO_MANAGER_KEYS,
    UnsafePathError,
    io_manager_for,
    jsonl_writer,
    read_frame,
)
from etl_assets.lib.io import formats as io_formats
from etl_assets.lib.spec import PARTITION_COLUMN

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")
FORMAT_NAMES = sorted(FORMATS)
COLORS = pd.CategoricalDtype(["red", "green", "blue"])


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def daily_frame(values: dict[str, list[int]], keys: list[str]) -> pd.DataFrame:
    """Rows for ``keys`` (in that order) with a mix of dtypes that must survive a concat."""
    rows = [(day, v) for day in keys for v in values.get(day, [])]
    return pd.DataFrame(
        {
            PARTITION_COLUMN: pd.array([d for d, _ in rows], dtype="str"),
            "v": pd.array([v for _, v in rows], dtype="Int64"),
            "color": pd.Categorical(
                [["red", "green", "blue"][v % 3] for _, v in rows], dtype=COLORS
            ),
            "at": pd.to_datetime([f"{d}T12:00:00Z" for d, _ in rows], utc=True).as_unit("us"),
        }
    )


def make_assets(values: dict[str, list[int]], seen: dict[str, pd.DataFrame]):
    """A daily single-run-backfill asset and three readers of it; readers record what they load."""

    @asset(
        key=["t", "daily"],
        partitions_def=DAYS,
        backfill_policy=BackfillPolicy.single_run(),
        io_manager_key="io",
    )
    def daily(context: AssetExecutionContext) -> pd.DataFrame:
        return daily_frame(values, context.partition_keys)

    @asset(
        key=["t", "total"],
        ins={"daily": AssetIn(["t", "daily"], metadata={"allow_missing_partitions": True})},
        io_manager_key="io",
    )
    def total(daily: pd.DataFrame) -> pd.DataFrame:
        seen["total"] = daily
        return pd.DataFrame({"rows": [len(daily)]})

    @asset(
        key=["t", "same_day"],
        ins={"daily": AssetIn(["t", "daily"])},
        partitions_def=DAYS,
        io_manager_key="io",
    )
    def same_day(daily: pd.DataFrame) -> pd.DataFrame:
        seen["same_day"] = daily
        return daily

    @asset(
        key=["t", "window"],
        ins={
            "daily": AssetIn(
                ["t", "daily"], partition_mapping=TimeWindowPartitionMapping(start_offset=-2)
            )
        },
        partitions_def=DAYS,
        io_manager_key="io",
    )
    def window(daily: pd.DataFrame) -> None:
        seen["window"] = daily

    return [daily, total, same_day, window]


def range_tags(start: str, end: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def all_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_resource_keys_and_factory() -> None:
    assert IO_MANAGER_KEYS == {
        "parquet": "parquet_io_manager",
        "csv": "csv_io_manager",
        "jsonl": "jsonl_io_manager",
        "postgres": "postgres_io_manager",
    }
    manager = io_manager_for("csv", "/data/x")
    assert (
        type(manager).__name__ == "CsvIOManager"
        and manager.base_path == "/data/x"
        and manager.storage_options is None
    )
    with pytest.raises(ValueError, match="unknown storage format 'xml'"):
        io_manager_for("xml", "/data/x")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_unpartitioned_write_load_and_metadata(
    tmp_path: Path, fmt: str, instance: DagsterInstance
) -> None:
    stored = pd.DataFrame(
        {
            "a": pd.array([1, 2, None], dtype="Int64"),
            "s": pd.array(['x, "y"', None, "z\n"], dtype="str"),
            "d": pd.array(
                [pd.Timestamp("2024-01-01").date(), None, None], dtype=pd.ArrowDtype(pa.date32())
            ),
        }
    )

    @asset(key=["t", "up"], io_manager_key="io")
    def up() -> pd.DataFrame:
        return stored

    @asset(key=["t", "down"], ins={"up": AssetIn(["t", "up"])}, io_manager_key="io")
    def down(up: pd.DataFrame) -> pd.DataFrame:
        pd.testing.assert_frame_equal(up, stored)
        return up.dropna(subset=["a"])

    result = materialize(
        [up, down], resources={"io": io_manager_for(fmt, str(tmp_path))}, instance=instance
    )
    assert result.success
    ext = FORMATS[fmt].extension
    sidecars = [f"t/up{ext}.schema.json", f"t/down{ext}.schema.json"] if fmt != "parquet" else []
    assert all_files(tmp_path) == sorted([f"t/up{ext}", f"t/down{ext}", *sidecars])
    (event,) = result.asset_materializations_for_node("t__up")
    metadata = event.metadata
    assert metadata["dagster/row_count"].value == 3
    assert [(c.name, c.type) for c in metadata["dagster/column_schema"].value.columns] == [
        ("a", "int64"),
        ("s", "string"),
        ("d", "date32"),
    ]
    assert metadata["path"].value == str(tmp_path / "t" / f"up{ext}")
    assert metadata["bytes_written"].value == (tmp_path / "t" / f"up{ext}").stat().st_size
    assert (
        instance.get_latest_materialization_event(AssetKey(["t", "down"]))
        .asset_materialization.metadata["dagster/row_count"]
        .value
        == 2
    )  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_partitions_one_then_a_range_in_one_run_then_loads(
    tmp_path: Path, fmt: str, instance: DagsterInstance
) -> None:
    ext = FORMATS[fmt].extension
    folder = tmp_path / "t" / "daily"
    seen: dict[str, pd.DataFrame] = {}
    values = {"2024-01-01": [1, 2], "2024-01-02": [3], "2024-01-04": [4, 5, 6]}
    assets = make_assets(values, seen)
    resources = {"io": io_manager_for(fmt, str(tmp_path))}

    # one partition
    assert materialize(
        assets[:1], partition_key="2024-01-02", resources=resources, instance=instance
    ).success
    assert sorted(p.name for p in folder.glob(f"*{ext}")) == [f"2024-01-02{ext}"]

    # a range of four partitions in ONE run: one file per partition, an empty one for a day without rows
    result = materialize(
        assets[:1],
        resources=resources,
        instance=instance,
        tags=range_tags("2024-01-01", "2024-01-04"),
    )
    assert result.success
    assert sorted(p.name for p in folder.glob(f"*{ext}")) == [
        f"2024-01-0{d}{ext}" for d in (1, 2, 3, 4)
    ]
    assert len(read_frame(FORMATS[fmt], UPath(folder / f"2024-01-03{ext}"))) == 0
    assert read_frame(FORMATS[fmt], UPath(folder / f"2024-01-04{ext}"))["v"].tolist() == [4, 5, 6]
    events = result.asset_materializations_for_node("t__daily")
    assert sorted(e.partition for e in events) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    # each partition's event carries that partition's row count; the run's figures ride along
    assert {e.partition: e.metadata["dagster/row_count"].value for e in events} == {
        "2024-01-01": 2,
        "2024-01-02": 1,
        "2024-01-03": 0,
        "2024-01-04": 3,
    }
    metadata = events[0].metadata
    assert metadata["partitions_written"].value == 4
    assert metadata["rows_by_partition"].value == {
        "2024-01-01": 2,
        "2024-01-02": 1,
        "2024-01-03": 0,
        "2024-01-04": 3,
    }
    assert metadata["path"].value == str(folder)
    assert metadata["bytes_written"].value == sum(p.stat().st_size for p in folder.glob(f"*{ext}"))
    assert len(instance.get_runs()) == 2

    # an unpartitioned reader gets ONE frame of every stored partition, in partition order
    assert materialize(
        assets, selection=[AssetKey(["t", "total"])], resources=resources, instance=instance
    ).success
    expected = daily_frame(values, ["2024-01-01", "2024-01-02", "2024-01-04"])
    pd.testing.assert_frame_equal(seen["total"], expected)

    # a partitioned reader gets only its own partition; a window mapping gets its days in order
    assert materialize(
        assets,
        selection=[AssetKey(["t", "same_day"])],
        partition_key="2024-01-02",
        resources=resources,
        instance=instance,
    ).success
    pd.testing.assert_frame_equal(seen["same_day"], daily_frame(values, ["2024-01-02"]))
    assert materialize(
        assets,
        selection=[AssetKey(["t", "window"])],
        partition_key="2024-01-04",
        resources=resources,
        instance=instance,
    ).success
    pd.testing.assert_frame_equal(
        seen["window"], daily_frame(values, ["2024-01-02", "2024-01-03", "2024-01-04"])
    )


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_rewriting_one_partition_replaces_exactly_it(
    tmp_path: Path, fmt: str, instance: DagsterInstance
) -> None:
    resources = {"io": io_manager_for(fmt, str(tmp_path))}
    first = make_assets({"2024-01-01": [1], "2024-01-02": [2], "2024-01-03": [3]}, {})
    assert materialize(
        first[:1],
        resources=resources,
        instance=instance,
        tags=range_tags("2024-01-01", "2024-01-03"),
    ).success
    second = make_assets({"2024-01-02": [7, 8]}, {})
    assert materialize(
        second[:1], partition_key="2024-01-02", resources=resources, instance=instance
    ).success
    ext = FORMATS[fmt].extension

    def stored(day: str) -> list[int]:
        return read_frame(FORMATS[fmt], UPath(tmp_path / "t" / "daily" / f"{day}{ext}"))[
            "v"
        ].tolist()

    assert (stored("2024-01-01"), stored("2024-01-02"), stored("2024-01-03")) == ([1], [7, 8], [3])
    # a range rerun with no rows for a day clears that day
    third = make_assets({"2024-01-01": [9]}, {})
    assert materialize(
        third[:1],
        resources=resources,
        instance=instance,
        tags=range_tags("2024-01-01", "2024-01-02"),
    ).success
    assert (stored("2024-01-01"), stored("2024-01-02"), stored("2024-01-03")) == ([9], [], [3])


def test_missing_partitions_are_an_error_naming_them(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    @asset(key=["t", "strict"], ins={"daily": AssetIn(["t", "daily"])}, io_manager_key="io")
    def strict(daily: pd.DataFrame) -> None:
        return None

    assets = make_assets({"2024-01-01": [1]}, {})
    resources = {"io": io_manager_for("parquet", str(tmp_path))}
    assert materialize(
        assets[:1], partition_key="2024-01-01", resources=resources, instance=instance
    ).success
    with pytest.raises(
        FileNotFoundError,
        match=r"t/daily: 6 of 7 partition\(s\) not materialized: 2024-01-02, .*2024-01-06 \(\+1 more\)",
    ):
        materialize(
            [*assets, strict],
            selection=[AssetKey(["t", "strict"])],
            resources=resources,
            instance=instance,
        )


def test_all_partitions_missing_but_allowed_gives_an_empty_frame_with_columns(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    seen: dict[str, pd.DataFrame] = {}
    assets = make_assets({}, seen)
    resources = {"io": io_manager_for("csv", str(tmp_path))}
    assert materialize(
        assets, selection=[AssetKey(["t", "total"])], resources=resources, instance=instance
    ).success
    assert seen["total"].empty and list(seen["total"].columns) == []
    # with a file of a partition outside the requested ones (here: moved to a day before the
    # partitions start), an empty load still knows the columns and dtypes
    assert materialize(
        assets[:1], partition_key="2024-01-07", resources=resources, instance=instance
    ).success
    folder = tmp_path / "t" / "daily"
    for suffix in (".csv", ".csv.schema.json"):
        (folder / f"2024-01-07{suffix}").rename(folder / f"2023-12-31{suffix}")
    assert materialize(
        assets, selection=[AssetKey(["t", "total"])], resources=resources, instance=instance
    ).success
    assert seen["total"].dtypes.to_dict() == daily_frame({}, []).dtypes.to_dict()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_partitions_written_with_different_null_columns_load_with_one_dtype(
    tmp_path: Path, fmt: str, instance: DagsterInstance
) -> None:
    """A column that was all-null (Arrow type null) in one partition and text in another."""
    notes = {"2024-01-01": [None, None], "2024-01-02": ["hello", None]}
    seen: dict[str, pd.DataFrame] = {}

    @asset(key=["t", "notes"], partitions_def=DAYS, io_manager_key="io")
    def notes_asset(context: AssetExecutionContext) -> pd.DataFrame:
        values = notes[context.partition_key]
        return pd.DataFrame(
            {"note": pd.Series(values, dtype=object if values[0] is None else "str")}
        )

    @asset(
        key=["t", "all_notes"],
        ins={"notes": AssetIn(["t", "notes"], metadata={"allow_missing_partitions": True})},
        io_manager_key="io",
    )
    def all_notes(notes: pd.DataFrame) -> None:
        seen["all"] = notes

    resources = {"io": io_manager_for(fmt, str(tmp_path))}
    for day in notes:
        assert materialize(
            [notes_asset], partition_key=day, resources=resources, instance=instance
        ).success
    assert materialize(
        [notes_asset, all_notes],
        selection=[AssetKey(["t", "all_notes"])],
        resources=resources,
        instance=instance,
    ).success
    assert seen["all"]["note"].dtype == "str"
    assert (
        seen["all"]["note"].tolist()[2] == "hello"
        and seen["all"][PARTITION_COLUMN].tolist() == ["2024-01-01"] * 2 + ["2024-01-02"] * 2
    )


def test_rows_outside_the_run_are_refused(tmp_path: Path, instance: DagsterInstance) -> None:
    @asset(key=["t", "wrong"], partitions_def=DAYS, io_manager_key="io")
    def wrong() -> pd.DataFrame:
        return pd.DataFrame({PARTITION_COLUMN: ["2024-01-05"], "v": [1]})

    with pytest.raises(ValueError, match="rows for partitions outside this run: 2024-01-05"):
        materialize(
            [wrong],
            partition_key="2024-01-01",
            resources={"io": io_manager_for("parquet", str(tmp_path))},
            instance=instance,
        )
    assert all_files(tmp_path) == []


def test_non_frames_are_refused(tmp_path: Path, instance: DagsterInstance) -> None:
    @asset(key=["t", "number"], io_manager_key="io")
    def number() -> int:
        return 3

    with pytest.raises(TypeError, match="stores pandas DataFrames; got int for t/number"):
        materialize(
            [number], resources={"io": io_manager_for("parquet", str(tmp_path))}, instance=instance
        )


def test_unsafe_asset_key_is_refused(tmp_path: Path) -> None:
    manager = io_manager_for("parquet", str(tmp_path / "root")).create_io_manager(None)
    context = build_output_context(asset_key=AssetKey(["t", ".."]))
    with pytest.raises(UnsafePathError, match=r"asset key part '\.\.' of t/\.\. is not safe"):
        manager.handle_output(context, pd.DataFrame({"v": [1]}))
    assert all_files(tmp_path) == []


# ------------------------------------------------------------------------------ crashes


def break_writer(fmt: str, monkeypatch: pytest.MonkeyPatch, fail_on_call: int = 1) -> None:
    """Make the format's low-level writer die part-way through its ``fail_on_call``-th file,
    after real bytes reached the disk."""
    calls = {"n": 0}
    if fmt == "jsonl":
        real_encode = jsonl_writer.encode_lines
        monkeypatch.setattr(jsonl_writer, "CHUNK_ROWS", 1)

        def encode_then_die(batch: pa.RecordBatch) -> pa.Array:
            calls["n"] += 1
            if calls["n"] > fail_on_call:  # the first chunk of the file is already written
                raise OSError("disk went away")
            return real_encode(batch)

        monkeypatch.setattr(jsonl_writer, "encode_lines", encode_then_die)
        return
    name = {"parquet": "write_parquet_file", "csv": "write_csv_file"}[fmt]
    real = getattr(io_formats, name)

    def write_half_then_die(table: pa.Table, local_file: str, **options: object) -> None:
        calls["n"] += 1
        real(table, local_file, **options)
        if calls["n"] >= fail_on_call:
            os.truncate(local_file, os.path.getsize(local_file) // 2)
            raise OSError("disk went away")

    monkeypatch.setattr(io_formats, name, write_half_then_die)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_crash_mid_write_keeps_previous_file(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance
) -> None:
    rows = {"v": [1, 2, 3]}

    @asset(key=["t", "table"], io_manager_key="io")
    def table() -> pd.DataFrame:
        return pd.DataFrame(rows)

    resources = {"io": io_manager_for(fmt, str(tmp_path))}
    assert materialize([table], resources=resources, instance=instance).success
    before = all_files(tmp_path)
    rows["v"] = [4, 5, 6, 7]
    with monkeypatch.context() as patch:
        break_writer(fmt, patch)
        with pytest.raises(OSError, match="disk went away"):
            materialize([table], resources=resources, instance=instance)
    path = UPath(tmp_path / "t" / f"table{FORMATS[fmt].extension}")
    assert read_frame(FORMATS[fmt], path)["v"].tolist() == [1, 2, 3]
    assert all_files(tmp_path) == before  # no temporary file left behind
    assert materialize([table], resources=resources, instance=instance).success
    assert read_frame(FORMATS[fmt], path)["v"].tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_crash_in_a_range_run_leaves_every_partition_whole(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance
) -> None:
    resources = {"io": io_manager_for(fmt, str(tmp_path))}
    days = ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert materialize(
        make_assets({d: [1] for d in days}, {})[:1],
        resources=resources,
        instance=instance,
        tags=range_tags(days[0], days[-1]),
    ).success
    rerun = make_assets({d: [2, 2] for d in days}, {})[:1]
    with monkeypatch.context() as patch:
        break_writer(
            fmt, patch, fail_on_call=2 if fmt == "parquet" else 3
        )  # dies inside the second partition's file
        with pytest.raises(OSError, match="disk went away"):
            materialize(
                rerun, resources=resources, instance=instance, tags=range_tags(days[0], days[-1])
            )
    ext = FORMATS[fmt].extension
    stored = [
        read_frame(FORMATS[fmt], UPath(tmp_path / "t" / "daily" / f"{d}{ext}"))["v"].tolist()
        for d in days
    ]
    assert stored == [[2, 2], [1], [1]]  # each partition is the old or the new version, never half
    assert not [f for f in all_files(tmp_path) if f.endswith(".tmp")]
    assert materialize(
        rerun, resources=resources, instance=instance, tags=range_tags(days[0], days[-1])
    ).success
    stored = [
        read_frame(FORMATS[fmt], UPath(tmp_path / "t" / "daily" / f"{d}{ext}"))["v"].tolist()
        for d in days
    ]
    assert stored == [[2, 2]] * 3


def test_unconvertible_frame_writes_nothing(tmp_path: Path, instance: DagsterInstance) -> None:
    good = {"ok": True}

    @asset(key=["t", "mixed"], io_manager_key="io")
    def mixed() -> pd.DataFrame:
        return (
            pd.DataFrame({"v": [1, 2]})
            if good["ok"]
            else pd.DataFrame({"v": pd.Series([1, "two", {"x": 3}], dtype=object)})
        )

    resources = {"io": io_manager_for("parquet", str(tmp_path))}
    assert materialize([mixed], resources=resources, instance=instance).success
    good["ok"] = False
    with pytest.raises(TypeError, match="cannot convert the frame to Arrow"):
        materialize([mixed], resources=resources, instance=instance)
    assert read_frame(FORMATS["parquet"], UPath(tmp_path / "t" / "mixed.parquet"))[
        "v"
    ].tolist() == [1, 2]
    assert all_files(tmp_path) == ["t/mixed.parquet"]


def test_remote_base_path_through_dagster(instance: DagsterInstance) -> None:
    """A non-local base path (fsspec memory://, standing in for S3) runs the same code."""
    seen: dict[str, pd.DataFrame] = {}
    values = {"2024-01-01": [1], "2024-01-02": [2, 3]}
    assets = make_assets(values, seen)
    base = "memory://etl-assets-managers"
    resources = {"io": io_manager_for("csv", base)}
    assert materialize(
        assets[:1],
        resources=resources,
        instance=instance,
        tags=range_tags("2024-01-01", "2024-01-02"),
    ).success
    assert materialize(
        assets, selection=[AssetKey(["t", "total"])], resources=resources, instance=instance
    ).success
    pd.testing.assert_frame_equal(seen["total"], daily_frame(values, list(values)))
    names = sorted(p.name for p in (UPath(base) / "t" / "daily").iterdir())
    assert names == [
        "2024-01-01.csv",
        "2024-01-01.csv.schema.json",
        "2024-01-02.csv",
        "2024-01-02.csv.schema.json",
    ]


def test_multi_partitions_nest_folders_and_load_back(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    parts = MultiPartitionsDefinition(
        {"date": DAYS, "region": StaticPartitionsDefinition(["eu", "us"])}
    )
    seen: dict[str, pd.DataFrame] = {}

    @asset(key=["t", "multi"], partitions_def=parts, io_manager_key="io")
    def multi(context: AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"key": [context.partition_key]})

    @asset(
        key=["t", "multi_all"],
        ins={"multi": AssetIn(["t", "multi"], metadata={"allow_missing_partitions": True})},
        io_manager_key="io",
    )
    def multi_all(multi: pd.DataFrame) -> None:
        seen["all"] = multi

    resources = {"io": io_manager_for("jsonl", str(tmp_path))}
    for key in ("2024-01-02|us", "2024-01-01|eu"):
        partition = MultiPartitionKey({"date": key[:10], "region": key[11:]})
        assert materialize(
            [multi], partition_key=partition, resources=resources, instance=instance
        ).success
    assert all_files(tmp_path / "t" / "multi") == [
        "2024-01-01/eu.jsonl",
        "2024-01-01/eu.jsonl.schema.json",
        "2024-01-02/us.jsonl",
        "2024-01-02/us.jsonl.schema.json",
    ]
    assert materialize(
        [multi, multi_all],
        selection=[AssetKey(["t", "multi_all"])],
        resources=resources,
        instance=instance,
    ).success
    assert seen["all"]["key"].tolist() == ["2024-01-01|eu", "2024-01-02|us"]
    assert seen["all"][PARTITION_COLUMN].tolist() == ["2024-01-01|eu", "2024-01-02|us"]
