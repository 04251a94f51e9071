"""Split one output table into one table per partition key, by its ``_partition`` column.

A single-run backfill hands the IO manager ONE frame for many partitions. Every partitioned
frame says which partition each row belongs to in ``PARTITION_COLUMN``; this turns that into
``{partition key: rows}`` covering exactly the run's keys, so each partition's file can be
replaced on its own. A key without rows maps to an empty table with the full schema: writing it
clears what an earlier run stored for that key. Each part's category columns whose categories
are sorted (inferred from the data) keep only the categories its rows use (``dictionaries.py``),
so a partition's table depends on its rows alone, not on which other partitions shared the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.io.convert import refresh_dictionary_metadata
from etl_assets.lib.io.dictionaries import compact_dictionaries, sorted_dictionary_columns
from etl_assets.lib.spec import PARTITION_COLUMN

_SHOWN = 5


def _labels(table: pa.Table) -> pa.ChunkedArray:
    column = table.column(PARTITION_COLUMN)
    return column if pa.types.is_large_string(column.type) else column.cast(pa.large_string())


def _listing(values: Sequence[str]) -> str:
    more = f" (+{len(values) - _SHOWN} more)" if len(values) > _SHOWN else ""
    return ", ".join(values[:_SHOWN]) + more


def split_by_partition(
    table: pa.Table, keys: Sequence[str], asset: str, *, compact: bool = True
) -> dict[str, pa.Table]:
    """``{key: rows of table for key}`` for every key of the run, in the run's key order.

    Raises ``ValueError`` for rows whose partition is null or not among ``keys``, and for a
    table without ``PARTITION_COLUMN`` covering more than one key (with one key the column is
    added, so loaded frames always have it). With ``compact`` (file storage: one file per
    partition), sorted dictionaries are compacted per part; PostgreSQL stores text and keeps the
    table's declared categories in its dtype note, so it splits without compacting.
    """
    columns = sorted_dictionary_columns(table) if compact else []
    return {key: _compacted(part, columns) for key, part in _split(table, keys, asset).items()}


def _compacted(part: pa.Table, columns: list[str]) -> pa.Table:
    if not columns:
        return part
    compacted, changed = compact_dictionaries(part, columns)
    return refresh_dictionary_metadata(compacted, changed)


def _split(table: pa.Table, keys: Sequence[str], asset: str) -> dict[str, pa.Table]:
    keys = [str(k) for k in keys]
    if PARTITION_COLUMN not in table.column_names:
        if len(keys) != 1:
            raise ValueError(
                f"{asset}: an output covering {len(keys)} partitions ({_listing(keys)}) needs a "
                f"{PARTITION_COLUMN!r} column saying which partition each row belongs to"
            )
        column = pa.array([keys[0]] * table.num_rows, type=pa.large_string())
        return {keys[0]: table.append_column(PARTITION_COLUMN, column)}
    labels = _labels(table)
    nulls = labels.null_count
    if nulls:
        raise ValueError(f"{asset}: {nulls} row(s) have a null {PARTITION_COLUMN!r}")
    encoded = pc.dictionary_encode(labels).combine_chunks()
    present = encoded.dictionary.to_pylist()
    known = set(keys)
    stray = [value for value in present if value not in known]
    if stray:
        raise ValueError(
            f"{asset}: rows for partitions outside this run: {_listing(sorted(stray))}; the run "
            f"covers {len(keys)} partition(s): {_listing(keys)}"
        )
    parts = {present[0]: table} if len(present) == 1 else _group(table, encoded, present)
    empty = table.slice(0, 0)
    return {key: parts.get(key, empty) for key in keys}


def _group(table: pa.Table, encoded: pa.DictionaryArray, present: list[str]) -> dict[str, pa.Table]:
    """Rows per label, keeping row order within a label; zero-copy when rows come in runs."""
    runs = pc.run_end_encode(encoded.indices)
    if len(runs.run_ends) == len(present):  # already grouped (e.g. produced day by day)
        parts, start = {}, 0
        for code, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            parts[present[code]] = table.slice(start, end - start)
            start = end
        return parts
    order = pc.sort_indices(encoded.indices)  # stable: row order within a partition is kept
    ordered = table.take(order)
    counts = pc.value_counts(encoded.indices)
    sizes = dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )
    parts, start = {}, 0
    for code in range(len(present)):
        size = sizes.get(code, 0)
        parts[present[code]] = ordered.slice(start, size)
        start += size
    return parts
