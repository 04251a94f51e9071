"""Contract cases kept from the first IO manager implementation: range runs, loads, rewrites, crashes.

Every case runs twice: on a local folder and on ``s3://bucket`` of a real S3-compatible server
(moto, started by the test session), with the same IO manager code.
"""


from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    asset,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from upath import UPath

from etl_assets.lib.io import FORMATS, io_manager_for, read_frame
from etl_assets.lib.io.formats import ParquetFormat
from etl_assets_tests.servers.s3 import S3Bucket


class Store:
    """Where a test's tables go: ``root`` (a UPath) and the IO manager for a format there."""

    def __init__(self, root: UPath, base_path: str, s3=None):
        self.root = root
        self.base_path = base_path
        self.s3 = s3

    def io(self, fmt: str):
        return io_manager_for(fmt, self.base_path, s3=self.s3)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return Store(UPath(tmp_path), str(tmp_path))
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return Store(bucket.path(), bucket.url, s3=bucket.server.config())

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")
FORMAT_NAMES = sorted(FORMATS)


def make_assets(values: dict[str, list[int]]):
    """A daily asset producing `values[day]` per day (with _partition), and two readers of it."""

    @asset(key=["t", "daily"], partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run(), io_manager_key="io")
    def daily(context: AssetExecutionContext) -> pd.DataFrame:
        rows = [(day, v) for day in context.partition_keys for v in values.get(day, [])]
        return pd.DataFrame({"_partition": [d for d, _ in rows], "v": pd.array([v for _, v in rows], dtype="Int64")})

    @asset(key=["t", "total"], ins={"daily": AssetIn(["t", "daily"], metadata={"allow_missing_partitions": True})}, io_manager_key="io")
    def total(daily: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"rows": [len(daily)], "sum": [int(daily["v"].sum()) if len(daily) else 0], "days": [daily["_partition"].nunique() if len(daily) else 0]})

    @asset(key=["t", "same_day"], ins={"daily": AssetIn(["t", "daily"])}, partitions_def=DAYS, io_manager_key="io")
    def same_day(context: AssetExecutionContext, daily: pd.DataFrame) -> pd.DataFrame:
        assert set(daily["_partition"]) <= {context.partition_key}
        return daily.assign(v=daily["v"] * 10)

    return [daily, total, same_day]


