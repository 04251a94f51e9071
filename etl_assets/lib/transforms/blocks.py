"""Parse a long column block by block and put the parts together.

A CSV column arrives as one Arrow chunk per block the reader parsed (about 130 at ten million
rows). Parsing it whole first copies all its text into one array: at ten million rows
that is a gigabyte of fresh memory for the twelve columns, every page of it faulted in and
zeroed by the kernel, and the parsers' whole-column temporaries are as large again. Parsing
blocks of :data:`BLOCK_ROWS` rows keeps each copy and temporary small enough for the allocator
to reuse the memory of the block before, and only the typed values (8 bytes a row for numbers)
are joined.

Every value's parse depends on that value alone (see :mod:`.coerce`), so the joined result is
the whole column's: the same values, the same failures row for row. Categories found in the
data are kept sorted across blocks.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms.arrays import block_slices, combined
from etl_assets.lib.transforms.coerce import coerce_array
from etl_assets.lib.transforms.parsed import Coerced, Failure

#: Rows parsed at once in a long column: a block's text is tens of MB, small enough to be
#: reused block after block, and large enough that per-call costs do not show (a million-row
#: table is one block, as before).
BLOCK_ROWS = 1 << 20


def coerce_blocks(column: pa.Array | pa.ChunkedArray, spec: ColumnSpec) -> Coerced:
    """:func:`coerce_array` of ``column``, parsed in blocks of :data:`BLOCK_ROWS` rows (each
    block's text joined from its chunks only when its turn comes)."""
    if not isinstance(column, pa.ChunkedArray) or len(column) <= BLOCK_ROWS:
        return coerce_array(combined(column), spec)
    parts = [coerce_array(block, spec) for block in block_slices(column, BLOCK_ROWS)]
    values = _joined_values([part.values for part in parts])
    if values is None:  # the parts came out in different types: parse the column whole
        return coerce_array(combined(column), spec)
    return Coerced(values, _joined_failures(parts))


def _joined_values(parts: list[pa.Array]) -> pa.Array | None:
    first = parts[0].type
    if any(part.type != first for part in parts):
        return None
    if isinstance(first, pa.DictionaryType):
        return _joined_dictionaries(parts)
    return pa.concat_arrays(parts)


def _joined_dictionaries(parts: list[pa.DictionaryArray]) -> pa.DictionaryArray:
    """One dictionary array: the same dictionary if every part has it (declared categories),
    else the sorted union of the parts' sorted dictionaries, indices mapped to it."""
    dictionary = parts[0].dictionary
    if all(part.dictionary.equals(dictionary) for part in parts[1:]):
        indices = pa.concat_arrays([part.indices for part in parts])
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    union = pc.unique(pa.concat_arrays([part.dictionary for part in parts]))
    union = union.take(pc.array_sort_indices(union))
    remapped = []
    for part in parts:
        where = pc.index_in(part.dictionary, value_set=union).cast(part.indices.type)
        remapped.append(pc.take(where, part.indices))
    return pa.DictionaryArray.from_arrays(combined(pa.chunked_array(remapped)), union)


def _joined_failures(parts: list[Coerced]) -> list[Failure]:
    """Each message's rows over the whole column, messages in the order they first appear."""
    lengths = [len(part.values) for part in parts]
    masks: dict[str, list[np.ndarray | None]] = {}
    for index, part in enumerate(parts):
        for failure in part.failures:
            masks.setdefault(failure.message, [None] * len(parts))[index] = failure.mask
    return [
        Failure(
            np.concatenate([np.zeros(n, dtype=bool) if mask is None else mask for mask, n in zip(found, lengths, strict=True)]),
            message,
        )
        for message, found in masks.items()
    ]
