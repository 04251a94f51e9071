"""Physical conservation in the generated assets: raw metadata, the raw check, the clean figure.

The raw asset records what its files physically held (bytes, lines, the rows they must give;
per file, in total and per partition) and checks it against the rows it read
(``physical_conservation``, blocking). The clean step's ``row_conservation`` then compares its
rows in with the rows the raw files must have given, read back from the raw materialization,
so rows a parser swallowed fail the clean check too.
"""

from collections.abc import Sequence

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    EventLogEntry,
    MetadataValue,
)

from etl_assets.factory.keys import raw_key
from etl_assets.lib.sources.conservation import evaluate_physical, totals_by_partition
from etl_assets.lib.sources.physical import PhysicalInput
from etl_assets.lib.spec import PipelineSpec
from etl_assets.lib.transforms.results import CleanStats

PHYSICAL_CHECK = "physical_conservation"
#: Raw materialization metadata read back by the clean step.
EXPECTED_ROWS_KEY = "physical_expected_rows"


def physical_check_spec(asset_key: AssetKey) -> AssetCheckSpec:
    return AssetCheckSpec(
        PHYSICAL_CHECK,
        asset=asset_key,
        blocking=True,
        description=(
            "rows read = rows the files' bytes and lines must give (a parser cannot swallow "
            "records unnoticed); not applicable to readers that count no physical input"
        ),
    )


def _metadata_values(metadata: dict[str, object]) -> dict[str, object]:
    return {
        key: MetadataValue.json(value) if isinstance(value, list | dict) else value
        for key, value in metadata.items()
    }


def physical_outcome(
    context: AssetExecutionContext,
    asset_key: AssetKey,
    inputs: list[PhysicalInput],
    frame_rows: int,
) -> tuple[dict[str, object], AssetCheckResult]:
    """Output metadata (totals and per-file figures) and the ``physical_conservation`` result.

    For a partitioned read each partition's materialization also gets its own totals, so the
    clean step of one partition can compare with exactly that partition's files.
    """
    verdict = evaluate_physical(inputs, frame_rows)
    metadata: dict[str, object] = {}
    if verdict.applicable:
        metadata = {
            key: value
            for key, value in verdict.metadata.items()
            if key.startswith("physical_") or key == "files_not_conserved"
        }
        metadata["physical_input"] = verdict.metadata["files"]
        for key, totals in totals_by_partition(inputs).items():
            context.add_asset_metadata(totals, asset_key=asset_key, partition_key=key)
    check = AssetCheckResult(
        check_name=PHYSICAL_CHECK,
        asset_key=asset_key,
        passed=verdict.passed,
        severity=AssetCheckSeverity.ERROR,
        description=verdict.description,
        metadata=_metadata_values(verdict.metadata),
    )
    return _metadata_values(metadata), check


def _expected_rows(entry: EventLogEntry | None) -> int | None:
    materialization = entry.asset_materialization if entry is not None else None
    if materialization is None:
        return None
    value = materialization.metadata.get(EXPECTED_ROWS_KEY)
    return None if value is None else int(value.value)


def recorded_expected_rows(
    context: AssetExecutionContext, spec: PipelineSpec, sources: Sequence[str]
) -> int | None:
    """Rows the raw files of ``sources`` must have given, from their latest materializations
    (of this run's partitions, for a partitioned source): what a clean step reads in.

    None when any of them recorded no physical count (a reader that counts nothing, or a
    materialization from before physical counting).
    """
    total = 0
    for source in sources:
        keys = list(context.partition_keys) if spec.sources[source].partitioned else None
        found = _recorded(context.instance, raw_key(spec.pipeline, source), keys)
        if found is None:
            return None
        total += found
    return total


def _recorded(
    instance: DagsterInstance, asset_key: AssetKey, partition_keys: list[str] | None
) -> int | None:
    if partition_keys is None:
        return _expected_rows(instance.get_latest_materialization_event(asset_key))
    total = 0
    for key in partition_keys:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
        ).records
        found = _expected_rows(records[0].event_log_entry) if records else None
        if found is None:
            return None
        total += found
    return total


def conservation_result(
    check_name: str, asset_key: AssetKey, stats: CleanStats, physical_rows: int | None
) -> AssetCheckResult:
    """``row_conservation``: rows in = out + rejected + duplicates, and rows in = the rows the
    raw files physically held (when the raw materialization recorded that count)."""
    counted = stats.conserved()
    physical = physical_rows is None or physical_rows == stats.rows_in
    balance = f"{stats.rows_out} out + {stats.rows_rejected} rejected + {stats.rows_deduplicated} duplicates"
    if not counted:
        description = f"{stats.rows_in} rows in but {balance}: rows were lost or invented"
    elif not physical:
        description = (
            f"{stats.rows_in} rows in = {balance}, but the raw files physically hold "
            f"{physical_rows} rows: rows were lost or invented before cleaning"
        )
    else:
        description = f"{stats.rows_in} in = {balance}"
        if physical_rows is not None:
            description += f"; {physical_rows} rows physically in the raw files"
    metadata: dict[str, object] = dict(stats.as_metadata())
    if physical_rows is not None:
        metadata["physical_expected_rows"] = physical_rows
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=counted and physical,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )
