"""Byte-level scan of a CSV body: its records, found without the parser that will read them.

Why: a parser that meets an unclosed quote reads the rest of the file as one field and reports
one row; counting rows after parsing cannot see that. This scan walks the bytes once with
numpy (line ends, quote runs) and decides where every record starts and ends, following the
same quoting rules as Arrow's CSV parser:

* a quote opens a quoted field only at the start of a field (after a delimiter, a line end or
  at the start of the body); elsewhere in an unquoted field it is an ordinary character;
* inside a quoted field ``""`` is one quote; a single quote ends the quoting (anything up to the
  next delimiter is still part of the field);
* line ends are ``\\n``, ``\\r\\n`` and a lone ``\\r``; inside a quoted field they are data.

A run of ``k`` consecutive quotes therefore acts on the state "inside quotes?" as: even ``k``
nothing; odd ``k`` at a field start a toggle; odd ``k`` elsewhere "now outside". That makes the
state after each run a prefix computation (toggles since the last "outside"), vectorised.

A quoted field is a *broken record* when it never closes before the end of the file, spans
more than ``max_record_lines`` lines (1 when quoted line breaks are not allowed), is larger than
``max_field_bytes``, or spans lines and its closing quote is not followed by a delimiter or a
line end (the usual sign of an unclosed quote that paired with the next record's quote). Only
the broken record's lines up to the line of the offending quote are rejected; scanning resumes
at the next line as if nothing were quoted there, so the rest of the file is read normally.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import threading
from dataclasses import dataclass, field

import numpy as np

from etl_assets.lib.sources.files import FileBytes

__all__ = [
    "ARROW_MAX_RECORD_BYTES",
    "BodyScan",
    "ScanRules",
    "count_empty_lines",
    "count_line_ends",
    "invalid_utf8_offsets",
    "scan_body",
]

_LF, _CR = 10, 13
_CHUNK = 1 << 25
#: Arrow parses a record within one block, and its block size is an int32: beyond this a record
#: is rejected whatever ``max_field_bytes`` says.
ARROW_MAX_RECORD_BYTES = 1 << 30


@dataclass(frozen=True)
class ScanRules:
    delimiter: str
    quote_char: str
    #: Lines a quoted field may span (1: quoted line breaks are not allowed).
    max_record_lines: int
    max_field_bytes: int


@dataclass
class BodyScan:
    """Every record of the body in order; broken ones carry the reason they are rejected.

    Offsets are byte offsets in the body; ``stops`` are exclusive and include the line end.
    """

    lines: int
    empty_lines: int
    starts: np.ndarray
    stops: np.ndarray
    #: 0-based body line on which each record starts.
    first_lines: np.ndarray
    #: Record index -> why it is rejected (broken quoting, size limits, undecodable bytes).
    rejected: dict[int, str] = field(default_factory=dict)
    #: Some kept record has a line break inside a quoted field.
    multiline: bool = False

    @property
    def records(self) -> int:
        return len(self.starts)

    def kept_mask(self) -> np.ndarray:
        mask = np.ones(self.records, dtype=bool)
        if self.rejected:
            mask[np.fromiter(self.rejected, dtype=np.int64, count=len(self.rejected))] = False
        return mask

    def largest_kept(self) -> int:
        sizes = (self.stops - self.starts)[self.kept_mask()]
        return int(sizes.max()) if len(sizes) else 0

    def record_of(self, offsets: np.ndarray) -> np.ndarray:
        """Index of the record containing each body offset (-1: an empty line or none)."""
        index = np.searchsorted(self.starts, offsets, side="right") - 1
        inside = (index >= 0) & (offsets < self.stops[np.maximum(index, 0)])
        return np.where(inside, index, -1)


def _positions(arr: np.ndarray, byte: int) -> np.ndarray:
    """Offsets of ``byte`` in ``arr``, in chunks so the temporary mask stays small."""
    found = [
        np.flatnonzero(arr[start : start + _CHUNK] == byte) + start
        for start in range(0, len(arr), _CHUNK)
    ]
    return np.concatenate(found).astype(np.int64, copy=False) if found else np.zeros(0, np.int64)


def _line_ends(data: FileBytes, offset: int, arr: np.ndarray) -> np.ndarray:
    """Offset in ``arr`` of the last byte of every line end (``\\n``, ``\\r\\n``, lone ``\\r``)."""
    ends = _positions(arr, _LF)
    if data.find(b"\r", offset) >= 0:
        cr = _positions(arr, _CR)
        follower = cr + 1
        lone = cr[(follower >= len(arr)) | (arr[np.minimum(follower, len(arr) - 1)] != _LF)]
        ends = np.union1d(ends, lone) if len(lone) else ends
    return ends


def _count_byte(arr: np.ndarray, byte: int) -> int:
    """Occurrences of ``byte`` (numpy in 4 MiB chunks: about 2.5x ``bytes.count`` here)."""
    step = 1 << 22
    return sum(
        int(np.count_nonzero(arr[start : start + step] == byte))
        for start in range(0, len(arr), step)
    )


def _count_crlf(arr: np.ndarray) -> int:
    """``\\r\\n`` pairs in ``arr`` (``bytes.count`` is not there for a mapped file)."""
    crs = _positions(arr, _CR)
    following = crs[crs + 1 < len(arr)] + 1
    return int(np.count_nonzero(arr[following] == _LF))


def count_line_ends(data: FileBytes, offset: int) -> int:
    """Physical lines of ``data[offset:]`` (an unterminated last line counts), without a parser."""
    if offset >= len(data):
        return 0
    arr = np.frombuffer(memoryview(data)[offset:], dtype=np.uint8)
    ends = _count_byte(arr, _LF)
    if data.find(b"\r", offset) >= 0:
        ends += _count_byte(arr, _CR) - _count_crlf(arr)
    return ends + (0 if data[-1:] in (b"\n", b"\r") else 1)


def count_empty_lines(data: FileBytes, offset: int) -> int:
    """Empty lines of ``data[offset:]``, without a parser.

    Newline-only text is searched with ``bytes.find`` (a Python step per run of blank lines
    only); text with carriage returns goes through the numpy line ends.
    """
    size = len(data)
    if offset >= size:
        return 0
    if data.find(b"\r", offset) >= 0:
        arr = np.frombuffer(memoryview(data)[offset:], dtype=np.uint8)
        stops = _line_ends(data, offset, arr) + 1
        if not len(stops) or stops[-1] != len(arr):
            stops = np.append(stops, len(arr))
        starts = np.concatenate(([0], stops[:-1])).astype(np.int64)
        return int((_content_lengths(arr, starts, stops) == 0).sum())
    empty = 1 if data[offset] == _LF else 0
    found = data.find(b"\n\n", offset)
    while found >= 0:
        end = found + 2
        while end < size and data[end] == _LF:
            end += 1
        empty += end - found - 1
        found = data.find(b"\n\n", end)
    return empty


@dataclass(frozen=True)
class _Runs:
    """Odd-length quote runs (even ones never change the state): where, and whether a toggle."""

    first: np.ndarray
    last: np.ndarray
    toggle: np.ndarray


def _quote_runs(arr: np.ndarray, quote: int, delimiter: int) -> _Runs:
    quotes = _positions(arr, quote)
    if not len(quotes):
        empty = np.zeros(0, np.int64)
        return _Runs(empty, empty, np.zeros(0, bool))
    begins = np.flatnonzero(np.diff(quotes, prepend=-2) != 1)
    lengths = np.diff(begins, append=len(quotes))
    first = quotes[begins]
    previous = arr[np.maximum(first - 1, 0)]
    at_field_start = (first == 0) | (previous == delimiter) | (previous == _LF) | (previous == _CR)
    odd = (lengths & 1) == 1
    return _Runs(first[odd], (first + lengths - 1)[odd], at_field_start[odd])


def _states_after(toggle: np.ndarray) -> np.ndarray:
    """Inside quotes (1) or not (0) after each odd run, starting outside before the first."""
    count = np.cumsum(toggle, dtype=np.int64)
    index = np.arange(len(toggle))
    last_reset = np.maximum.accumulate(np.where(toggle, -1, index))
    base = np.where(last_reset >= 0, count[np.maximum(last_reset, 0)], 0)
    return (count - base) & 1


def scan_body(data: FileBytes, offset: int, rules: ScanRules) -> BodyScan:
    """Records of the CSV body ``data[offset:]`` (no header, no byte-order mark).

    See the module docstring. Offsets in the result are relative to ``offset``.
    """
    arr = np.frombuffer(memoryview(data)[offset:], dtype=np.uint8)
    size = len(arr)
    ends = _line_ends(data, offset, arr)
    stops = ends + 1
    if size and (not len(ends) or ends[-1] != size - 1):
        stops = np.append(stops, size)  # a last line without a line end
    lines = len(stops)
    line_starts = np.concatenate(([0], stops[:-1])).astype(np.int64)

    boundary = np.ones(lines, dtype=bool)  # the line's end is also a record's end
    broken: list[tuple[int, int, str]] = []  # (first line, last line, reason)
    multiline = False
    quote = ord(rules.quote_char)
    if lines and data.find(rules.quote_char.encode(), offset) >= 0:
        runs = _quote_runs(arr, quote, ord(rules.delimiter))
        multiline = _mark_quoted(arr, runs, stops, boundary, broken, rules)

    record_last = np.flatnonzero(boundary)
    record_first = np.concatenate(([0], record_last[:-1] + 1)).astype(np.int64)
    starts = line_starts[record_first]
    record_stops = stops[record_last]
    single = record_first == record_last
    content = _content_lengths(arr, line_starts[record_last], stops[record_last])
    is_empty = single & (content == 0)
    broken_first = {first for first, _, _ in broken}
    keep = ~is_empty
    scan = BodyScan(
        lines=lines,
        empty_lines=int(is_empty.sum()),
        starts=starts[keep],
        stops=record_stops[keep],
        first_lines=record_first[keep],
    )
    if broken:
        index_of = {
            int(line): i for i, line in enumerate(scan.first_lines) if int(line) in broken_first
        }
        for first, _, reason in broken:
            scan.rejected[index_of[first]] = reason
    scan.multiline = multiline
    _reject_oversized(data, offset, scan, rules)
    return scan


def _content_lengths(arr: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Bytes of each line without its line end."""
    length = stops - starts
    if not len(length):
        return length
    last = np.maximum(stops - 1, 0)
    ends_lf = (length > 0) & (arr[last] == _LF)
    ends_cr = (length > 0) & (arr[last] == _CR)
    crlf = ends_lf & (length > 1) & (arr[np.maximum(stops - 2, 0)] == _CR)
    return length - ends_lf - ends_cr - crlf


