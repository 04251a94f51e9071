"""``PostgresIOManager``: DataFrame assets as PostgreSQL tables.

- table: ``<pipeline>.<layer>_<name>`` for key ``[pipeline, layer, name]`` (a one-part key goes
  to ``schema_name``); output metadata ``schema`` / ``table`` override it;
- partitioned assets: the run's partition slices are deleted and COPYed again in one
  transaction (a range run splits on ``_partition`` like the file IO managers);
- unpartitioned: staged and swapped in one transaction; with output metadata
  ``primary_key: [...]`` rows are upserted instead (``INSERT ... ON CONFLICT``);
- loading reads the partition slice(s) or the whole table back with the dtypes written;
  partitions never written (per the ledger in ``<schema>._etl_partitions``, see ``ledger``)
  raise :class:`TableNotFoundError` (a ``FileNotFoundError``) naming them, unless the input
  has metadata ``allow_missing_partitions: True``, as with the file IO managers.

Metadata: ``dagster/row_count``, ``dagster/column_schema``, ``dagster/table_name``
(``schema.table``), ``rows_written``, ``write_seconds`` and, when partitioned,
``partitions_written`` and (range runs) ``rows_by_partition``, plus each partition's own
``dagster/row_count`` / ``partition_rows`` on its event.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext
from pydantic import Field

from etl_assets.lib.io.convert import frame_to_table, storable_frame
from etl_assets.lib.io.metadata import declared_columns, table_schema
from etl_assets.lib.io.partition_metadata import record_rows_per_partition
from etl_assets.lib.io.partitions import split_by_partition
from etl_assets.lib.io.postgres.identifiers import TableName, check_identifier, table_for_asset
from etl_assets.lib.io.postgres.ledger import written_partitions
from etl_assets.lib.io.postgres.reader import TableNotFoundError, read_table
from etl_assets.lib.io.postgres.writer import replace_table, upsert_table, write_partitions
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.spec import PARTITION_COLUMN
from etl_assets.lib.telemetry import input_load, output_write

ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"


def _name(context: InputContext | OutputContext) -> str:
    return (
        context.asset_key.to_user_string()
        if context.has_asset_key
        else str(context.get_identifier())
    )


class PostgresIOManager(ConfigurableIOManager):
    """Stores pandas DataFrames as PostgreSQL tables; see the module docstring."""

    postgres: PostgresResource
    schema_name: str = Field(default="public", description="Schema for assets with a one-part key.")
    read_connections: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Connections that read a large table in parallel (one shared snapshot); "
        "1 reads on one connection.",
    )

    def table_for(self, context: InputContext | OutputContext) -> TableName:
        meta: dict[str, Any] = dict(context.definition_metadata or {})
        if isinstance(context, InputContext) and context.upstream_output is not None:
            meta = {**dict(context.upstream_output.definition_metadata or {}), **meta}
        if not context.has_asset_key:
            raise ValueError("PostgresIOManager stores asset outputs only (no asset key here)")
        default = table_for_asset(
            context.asset_key.path, check_identifier(self.schema_name, "schema name")
        )
        return TableName(
            str(meta.get("schema", default.schema)), str(meta.get("table", default.table))
        )

    def _location(self, context: InputContext | OutputContext) -> str:
        """``postgresql://host:port/dbname/schema.table`` (no user, no password)."""
        pg = self.postgres
        return f"postgresql://{pg.host}:{pg.port}/{pg.dbname}/{self.table_for(context)}"

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        with output_write(context, "postgres", lambda: self._location(context)):
            self._store(context, obj)

    def _store(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"PostgresIOManager stores pandas DataFrames; got {type(obj).__name__} for {_name(context)}"
            )
        target = self.table_for(context)
        frame = storable_frame(obj)
        table = frame_to_table(frame)
        metadata: dict[str, Any] = {
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(frame, declared_columns(context.definition_metadata)),
            "dagster/table_name": str(target),
        }
        if context.has_asset_partitions:
            keys = [str(k) for k in context.asset_partition_keys]
            parts = split_by_partition(table, keys, _name(context), compact=False)
            combined = (
                pa.concat_tables(list(parts.values()))
                if len(parts) > 1
                else next(iter(parts.values()))
            )
            result = write_partitions(self.postgres, target, combined, keys, context.run_id)
            metadata["partitions_written"] = len(keys)
            if len(keys) > 1:  # Dagster copies this metadata to every partition of the run
                rows = {k: p.num_rows for k, p in parts.items()}
                metadata["rows_by_partition"] = MetadataValue.json(rows)
                record_rows_per_partition(context, rows)  # ...so each gets its own count too
        else:
            primary_key = (context.definition_metadata or {}).get("primary_key")
            if primary_key:
                keys_list = [primary_key] if isinstance(primary_key, str) else list(primary_key)
                result = upsert_table(self.postgres, target, table, context.run_id, keys_list)
            else:
                result = replace_table(self.postgres, target, table, context.run_id)
        metadata["rows_written"] = result.rows_written
        metadata["write_seconds"] = round(result.seconds, 4)
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        with input_load(context, "postgres", lambda: self._location(context)) as traced:
            frame = self._load(context)
            traced(frame)
            return frame

    def _load(self, context: InputContext) -> pd.DataFrame:
        target = self.table_for(context)
        keys = (
            [str(k) for k in context.asset_partition_keys] if context.has_asset_partitions else None
        )
        try:
            frame = read_table(
                self.postgres, target, keys, read_connections=self.read_connections
            )
        except TableNotFoundError:
            if bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS, False)):
                context.log.warning(
                    f"{_name(context)}: table {target} does not exist yet; loading no rows"
                )
                return pd.DataFrame()
            raise
        if keys is not None:
            self._check_partitions(context, target, keys, frame)
        return frame

    def _check_partitions(
        self, context: InputContext, target: TableName, keys: list[str], frame: pd.DataFrame
    ) -> None:
        """Refuse partitions that were never written, like the file IO managers do (a
        partition written with no rows is in the ledger, so it loads as empty)."""
        present = written_partitions(self.postgres, target, keys)
        if len(frame) and PARTITION_COLUMN in frame:  # tables written before the ledger
            present |= set(frame[PARTITION_COLUMN].astype(str).unique())
        missing = [k for k in keys if k not in present]
        if not missing:
            return
        shown = ", ".join(missing[:10]) + (f" (+{len(missing) - 10} more)" if len(missing) > 10 else "")
        message = (
            f"{_name(context)}: {len(missing)} of {len(keys)} partition(s) not materialized "
            f"in {target}: {shown}"
        )
        if not bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS, False)):
            raise TableNotFoundError(
                f"{message}; set input metadata {ALLOW_MISSING_PARTITIONS}=True to skip them"
            )
        context.log.warning(f"{message}; skipped ({ALLOW_MISSING_PARTITIONS}=True)")
