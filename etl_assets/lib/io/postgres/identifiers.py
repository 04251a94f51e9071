"""Names that end up in SQL: validated here, then quoted with ``psycopg.sql.Identifier``.

Quoting alone would make any name safe, but a name that needs quoting is almost always a
mistake or an attack in a spec (``orders; DROP TABLE x``), so it is refused with an error that
names it and says what is allowed. Partition keys are values (always bound as parameters), but
they are checked too: a key with quotes or semicolons is not a time partition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

#: PostgreSQL truncates identifiers longer than 63 bytes; refuse instead of truncating.
MAX_IDENTIFIER = 63
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARTITION_KEY = re.compile(r"^[A-Za-z0-9_\-:.+| ]{1,128}$")


class UnsafeIdentifierError(ValueError):
    """A schema, table or column name, or a partition key, that cannot be used safely."""


def check_identifier(name: str, what: str = "identifier") -> str:
    if (
        not isinstance(name, str)
        or not _IDENTIFIER.match(name)
        or len(name.encode()) > MAX_IDENTIFIER
    ):
        raise UnsafeIdentifierError(
            f"{what} {name!r} is not allowed: expected letters, digits and _ (not starting with "
            f"a digit), at most {MAX_IDENTIFIER} characters"
        )
    return name


def check_partition_key(key: str) -> str:
    if not isinstance(key, str) or not _PARTITION_KEY.match(key):
        raise UnsafeIdentifierError(
            f"partition key {key!r} is not allowed: expected letters, digits, space and - _ : . + | "
            "(at most 128 characters)"
        )
    return key


def check_partition_keys(keys: Sequence[str]) -> list[str]:
    return [check_partition_key(str(k)) for k in keys]


@dataclass(frozen=True)
class TableName:
    """``schema.table``, both validated."""

    schema: str
    table: str

    def __post_init__(self) -> None:
        check_identifier(self.schema, "schema name")
        check_identifier(self.table, "table name")

    @property
    def sql(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    def with_table(self, table: str) -> TableName:
        return TableName(self.schema, table)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


def table_for_asset(path: Sequence[str], default_schema: str = "public") -> TableName:
    """The table of an asset key: ``[pipeline, layer, name]`` -> ``pipeline.layer_name``;
    a one-part key goes to ``default_schema``."""
    parts = list(path)
    if len(parts) == 1:
        return TableName(default_schema, parts[0])
    return TableName(parts[0], "_".join(parts[1:]))
