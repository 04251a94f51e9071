"""Dictionary (category) columns made a function of the rows they hold, not of the run.

A clean ``type: category`` column without declared categories gets as categories the sorted
values seen in the whole run, so a day built inside a range would carry categories of other
days, and its stored file would depend on the run's composition. Before a partition is written,
:func:`compact_dictionaries` keeps in each such dictionary only the values that occur in that
partition (in the dictionary's order, like pandas ``remove_unused_categories``), with pandas'
smallest index type for that many categories: a day stored alone and the same day stored from a
range are the same table.

Which dictionaries: those in sorted order (:func:`sorted_dictionary_columns`), as categories
inferred from the data always are. A dictionary in any other order is a declared order (a spec's
``categories: [low, mid, high]``, a frame's own ``CategoricalDtype``): it does not depend on the
run, so it is stored whole, unused categories included, and reads back exactly. A declared list
that happens to be sorted is compacted like an inferred one; its order survives (a sorted subset
of a sorted list), only its unused categories are not stored.

Loading several partitions then meets several dictionaries; :func:`union_dictionaries` makes
one per column, deterministic for a given list of stored files: the sorted union when every
part's dictionary is sorted, else (files not written this way) the union in order of first
appearance across the parts in key order (Arrow's ``unify_dictionaries``).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# pandas' ``coerce_indexer_dtype``: the smallest signed int strictly above the category count
_INDEX_TYPES = (
    (np.iinfo(np.int8).max, pa.int8()),
    (np.iinfo(np.int16).max, pa.int16()),
    (np.iinfo(np.int32).max, pa.int32()),
)


def index_type_for(categories: int) -> pa.DataType:
    """The Arrow index type pandas gives a categorical with ``categories`` categories."""
    return next((t for limit, t in _INDEX_TYPES if categories < limit), pa.int64())


def sorted_dictionary_columns(table: pa.Table) -> list[str]:
    """The dictionary columns whose dictionary is in sorted order (the ones to compact)."""
    names = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if not pa.types.is_dictionary(field.type) or column.num_chunks == 0:
            continue
        if all(_is_sorted(c.dictionary) for c in column.chunks):
            names.append(field.name)
    return names


def compact_dictionaries(table: pa.Table, columns: Collection[str]) -> tuple[pa.Table, list[str]]:
    """``table`` with each dictionary column of ``columns`` holding only the values its rows
    use, and the names of the columns that changed (none: the same table, zero-copy)."""
    changed: list[str] = []
    for position, field in enumerate(table.schema):
        if field.name not in columns or not pa.types.is_dictionary(field.type):
            continue
        column = table.column(position)
        compacted = _compact_column(column, field.type)
        if compacted is not column:
            table = table.set_column(position, field.with_type(compacted.type), compacted)
            changed.append(field.name)
    return table, changed


def _compact_column(column: pa.ChunkedArray, kind: pa.DictionaryType) -> pa.ChunkedArray:
    if column.num_chunks == 0:
        return column
    if column.num_chunks > 1 and any(
        not c.dictionary.equals(column.chunk(0).dictionary) for c in column.chunks[1:]
    ):
        column = column.unify_dictionaries()
    dictionary = column.chunk(0).dictionary
    used = _used_codes(column, len(dictionary))
    index_type = index_type_for(len(used))
    if len(used) == len(dictionary) and index_type == kind.index_type:
        return column
    remap = np.zeros(len(dictionary), dtype=index_type.to_pandas_dtype())
    remap[used] = np.arange(len(used))
    mapping = pa.array(remap, type=index_type)
    kept = dictionary.take(pa.array(used, type=pa.int64()))
    target = pa.dictionary(index_type, kind.value_type, kind.ordered)
    return pa.chunked_array(
        [
            pa.DictionaryArray.from_arrays(
                pc.take(mapping, chunk.indices), kept, ordered=kind.ordered
            )
            for chunk in column.chunks
        ],
        type=target,
    )


def _used_codes(column: pa.ChunkedArray, size: int) -> np.ndarray:
    """The dictionary positions some row uses, ascending (a bincount: one pass, no hashing)."""
    seen = np.zeros(size, dtype=bool)
    for chunk in column.chunks:
        indices = chunk.indices
        if indices.null_count:
            indices = pc.drop_null(indices)
        seen[indices.to_numpy(zero_copy_only=False)] = True
    return np.flatnonzero(seen)


def union_dictionaries(table: pa.Table) -> pa.Table:
    """One dictionary per column across chunks (see the module docstring for which)."""
    for position, field in enumerate(table.schema):
        if not pa.types.is_dictionary(field.type):
            continue
        column = table.column(position)
        dictionaries = [c.dictionary for c in column.chunks]
        if len(dictionaries) < 2 or all(d.equals(dictionaries[0]) for d in dictionaries[1:]):
            continue
        if all(_is_sorted(d) for d in dictionaries):
            merged = _sorted_union(column, dictionaries, field.type)
            table = table.set_column(position, field.with_type(merged.type), merged)
    return table.unify_dictionaries()  # the columns left: first appearance order


def _is_sorted(dictionary: pa.Array) -> bool:
    if len(dictionary) < 2:
        return True
    return bool(pc.all(pc.less(dictionary[:-1], dictionary[1:])).as_py())


def _sorted_union(
    column: pa.ChunkedArray, dictionaries: list[pa.Array], kind: pa.DictionaryType
) -> pa.ChunkedArray:
    union = pc.unique(pa.concat_arrays(dictionaries)).sort()
    index_type = pa.int32() if len(union) < np.iinfo(np.int32).max else pa.int64()
    chunks = []
    for chunk in column.chunks:
        mapping = pc.index_in(chunk.dictionary, value_set=union).cast(index_type)
        chunks.append(
            pa.DictionaryArray.from_arrays(
                pc.take(mapping, chunk.indices), union, ordered=kind.ordered
            )
        )
    return pa.chunked_array(chunks, type=pa.dictionary(index_type, kind.value_type, kind.ordered))