def _mark_quoted(
    arr: np.ndarray,
    runs: _Runs,
    stops: np.ndarray,
    boundary: np.ndarray,
    broken: list[tuple[int, int, str]],
    rules: ScanRules,
) -> bool:
    """Clear ``boundary`` for line ends inside quoted fields; collect broken records.

    Returns whether a kept quoted field spans lines. Each broken record restarts the state
    after its line, so the computation is redone from there (once per broken record).
    """
    size = len(arr)
    delimiter = ord(rules.delimiter)
    ends = stops - 1
    multiline = False
    restart = 0  # body offset from which quoting starts afresh
    record_start_line = 0  # first line of the record in progress at ``restart``
    while True:
        begin = int(np.searchsorted(runs.first, restart))
        first, last, toggle = runs.first[begin:], runs.last[begin:], runs.toggle[begin:]
        if not len(first):
            return multiline
        after = _states_after(toggle)
        opens = _candidate_opens(after, first, last, ends, restart, size, rules)
        closes = opens + 1
        closed = closes < len(first)
        open_at = first[opens]
        close_at = np.where(closed, last[np.minimum(closes, len(first) - 1)], size - 1)
        open_line = np.searchsorted(ends, open_at)
        close_line = np.searchsorted(ends, close_at)
        spanned = close_line - open_line + 1
        follower = close_at + 1
        next_byte = arr[np.minimum(follower, size - 1)]
        proper = ~closed | (follower >= size) | np.isin(next_byte, (delimiter, _LF, _CR))
        too_long = spanned > rules.max_record_lines
        too_big = close_at - open_at + 1 > rules.max_field_bytes
        bad = ~closed | too_long | too_big | ((spanned > 1) & ~proper)
        first_bad = int(np.argmax(bad)) if bad.any() else len(opens)
        # quoted fields before the first broken one are fine: their line ends are data
        good_open, good_close = open_line[:first_bad], close_line[:first_bad]
        spans = good_close > good_open
        if spans.any():
            multiline = True
            _clear_inside(boundary, good_open[spans], good_close[spans])
        if first_bad == len(opens):
            return multiline
        line = int(open_line[first_bad])
        reason = _broken_reason(
            closed=bool(closed[first_bad]),
            too_long=bool(too_long[first_bad]),
            too_big=bool(too_big[first_bad]),
            spanned=int(spanned[first_bad]),
            next_byte=int(next_byte[first_bad]),
            rules=rules,
        )
        # the record in progress began after the last line end that is a record end
        previous_ends = np.flatnonzero(boundary[record_start_line:line])
        start_line = record_start_line + (int(previous_ends[-1]) + 1 if len(previous_ends) else 0)
        boundary[start_line:line] = False
        boundary[line] = True
        broken.append((start_line, line, reason))
        restart = int(stops[line]) if line < len(stops) else size
        record_start_line = line + 1