def range_tags(start: str, end: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_unpartitioned_write_and_load(store: Store, fmt: str) -> None:
    @asset(key=["t", "up"], io_manager_key="io")
    def up() -> pd.DataFrame:
        return pd.DataFrame({"a": pd.array([1, 2, None], dtype="Int64"), "s": pd.array(["x", None, "z"], dtype="str")})

    @asset(key=["t", "down"], ins={"up": AssetIn(["t", "up"])}, io_manager_key="io")
    def down(up: pd.DataFrame) -> pd.DataFrame:
        assert str(up["a"].dtype) == "Int64" and up["s"].tolist()[0] == "x"
        return up.dropna()

    with DagsterInstance.ephemeral() as instance:
        result = materialize([up, down], resources={"io": store.io(fmt)}, instance=instance)
        assert result.success
        path = store.root / "t" / f"up{FORMATS[fmt].extension}"
        assert path.exists()
        event = instance.get_latest_materialization_event(AssetKey(["t", "up"]))
        metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["dagster/row_count"].value == 3
    assert [c.name for c in metadata["dagster/column_schema"].value.columns] == ["a", "s"]
    assert metadata["path"].value == str(path)
    assert metadata["bytes_written"].value == path.stat().st_size


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_range_run_writes_one_file_per_partition_and_loads(store: Store, fmt: str) -> None:
    ext = FORMATS[fmt].extension
    values = {"2024-01-01": [1, 2], "2024-01-02": [3], "2024-01-04": [4, 5, 6]}
    assets = make_assets(values)
    resources = {"io": store.io(fmt)}
    with DagsterInstance.ephemeral() as instance:
        result = materialize(assets[:1], resources=resources, instance=instance, tags=range_tags("2024-01-01", "2024-01-04"))
        assert result.success
        folder = store.root / "t" / "daily"
        assert sorted(p.name for p in folder.glob(f"*{ext}")) == [f"2024-01-0{d}{ext}" for d in (1, 2, 3, 4)]
        assert len(read_frame(FORMATS[fmt], UPath(folder / f"2024-01-03{ext}"))) == 0  # key without rows: empty file
        event = instance.get_latest_materialization_event(AssetKey(["t", "daily"]))
        metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["rows_by_partition"].value == {"2024-01-01": 2, "2024-01-02": 1, "2024-01-03": 0, "2024-01-04": 3}
        # the latest event is the last partition's, with its own row count
        assert event.asset_materialization.partition == "2024-01-04"  # type: ignore[union-attr]
        assert metadata["dagster/row_count"].value == 3 and metadata["partitions_written"].value == 4
        # an unpartitioned reader gets one concatenated frame of every partition that exists
        result = materialize(assets, selection=[AssetKey(["t", "total"])], resources=resources, instance=instance)
        assert result.success
        total = result.output_for_node("t__total")
        assert total.to_dict("records") == [{"rows": 6, "sum": 21, "days": 3}]
        # a partitioned reader gets only its own partition
        result = materialize(assets, selection=[AssetKey(["t", "same_day"])], partition_key="2024-01-02", resources=resources, instance=instance)
        assert result.output_for_node("t__same_day")["v"].tolist() == [30]


def test_rewriting_one_partition_replaces_only_it(store: Store) -> None:
    resources = {"io": store.io("parquet")}
    with DagsterInstance.ephemeral() as instance:
        first = make_assets({"2024-01-01": [1], "2024-01-02": [2]})
        assert materialize(first[:1], resources=resources, instance=instance, tags=range_tags("2024-01-01", "2024-01-02")).success
        second = make_assets({"2024-01-02": [7, 8]})
        assert materialize(second[:1], partition_key="2024-01-02", resources=resources, instance=instance).success
    def read(path: UPath):
        return read_frame(FORMATS["parquet"], path)

    assert read(store.root / "t/daily/2024-01-01.parquet")["v"].tolist() == [1]
    assert read(store.root / "t/daily/2024-01-02.parquet")["v"].tolist() == [7, 8]


def test_missing_partition_is_an_error_unless_allowed(store: Store) -> None:
    @asset(key=["t", "strict_total"], ins={"daily": AssetIn(["t", "daily"])}, io_manager_key="io")
    def strict_total(daily: pd.DataFrame) -> int:
        return len(daily)

    assets = make_assets({"2024-01-01": [1]})
    resources = {"io": store.io("parquet")}
    with DagsterInstance.ephemeral() as instance:
        assert materialize(assets[:1], partition_key="2024-01-01", resources=resources, instance=instance).success
        with pytest.raises(FileNotFoundError, match=r"t/daily: 6 of 7 partition\(s\) not materialized: 2024-01-02"):
            materialize([*assets, strict_total], selection=[AssetKey(["t", "strict_total"])], resources=resources, instance=instance)


def test_rows_outside_the_run_are_refused(store: Store) -> None:
    @asset(key=["t", "wrong"], partitions_def=DAYS, io_manager_key="io")
    def wrong() -> pd.DataFrame:
        return pd.DataFrame({"_partition": ["2024-01-05"], "v": [1]})

    with DagsterInstance.ephemeral() as instance, pytest.raises(ValueError, match="rows for partitions outside this run: 2024-01-05"):
        materialize([wrong], partition_key="2024-01-01", resources={"io": store.io("parquet")}, instance=instance)


def test_crash_mid_write_keeps_previous_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    @asset(key=["t", "table"], io_manager_key="io")
    def table() -> pd.DataFrame:
        return pd.DataFrame({"v": [1, 2, 3]})

    resources = {"io": store.io("parquet")}
    with DagsterInstance.ephemeral() as instance:
        assert materialize([table], resources=resources, instance=instance).success
        original = ParquetFormat.write_file

        def half_write(self, table, local_file):  # writes some bytes, then dies
            with open(local_file, "wb") as sink:
                sink.write(b"PAR1 partial")
            raise OSError("disk went away")

        monkeypatch.setattr(ParquetFormat, "write_file", half_write)
        with pytest.raises(OSError, match="disk went away"):
            materialize([table], resources=resources, instance=instance)
        monkeypatch.setattr(ParquetFormat, "write_file", original)
    assert read_frame(FORMATS["parquet"], (store.root / "t/table.parquet"))["v"].tolist() == [1, 2, 3]
    assert sorted(p.name for p in (store.root / "t").iterdir()) == ["table.parquet"]  # no temp file left


def test_unsafe_asset_key_is_refused(store: Store) -> None:
    from dagster import build_output_context

    manager = store.io("parquet").create_io_manager(None)
    context = build_output_context(asset_key=AssetKey(["t", ".."]))
    with pytest.raises(ValueError, match="not safe as a path segment"):
        manager.handle_output(context, pd.DataFrame({"v": [1]}))
    assert not (store.root.parent / "t.parquet").exists()
