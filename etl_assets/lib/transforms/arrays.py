"""Small Arrow helpers shared by the parsers: pandas -> Arrow, masks, and a cast that never raises.

Cleaning works on Arrow arrays because pyarrow.compute kernels on the Arrow-backed ``str``
columns pandas 3 hands over are an order of magnitude faster than pandas' object paths
(``pd.to_numeric`` on 1M strings: ~320 ms; Arrow's cast: ~11 ms).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.json_text import is_nested, json_text

TEXT = pa.large_string()
#: Below this many values a failing cast is retried value by value instead of being split again.
_LEAF = 16


def to_arrow_chunks(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as Arrow, as the frame holds it (zero-copy for Arrow-backed and most numpy
    columns; a CSV column is one chunk per block the reader parsed).

    Mixed Python objects that Arrow cannot type (e.g. ints and strings in one field of a
    hand-built frame) become text: ``str()`` for scalars, JSON for lists and dicts. A parser then
    judges each value by its text, as for CSV input.
    """
    try:
        return pa.array(values.array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        present = values.notna().to_numpy()
        texts = [
            (json_text(v) if is_nested(v) else str(v)) if keep else None
            for v, keep in zip(values.tolist(), present, strict=True)
        ]
        return pa.array(texts, type=TEXT)


def combined(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (a copy only when there are several chunks)."""
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def to_arrow(values: pd.Series) -> pa.Array:
    """The column as one Arrow array (see :func:`to_arrow_chunks`)."""
    return combined(to_arrow_chunks(values))


def block_slices(array: pa.ChunkedArray, rows: int) -> Iterator[pa.Array]:
    """``array`` as contiguous arrays of ``rows`` rows (the last one shorter), in order, each
    joined from its chunks only when it is asked for."""
    for start in range(0, len(array), rows):
        yield combined(array.slice(start, rows))


class ArrowColumns:
    """Columns of a frame as Arrow, converted once and shared by parsing and rejects.

    Long columns are kept as the frame holds them (chunked): the clean step parses them block
    by block (:mod:`.blocks`) and takes the rejected rows' raw values from the chunks
    (:meth:`take`), so their text is never copied whole into one array. Safe to read from
    several threads (the clean step parses columns in parallel): a column is converted by one
    thread while the others wanting it wait for it."""

    def __init__(self, frame: pd.DataFrame, whole_up_to: int | None = None):
        """``whole_up_to``: columns of at most this many rows are joined into one array once
        (parsed whole, and taking rejected rows from one array is cheaper than from chunks);
        longer ones stay chunked. None: every column is joined."""
        self.frame = frame
        self.whole_up_to = whole_up_to
        self._arrays: dict[str, pa.Array | pa.ChunkedArray] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def __contains__(self, name: object) -> bool:
        return name in self.frame.columns

    def column(self, name: str) -> pa.Array | pa.ChunkedArray:
        array = self._arrays.get(name)
        if array is not None:
            return array
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            array = self._arrays.get(name)
            if array is None:
                array = to_arrow_chunks(self.frame[name])
                if self.whole_up_to is None or len(array) <= self.whole_up_to:
                    array = combined(array)
                self._arrays[name] = array
        return array

    def take(self, name: str, positions: np.ndarray) -> pa.Array:
        """The values at ``positions`` (int64 row numbers), as one array."""
        column = self.column(name)
        if isinstance(column, pa.ChunkedArray) and column.num_chunks > 1:
            return take_from_chunks(column, positions)
        return combined(column).take(pa.array(positions, type=pa.int64()))


def take_from_chunks(column: pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """``column.take(positions)`` chunk by chunk. Arrow's take on a chunked column first joins
    the chunks: ~115 ms per text column of ten million rows in a thousand chunks, to take a
    few thousand values; each chunk's own take is ~10 us."""
    if not len(positions):
        return column.chunk(0).slice(0, 0)
    starts = np.cumsum([0, *(len(chunk) for chunk in column.chunks)])
    which = np.searchsorted(starts, positions, side="right") - 1
    order = np.argsort(which, kind="stable")
    grouped, chunk_of = positions[order], which[order]
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    pieces = [
        column.chunk(int(chunk)).take(pa.array(part - starts[chunk], type=pa.int64()))
        for part, chunk in zip(np.split(grouped, cuts), chunk_of[np.r_[0, cuts]], strict=True)
    ]
    taken = pa.concat_arrays(pieces)
    if (order == np.arange(len(order))).all():
        return taken
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return taken.take(pa.array(inverse))


def is_text(array: pa.Array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def as_text(array: pa.Array) -> pa.Array:
    """Text form of any array (numbers as Arrow prints them: ``2.5``, ``1e+20``, ``true``; lists,
    structs and maps as JSON, see :mod:`etl_assets.lib.json_text`)."""
    if pa.types.is_large_string(array.type):
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), TEXT)
    try:
        return array.cast(TEXT)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested values: their JSON text
        return pa.array([None if v is None else json_text(v) for v in _python_values(array)], type=TEXT)


def _python_values(array: pa.Array) -> list[object]:
    """The values as Python objects, maps as dicts (as pairs if a map repeats a key)."""
    try:
        return array.to_pylist(maps_as_pydicts="strict")
    except (KeyError, ValueError, pa.ArrowException):
        return array.to_pylist()


def _value_bytes(array: pa.Array) -> np.ndarray:
    """The bytes of a string array's values (under nulls too), straight off its data buffer."""
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint8)
    _, offsets_buffer, data = array.buffers()[:3]
    if data is None or data.size == 0:
        return np.zeros(0, dtype=np.uint8)
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[array.offset : array.offset + len(array) + 1]
    return np.frombuffer(data, dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]