def _candidate_opens(
    after: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    ends: np.ndarray,
    restart: int,
    size: int,
    rules: ScanRules,
) -> np.ndarray:
    """The runs opening the quoted fields that need a look: those holding a line end, the one
    left open at the end, and (if the body is big enough to hold one) those over the size limit.

    Everything else is a one-line quoted field within the limit, which cannot be broken; not
    following the millions of those one by one is what keeps the scan affordable.
    """
    count = len(after)
    is_open = np.empty(count, dtype=bool)
    is_open[0] = after[0] == 1
    is_open[1:] = (after[1:] == 1) & (after[:-1] == 0)
    open_of_run = np.maximum.accumulate(np.where(is_open, np.arange(count), -1))
    window_ends = ends[np.searchsorted(ends, restart) :]
    run = np.searchsorted(first, window_ends) - 1  # the last quote run before each line end
    inside = (run >= 0) & (after[np.maximum(run, 0)] == 1)
    found = [open_of_run[run[inside]]]
    if after[-1] == 1:
        found.append(open_of_run[-1:])
    if size - restart > rules.max_field_bytes:
        opens = np.flatnonzero(is_open)
        closes = np.minimum(opens + 1, count - 1)
        stop = np.where(opens + 1 < count, last[closes], size - 1)
        found.append(opens[stop - first[opens] + 1 > rules.max_field_bytes])
    return np.unique(np.concatenate(found))


