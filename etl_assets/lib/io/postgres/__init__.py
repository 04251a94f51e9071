"""PostgreSQL storage for DataFrame assets: binary COPY through ADBC, one transaction per write.

Modules: ``identifiers`` (validated, quoted names), ``types`` (Arrow -> PostgreSQL types),
``schema_note`` (exact dtypes kept in the table comment), ``writer`` (partition replace,
stage-and-swap, upsert), ``reader`` (Arrow reads back to exact dtypes), ``errors``
(retryable vs terminal), ``manager`` (the Dagster IO manager).
"""

from etl_assets.lib.io.postgres.errors import (
    RetryablePostgresError,
    is_retryable,
    raise_classified,
    sqlstate,
)
from etl_assets.lib.io.postgres.identifiers import (
    TableName,
    UnsafeIdentifierError,
    check_identifier,
    check_partition_key,
    table_for_asset,
)
from etl_assets.lib.io.postgres.manager import PostgresIOManager
from etl_assets.lib.io.postgres.reader import TableNotFoundError, read_table
from etl_assets.lib.io.postgres.writer import (
    RUN_ID_COLUMN,
    TableLayoutError,
    WriteResult,
    replace_table,
    upsert_table,
    write_partitions,
)

__all__ = [
    "RUN_ID_COLUMN",
    "PostgresIOManager",
    "RetryablePostgresError",
    "TableLayoutError",
    "TableName",
    "TableNotFoundError",
    "UnsafeIdentifierError",
    "WriteResult",
    "check_identifier",
    "check_partition_key",
    "is_retryable",
    "raise_classified",
    "read_table",
    "replace_table",
    "sqlstate",
    "table_for_asset",
    "upsert_table",
    "write_partitions",
]