def has_any_byte(array: pa.Array, characters: bytes) -> bool:
    """Whether any value of a string array holds one of ``characters`` (a few ms per 1M values)."""
    values = _value_bytes(array)
    return any(bool((values == byte).any()) for byte in characters)


def all_ascii(array: pa.Array) -> bool:
    """Whether every byte of a string array's values is ASCII, read straight off its data buffer
    (a few ms for 1M values, vs. ~7 ms for the per-value ``string_is_ascii`` kernel). ASCII-only
    text can use the cheaper ``ascii_*`` kernels, which give the same result on it."""
    values = _value_bytes(array)
    whole = len(values) // 8 * 8
    high_bits = np.uint64(0x8080808080808080)
    return not (values[:whole].view(np.uint64) & high_bits).any() and not (values[whole:] & 0x80).any()


def to_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    if array.null_count:
        array = pc.fill_null(array, False)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def valid_mask(array: pa.Array) -> np.ndarray:
    if not array.null_count:
        return np.ones(len(array), dtype=bool)
    return to_mask(pc.is_valid(array))


def null_where(array: pa.Array, mask: np.ndarray) -> pa.Array:
    """``array`` with the positions in ``mask`` set to null."""
    if not mask.any():
        return array
    return pc.if_else(pa.array(mask), pa.nulls(1, array.type)[0], array)


def cast_or_null(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Arrow's (strict) cast, with a null wherever a value does not convert instead of raising.

    One kernel call when every value converts. Otherwise the failing slice is halved until the bad
    values are isolated, so a few bad values among millions cost a few dozen casts, and the
    accepted values are exactly those Arrow's own parser accepts. Callers null out obvious garbage
    with a vectorized pattern first, so only rare semantic failures (``2013-02-30``, an int
    beyond int64) get here.
    """
    try:
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    pieces: list[pa.Array] = []
    stack = [(0, len(array))]
    while stack:
        start, length = stack.pop()
        part = array.slice(start, length)
        try:
            pieces.append(part.cast(target))
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        if length <= _LEAF:
            pieces.append(pa.array([_cast_one(part.slice(i, 1), target) for i in range(length)], type=target))
        else:
            half = length // 2
            stack.append((start + half, length - half))  # popped after the first half: keeps order
            stack.append((start, half))
    return pa.concat_arrays(pieces) if pieces else pa.nulls(0, target)


def _cast_one(value: pa.Array, target: pa.DataType) -> object:
    try:
        return value.cast(target)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def replace_empty_with_null(array: pa.Array) -> pa.Array:
    """A blank cell carries no value: ``""`` becomes null."""
    empty = pc.equal(pc.binary_length(array), 0)
    if not pc.any(empty).as_py():
        return array
    return pc.if_else(empty, pa.nulls(1, array.type)[0], array)