def _clear_inside(boundary: np.ndarray, open_lines: np.ndarray, close_lines: np.ndarray) -> None:
    """Lines ``open..close-1`` of each span end inside a quoted field: not record ends."""
    delta = np.zeros(len(boundary) + 1, dtype=np.int64)
    np.add.at(delta, open_lines, 1)
    np.add.at(delta, close_lines, -1)
    boundary &= np.cumsum(delta[:-1]) == 0


def _broken_reason(
    *, closed: bool, too_long: bool, too_big: bool, spanned: int, next_byte: int, rules: ScanRules
) -> str:
    if not closed:
        return "a quote opened on this line is never closed (the file ends inside the quoted field)"
    if too_big:
        return (
            f"a quoted field opened on this line is larger than max_field_bytes "
            f"({rules.max_field_bytes} bytes)"
        )
    if too_long:
        if rules.max_record_lines == 1:
            return (
                "a quoted field opened on this line runs past the line's end, and multiline_values "
                "is false (quoted line breaks are not allowed)"
            )
        return (
            f"a quoted field opened on this line runs over {spanned} lines, more than "
            f"max_record_lines ({rules.max_record_lines}): probably an unclosed quote"
        )
    return (
        f"a quoted field opened on this line spans {spanned} lines and its closing quote is "
        f"followed by {chr(next_byte)!r}, not a delimiter or line end: probably an unclosed quote"
    )


def _reject_oversized(data: FileBytes, offset: int, scan: BodyScan, rules: ScanRules) -> None:
    """Records with an unquoted field over ``max_field_bytes``, or too big for Arrow at all.

    Only records larger than the limit can hold such a field, so only those are parsed here.
    """
    limit = min(rules.max_field_bytes, ARROW_MAX_RECORD_BYTES)
    sizes = scan.stops - scan.starts
    for index in np.flatnonzero(sizes > limit):
        index = int(index)
        if index in scan.rejected:
            continue
        size = int(sizes[index])
        if size > ARROW_MAX_RECORD_BYTES:
            scan.rejected[index] = (
                f"the record is {size} bytes, more than the {ARROW_MAX_RECORD_BYTES} bytes "
                "the CSV parser can hold in one record"
            )
            continue
        start, stop = offset + int(scan.starts[index]), offset + int(scan.stops[index])
        text = data[start:stop].decode("utf-8", errors="replace")
        reader = pycsv.reader(
            [text], delimiter=rules.delimiter, quotechar=rules.quote_char, strict=False
        )
        fields = next(reader, [])
        largest = max((len(value.encode("utf-8")) for value in fields), default=0)
        if largest > rules.max_field_bytes:
            position = [len(value.encode("utf-8")) for value in fields].index(largest) + 1
            scan.rejected[index] = (
                f"field {position} is {largest} bytes, larger than max_field_bytes "
                f"({rules.max_field_bytes} bytes)"
            )


# --------------------------------------------------------------------------- undecodable bytes

_COLLECTED = threading.local()
_HANDLER = "etl_assets.collect_offsets"


def _collect(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    _COLLECTED.offsets.append(error.start)
    return "", error.end


codecs.register_error(_HANDLER, _collect)


def invalid_utf8_offsets(data: bytes) -> np.ndarray:
    """Offsets of every byte sequence in ``data`` that is not UTF-8 (one decoding pass)."""
    _COLLECTED.offsets = []
    try:
        data.decode("utf-8", errors=_HANDLER)
        return np.asarray(_COLLECTED.offsets, dtype=np.int64)
    finally:
        _COLLECTED.offsets = []
