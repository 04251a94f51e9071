"""Measure the IO managers' writers and multi-partition reads (not a test: no assertions).

    .venv/bin/python benchmarks/bench_io.py [--rows 1000000] [--partitions 365]

Each case runs in its own subprocess (so peak RSS is comparable) on the same seeded frame:
1M rows x 12 columns (Int64/int64, float64, str, boolean, datetime with and without time zone),
about 2% nulls, stored once as Parquet under ``/tmp/etl_assets_io_bench`` and loaded by every
case before its clock starts. Reported: wall seconds of the operation, RSS before it, peak RSS
of the process (``VmHWM``) and the output size. ``ARROW_DEFAULT_MEMORY_POOL=system``.

Cases:
- jsonl_pandas: ``df.to_json(path, orient="records", lines=True)``
- jsonl_ours: ``write_jsonl(df, path)`` (converts 64k-row chunks to Arrow as it goes)
- jsonl_manager / csv_manager / parquet_manager: the IO manager's ``handle_output`` (frame ->
  Arrow once, temp file + rename, sidecar, metadata)
- parquet_baseline: ``pq.write_table(pa.Table.from_pandas(df), path)``
- csv_baseline: ``pyarrow.csv.write_csv(pa.Table.from_pandas(df), path)``
- read_<fmt>_partitions: the manager loading ``--partitions`` daily partition files (written
  by the manager beforehand) into one frame; read_parquet_naive: ``pd.concat`` of
  ``pd.read_parquet`` per file, sequentially.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

WORK = Path("/tmp/etl_assets_io_bench")
CASES = [
    "jsonl_pandas",
    "jsonl_ours",
    "jsonl_manager",
    "parquet_baseline",
    "parquet_manager",
    "csv_baseline",
    "csv_manager",
    "read_parquet_naive",
    "read_parquet_partitions",
    "read_csv_partitions",
    "read_jsonl_partitions",
]


def make_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def nulls() -> np.ndarray:
        return rng.random(rows) < 0.02

    words = np.array(
        [
            "alpha",
            "beta",
            "gamma, delta",
            'say "hi"',
            "naïve café",
            "x" * 30,
            "line\nbreak",
            "tab\there",
        ]
    )
    start = np.datetime64("2024-01-01T00:00:00", "us")
    offsets = rng.integers(0, 365 * 86_400 * 10**6, rows).astype("timedelta64[us]")
    frame = pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "user_id": pd.array(rng.integers(1, 50_000, rows), dtype="Int64"),
            "quantity": pd.array(rng.integers(0, 100, rows), dtype="Int64"),
            "amount": rng.normal(100, 30, rows).round(2),
            "discount": rng.random(rows),
            "score": rng.normal(0, 1, rows),
            "country": pd.array(rng.choice(["DE", "FR", "US", "JP", "BR"], rows), dtype="str"),
            "comment": pd.array(rng.choice(words, rows), dtype="str"),
            "name": pd.array([f"user-{i}" for i in rng.integers(0, 100_000, rows)], dtype="str"),
            "is_member": pd.array(rng.random(rows) < 0.4, dtype="boolean"),
            "event_time": pd.Series(start + offsets).dt.tz_localize("UTC"),
            "created": pd.Series(start + offsets // 2),
        }
    )
    for name in [
        "user_id",
        "quantity",
        "amount",
        "discount",
        "country",
        "comment",
        "is_member",
        "event_time",
        "created",
    ]:
        frame.loc[nulls(), name] = None
    return frame


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Unlike ``ru_maxrss``, VmHWM starts afresh
    at exec, so it is not inflated by the driver's memory at fork time."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _output_context(key: list[str]):
    from dagster import build_output_context

    return build_output_context(asset_key=key)


def _manager(fmt: str, out: Path):
    from etl_assets.lib.io import io_manager_for

    return io_manager_for(fmt, str(out)).create_io_manager(None)


def _days(n: int):
    from dagster import DailyPartitionsDefinition

    start = pd.Timestamp("2023-01-01")
    return DailyPartitionsDefinition(
        start_date=start.strftime("%Y-%m-%d"),
        end_date=(start + pd.Timedelta(days=n)).strftime("%Y-%m-%d"),
    )


def _partitioned_frame(frame: pd.DataFrame, days) -> pd.DataFrame:
    keys = days.get_partition_keys()
    return frame.assign(
        _partition=pd.array(np.array(keys)[np.arange(len(frame)) % len(keys)], dtype="str")
    ).sort_values("_partition", kind="stable")


def prepare_partitions(fmt: str, frame: pd.DataFrame, n: int) -> None:
    """Write ``n`` daily partitions with the manager (one range output) for the read cases."""
    from dagster import PartitionKeyRange, build_output_context

    days = _days(n)
    keys = days.get_partition_keys()
    context = build_output_context(
        asset_key=["bench", "daily"],
        asset_partitions_def=days,
        asset_partition_key_range=PartitionKeyRange(keys[0], keys[-1]),
    )
    _manager(fmt, WORK / "partitions").handle_output(context, _partitioned_frame(frame, days))


def _action(case: str, n_partitions: int, out: Path) -> Callable[[], object]:
    """The operation a case times; everything it needs is prepared before the clock starts."""
    if case.startswith("read_"):
        from dagster import PartitionKeyRange, build_input_context

        days = _days(n_partitions)
        keys = days.get_partition_keys()
        if case == "read_parquet_naive":
            folder = WORK / "partitions" / "bench" / "daily"
            files = [folder / f"{k}.parquet" for k in keys]
            return lambda: pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        context = build_input_context(
            asset_key=["bench", "daily"],
            asset_partitions_def=days,
            asset_partition_key_range=PartitionKeyRange(keys[0], keys[-1]),
        )
        reader = _manager(case.split("_")[1], WORK / "partitions")
        return lambda: reader.load_input(context)
    frame = pq.read_table(WORK / "frame.parquet").to_pandas()
    if case == "jsonl_pandas":
        return lambda: frame.to_json(out / "pandas.jsonl", orient="records", lines=True)
    if case == "jsonl_ours":
        from etl_assets.lib.io import write_jsonl

        return lambda: write_jsonl(frame, str(out / "ours.jsonl"))
    if case == "parquet_baseline":
        return lambda: pq.write_table(pa.Table.from_pandas(frame), out / "baseline.parquet")
    if case == "csv_baseline":
        import pyarrow.csv as pacsv

        return lambda: pacsv.write_csv(pa.Table.from_pandas(frame), out / "baseline.csv")
    fmt = case.split("_")[0]
    writer = _manager(fmt, out)
    context = _output_context(["bench", fmt])
    return lambda: writer.handle_output(context, frame)


def run_case(case: str, n_partitions: int) -> dict:
    out = WORK / "out" / case
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {}
    action = _action(case, n_partitions, out)
    result["rss_before_mb"] = round(_status_mb("VmRSS"))
    started = time.perf_counter()
    value = action()
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["peak_rss_mb"] = round(_status_mb("VmHWM"))
    if isinstance(value, pd.DataFrame):
        result["rows_loaded"] = len(value)
    files = [p for p in out.rglob("*") if p.is_file()]
    result["output_mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=365)
    parser.add_argument(
        "--case", choices=CASES, help="run one case in this process (used by the driver)"
    )
    parser.add_argument("--only", nargs="*", choices=CASES, default=None)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.partitions)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    frame = make_frame(args.rows)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), WORK / "frame.parquet")
    cases = args.only or CASES
    for fmt in ("parquet", "csv", "jsonl"):
        if f"read_{fmt}_partitions" in cases or (
            fmt == "parquet" and "read_parquet_naive" in cases
        ):
            prepare_partitions(fmt, frame, args.partitions)
    del frame
    print(
        f"rows={args.rows} partitions={args.partitions} ARROW_DEFAULT_MEMORY_POOL={os.environ['ARROW_DEFAULT_MEMORY_POOL']}"
    )
    print(f"{'case':26} {'seconds':>8} {'rss before MB':>14} {'peak RSS MB':>12} {'output MB':>10}")
    for case in cases:
        done = subprocess.run(
            [sys.executable, __file__, "--case", case, "--partitions", str(args.partitions)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{case:26} {r['seconds']:8.3f} {r['rss_before_mb']:14} {r['peak_rss_mb']:12} {r['output_mb']:10}"
        )


if __name__ == "__main__":
    main()
