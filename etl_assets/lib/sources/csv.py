"""CSV files, read by Arrow's multithreaded parser with every data column kept as text.

Why text: the raw layer stores what landed. Typed coercion happens in the clean step, which
can then reject one bad value (``abc`` in an int column) or keep a zip code's leading zero
(``01234``) instead of the whole column silently changing type at read time.

How the file is read:

* The decompressed bytes are read whole (a declared non-UTF-8 encoding is transcoded to UTF-8
  first; bytes it cannot decode stay as they are, so they are invalid UTF-8 below).
* The header (after ``skip_rows`` physical lines and any empty lines) is parsed here with
  Python's ``csv`` module from the first bytes of the file, so that duplicate or empty names,
  a wrong delimiter and a ``column_names`` count mismatch are reported clearly before Arrow
  runs. Every column is typed ``large_string`` (the storage of pandas' ``str`` dtype: the
  pandas conversion is cheap).
* The body is scanned byte by byte (:mod:`etl_assets.lib.sources.csv_scan`): every record's
  start and end, found without the parser. Broken records (an unclosed quote, a quoted field
  over ``max_record_lines`` lines, a field over ``max_field_bytes``) and records holding
  undecodable bytes (found by Arrow's UTF-8 validation, located by a decoding pass only
  then) are rejected here with their line, reason and whole raw text; Arrow parses the rest,
  with a block size above the largest record and ``newlines_in_values`` only when a kept
  record has a quoted line break. Arrow's row count must equal the scan's, or the read fails:
  rows are never lost silently.
* A row with the wrong number of fields is, with ``on_bad_lines: reject``, kept: its data
  columns are null and ``_parse_error`` says ``expected N fields, found M: <row text>``.
  Arrow's multithreaded reader does not know row numbers (``InvalidRow.number`` is None), so a
  file that has such rows is parsed a second time single-threaded; clean files are parsed once.
  A body of 128 MiB or more whose records are each one line is parsed in pieces cut at line
  ends, one Arrow block each, on a few threads: no serial quote-aware pass over the whole file,
  and rows are numbered (see ``_read_pieces`` for why a cut inside a quoted field cannot pass).
  With ``on_bad_lines: error`` any rejected record fails the file, naming its row and line.
* ``_source_row`` is the data record number: 1 is the first record after the header. Empty
  lines are not records; a quoted field spanning lines is one record; a broken record is one.
* The frame carries a :class:`PhysicalInput`: decompressed bytes, physical lines, and the
  records the scan found as the rows the file must give.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl_assets.lib.sources.csv_scan import (
    BodyScan,
    ScanRules,
    count_empty_lines,
    count_line_ends,
    invalid_utf8_offsets,
    scan_body,
)
from etl_assets.lib.sources.errors import SourceReadError
from etl_assets.lib.sources.files import (
    PARSE_ERROR_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    FileBytes,
    SourceFile,
    arrow_to_pandas,
    check_reserved,
    constant_strings,
    encoding_error,
    is_utf8,
    row_numbers,
)
from etl_assets.lib.sources.physical import PhysicalInput, attach_physical
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec
from etl_assets.lib.transforms.threads import default_threads

__all__ = ["read_csv_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN, PARTITION_COLUMN)
_FIRST_HEAD = 1 << 16
_MAX_HEAD = 1 << 26
_ROW_TEXT = 200
# Split after "\n", "\r\n" or a lone "\r" (what Arrow treats as line ends), keeping the ends.
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
_LINE_END_BYTES = re.compile(rb"\r\n|\n|\r")
_BOM = codecs.BOM_UTF8
#: Bytes Arrow parses per block (each block is one chunk of every column): a 128th of the file,
#: between these bounds. Small blocks cost large files: ten million rows in 1 MiB blocks are
#: ~1,070 chunks per column, which every step after the read pays for (~130 now); a million
#: rows (110 MB) read fastest in 1 MiB blocks (larger ones fault in more fresh pages).
_MIN_BLOCK, _MAX_BLOCK, _BLOCKS_PER_FILE = 1 << 20, 16 << 20, 128
_EMPTY_LINES = ("\n", "\r\n", "\r")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class _Layout:
    """What the head of the file says: column names, lines before the data, and no-data files."""

    names: list[str]
    skip_lines: int
    no_data: bool


@dataclass(frozen=True)
class _BadRow:
    number: int | None
    expected: int
    actual: int
    text: str

    def message(self) -> str:
        """Why the row was rejected, with its whole raw text (kept in the rejected table)."""
        return f"expected {self.expected} fields, found {self.actual}: {self.text}"


def read_csv_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    """One CSV file as text columns plus ``_source_file``, ``_source_row`` and ``_parse_error``.

    The frame carries the file's :class:`PhysicalInput` (bytes, lines, records found by the
    byte scan) for the conservation checks.
    """
    with file.mapped() as data:
        layout = _layout(file, spec, data)
        if layout.no_data:
            table = pa.table({name: pa.array([], pa.large_string()) for name in layout.names})
            errors = pa.nulls(0, pa.large_string())
            lines, detail = _count_lines(data), {"header_lines": layout.skip_lines}
            records = 0
        else:
            table, errors, figures = _read_body(file, spec, layout, data)
            lines, records = layout.skip_lines + figures.lines, figures.records
            detail = {"header_lines": layout.skip_lines, **figures.detail()}
        size = len(data)
    total = table.num_rows
    table = (
        table.append_column(SOURCE_FILE_COLUMN, constant_strings(file.label, total))
        .append_column(SOURCE_ROW_COLUMN, row_numbers(total))
        .append_column(PARSE_ERROR_COLUMN, errors)
    )
    physical = PhysicalInput(
        file=file.label,
        bytes=size,
        unit="lines",
        units=lines,
        expected_rows=records,
        emitted_rows=total,
        detail=tuple(detail.items()),
    )
    return attach_physical(arrow_to_pandas(table), physical)


# --------------------------------------------------------------------------- the header


def _layout(file: SourceFile, spec: SourceSpec, data: FileBytes) -> _Layout:
    """Parse the head of the file, taking more of it until the header record is complete."""
    size = _FIRST_HEAD
    while True:
        head, eof = data[:size], len(data) <= size
        layout = _parse_head(file, spec, head, eof)
        if layout is not None:
            # a bad byte after the header is one bad record (decoded leniently above), but
            # one in the header makes the column names unknown: the file cannot be read
            decodable = _decodable_prefix(spec, head, eof)
            if decodable < len(head) and decodable < _body_offset(head, layout.skip_lines):
                raise (
                    encoding_error(file, spec.encoding)
                    or file.read_error(f"not valid {spec.encoding}")
                )
            return layout
        if size >= _MAX_HEAD:
            raise file.read_error(
                f"no complete header record in the first {_MAX_HEAD >> 20} MiB "
                "(an unclosed quote, or not a CSV file?)"
            )
        size *= 4


def _decodable_prefix(spec: SourceSpec, head: bytes, final: bool) -> int:
    """How many bytes of ``head`` decode (all of them, or up to the first bad byte)."""
    codec = "utf-8" if is_utf8(spec.encoding) else spec.encoding
    try:
        codecs.getincrementaldecoder(codec)(errors="strict").decode(head, final)
    except UnicodeDecodeError as error:
        return error.start
    return len(head)


def _decode_head(spec: SourceSpec, head: bytes, final: bool) -> str:
    """The head as text; undecodable bytes become U+FFFD here (``_layout`` checks they are
    not in the header; in the body they are rejected per record)."""
    codec = "utf-8-sig" if is_utf8(spec.encoding) else spec.encoding
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(head, final)


def _parse_head(file: SourceFile, spec: SourceSpec, head: bytes, eof: bool) -> _Layout | None:
    """The file's layout, or None when ``head`` is too short to tell (read more)."""
    options = spec.csv_options
    if not head and eof:
        if options.header:
            raise file.read_error(
                "the file is empty (0 bytes): there is no header to take column names from"
            )
        return _Layout(
            _checked_names(file, list(options.column_names or []), "column_names"), 0, True
        )

    lines = [line for line in _LINE_END.split(_decode_head(spec, head, eof)) if line]
    if not eof and lines and not lines[-1].endswith(("\n", "\r")):
        lines.pop()  # cut mid-line: the next read will have it whole
    first = options.skip_rows
    while first < len(lines) and lines[first] in _EMPTY_LINES:
        first += 1
    if first >= len(lines):
        if not eof:
            return None
        if options.header:
            raise file.read_error(
                f"no header line: the file has {len(lines)} line(s) and skip_rows is {options.skip_rows}"
            )
        return _Layout(
            _checked_names(file, list(options.column_names or []), "column_names"), 0, True
        )

    reader = pycsv.reader(
        lines[first:],
        delimiter=options.delimiter,
        quotechar=options.quote_char,
        doublequote=True,
        strict=False,
    )
    try:
        record = next(reader)
    except (pycsv.Error, StopIteration) as error:
        if not eof:
            return None
        raise file.read_error(f"cannot parse the first record: {error}", line=first + 1) from None
    consumed = reader.line_num
    if first + consumed >= len(lines) and not eof:
        return None  # the record may go on past the head (a quoted newline): read more
    record_text = "".join(lines[first : first + consumed])

    if options.header:
        skip = first + consumed
        names = record
        if options.column_names is not None:
            if len(options.column_names) != len(record):
                raise file.read_error(
                    f"column_names lists {len(options.column_names)} names but the header has "
                    f"{len(record)} fields: {record}",
                    line=first + 1,
                )
            names = list(options.column_names)
        elif len(record) == 1:
            _refuse_wrong_delimiter(file, options.delimiter, record_text, first + 1)
        rest = lines[skip:]
        no_data = eof and all(line in _EMPTY_LINES for line in rest)
        names = _checked_names(file, names, "column_names" if options.column_names else "header")
    else:
        skip = first
        names = _checked_names(file, list(options.column_names or []), "column_names")
        if len(record) != len(names):
            if len(record) == 1:
                _refuse_wrong_delimiter(file, options.delimiter, record_text, first + 1)
            raise file.read_error(
                f"header is false and column_names lists {len(names)} names, but the first record "
                f"has {len(record)} fields: {record_text.rstrip()[:_ROW_TEXT]}",
                row=1,
            )
        no_data = False
    check_reserved(file, names, _RESERVED)
    return _Layout(names, skip, no_data)


def _refuse_wrong_delimiter(file: SourceFile, delimiter: str, text: str, line: int) -> None:
    """One field but another delimiter in the line: the declared delimiter is almost surely wrong."""
    counts = {
        candidate: text.count(candidate) for candidate in _DELIMITERS if candidate != delimiter
    }
    found, count = max(counts.items(), key=lambda item: item[1])
    if count:
        raise file.read_error(
            f"the header parses as a single column with delimiter {delimiter!r}, but it contains "
            f"{found!r} {count} time(s): the file seems to use {found!r} as its delimiter; "
            f"set csv.delimiter: {found!r} on the source",
            line=line,
        )


def _checked_names(file: SourceFile, names: list[str], origin: str) -> list[str]:
    """Column names must be non-empty and unique: they become the table's columns."""
    problems = []
    empty = [index + 1 for index, name in enumerate(names) if not name.strip()]
    if empty:
        problems.append(f"column(s) at position {empty} have an empty name")
    seen: set[str] = set()
    duplicates = sorted({name for name in names if name in seen or seen.add(name)})
    if duplicates:
        problems.append(f"duplicate column name(s) {duplicates}")
    if problems:
        raise file.read_error(
            f"{origin}: {'; '.join(problems)} (names: {names}); "
            "rename them in the file, or set header: false with column_names"
        )
    return names


# --------------------------------------------------------------------------- the body


def _decoded_bytes(file: SourceFile, spec: SourceSpec, data: FileBytes) -> FileBytes:
    """``data`` as UTF-8 for the scan and Arrow; bytes the encoding cannot decode stay as they
    were (so they are invalid UTF-8, and rejected with their record)."""
    if is_utf8(spec.encoding):
        return data
    try:
        text = str(data, spec.encoding, errors="surrogateescape")
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeError:
        raise (
            encoding_error(file, spec.encoding) or file.read_error(f"not valid {spec.encoding}")
        ) from None


def _body_offset(data: FileBytes, skip_lines: int) -> int:
    """Byte offset of the first line after ``skip_lines`` lines (and after a byte-order mark)."""
    offset = len(_BOM) if data[: len(_BOM)] == _BOM else 0
    if skip_lines:
        for count, match in enumerate(_LINE_END_BYTES.finditer(data, offset), start=1):
            if count == skip_lines:
                return match.end()
        return len(data)
    return offset


def _count_lines(data: FileBytes) -> int:
    ends = len(_LINE_END_BYTES.findall(data))
    return ends + (1 if len(data) and data[-1:] not in (b"\n", b"\r") else 0)


def _scan_rules(spec: SourceSpec) -> ScanRules:
    options = spec.csv_options
    return ScanRules(
        delimiter=options.delimiter,
        quote_char=options.quote_char,
        max_record_lines=options.max_record_lines if options.multiline_values else 1,
        max_field_bytes=options.max_field_bytes,
    )


@dataclass
class _Body:
    """The body's bytes (UTF-8), where it starts, and its scan."""

    data: FileBytes
    offset: int
    scan: BodyScan
    #: The bytes were transcoded from another encoding (offsets are not the file's).
    transcoded: bool

    def text(self, index: int) -> str:
        """The record's raw text, whole, without its line end."""
        start = self.offset + int(self.scan.starts[index])
        stop = self.offset + int(self.scan.stops[index])
        raw = self.data[start:stop]
        return raw.decode("utf-8", errors="backslashreplace").removesuffix("\n").removesuffix("\r")

    def kept_bytes(self) -> pa.Buffer:
        """What Arrow parses: the body without the rejected records."""
        buffer = pa.py_buffer(self.data)
        if not self.scan.rejected:
            return buffer.slice(self.offset)
        mask = self.scan.kept_mask()
        starts = self.scan.starts[mask] + self.offset
        stops = self.scan.stops[mask] + self.offset
        view = memoryview(self.data)
        return pa.py_buffer(
            b"".join(view[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True))
        )


@dataclass(frozen=True)
class _Figures:
    """What the body physically held: lines, empty lines, records, and how they were found."""

    lines: int
    empty_lines: int
    records: int
    rejected_by_scan: int = 0
    #: The byte-level record scan ran (quoted line breaks, or rows did not match lines).
    scanned: bool = False
    largest_record: int | None = None

    def detail(self) -> dict[str, int]:
        found = {
            "empty_lines": self.empty_lines,
            "records_rejected_by_scan": self.rejected_by_scan,
            "record_scan": int(self.scanned),
        }
        if self.largest_record is not None:
            found["largest_record_bytes"] = self.largest_record
        return found


@dataclass(frozen=True)
class _ArrowInput:
    """What Arrow parses and how: the bytes, quoted line breaks or not, the block size, and
    the file's record number of Arrow's n-th record."""

    buffer: pa.Buffer
    newlines: bool
    block_size: int
    record_number: Callable[[int], int]


def _read_body(
    file: SourceFile, spec: SourceSpec, layout: _Layout, data: FileBytes
) -> tuple[pa.Table, pa.Array, _Figures]:
    """All records of the body, in order: Arrow's rows, and the rejected ones put back in place.

    Fast path: when the body is valid UTF-8 and Arrow's rows equal its non-empty physical
    lines (counted with ``bytes.count``, not by a parser), every record is one line and
    nothing was swallowed. Otherwise (a quoted line break, an unclosed quote, a huge record,
    an undecodable byte) the byte-level scan decides the records and Arrow reads again.
    """
    utf8 = _decoded_bytes(file, spec, data)
    offset = _body_offset(utf8, layout.skip_lines)
    fast = _read_fast(file, spec, layout, utf8, offset)
    if fast is not None:
        return fast
    body = _Body(utf8, offset, scan_body(utf8, offset, _scan_rules(spec)), utf8 is not data)
    mode = spec.csv_options.on_bad_lines
    if not _is_utf8(utf8, offset):
        if mode == "error":
            located = encoding_error(file, spec.encoding)
            raise located or file.read_error(f"not valid {spec.encoding}")
        _reject_undecodable(spec, body)
    if mode == "error" and body.scan.rejected:
        _raise_first_rejected(file, layout, body)
    if body.scan.records == len(body.scan.rejected):
        table = pa.table({name: pa.array([], pa.large_string()) for name in layout.names})
        bad: list[_BadRow] = []
    else:
        source = _ArrowInput(
            body.kept_bytes(),
            body.scan.multiline,
            2 * body.scan.largest_kept() + _block_size(len(body.data) - body.offset),
            partial(_record_number, body),
        )
        table, bad = _read_table(file, spec, layout, source, threads=True)
        if bad and any(row.number is None for row in bad):
            table, bad = _read_table(file, spec, layout, source, threads=False)
    kept = body.scan.records - len(body.scan.rejected)
    if table.num_rows + len(bad) != kept:
        raise file.read_error(
            f"the CSV parser returned {table.num_rows + len(bad)} rows but the byte scan found "
            f"{kept} records to parse: rows would be lost or invented, so the file is not read "
            "(please report this file to the etl_assets maintainers)"
        )
    table, errors = _place_rejected(table, bad)
    table, errors = _place_broken(table, errors, body, layout)
    scan = body.scan
    figures = _Figures(
        lines=scan.lines,
        empty_lines=scan.empty_lines,
        records=scan.records,
        rejected_by_scan=len(scan.rejected),
        scanned=True,
        largest_record=int((scan.stops - scan.starts).max()) if scan.records else 0,
    )
    return table, errors, figures


def _block_size(body_bytes: int) -> int:
    return max(_MIN_BLOCK, min(_MAX_BLOCK, body_bytes // _BLOCKS_PER_FILE))


def _read_fast(
    file: SourceFile, spec: SourceSpec, layout: _Layout, data: FileBytes, offset: int
) -> tuple[pa.Table, pa.Array, _Figures] | None:
    """The body read in one Arrow pass (a large body in pieces side by side, see
    :func:`_read_pieces`), or None when the records are not simply its lines."""
    options = spec.csv_options
    if not _is_utf8(data, offset):
        return None
    lines = count_line_ends(data, offset)
    seams = _seams(data, offset)
    try:
        if seams:
            table, bad, record_limit = _read_pieces(file, spec, layout, data, [offset, *seams, len(data)])
        else:
            block = _block_size(len(data) - offset)
            source = _ArrowInput(pa.py_buffer(data).slice(offset), options.multiline_values, block, int)
            table, bad = _read_table(file, spec, layout, source, threads=True, stop_on_bad=False)
            if bad and any(row.number is None for row in bad):  # threads do not number rows
                table, bad = _read_table(file, spec, layout, source, threads=False, stop_on_bad=False)
            # Arrow fails ("straddling") on a record spanning a whole block: every record is
            # under 2 x block
            record_limit = 2 * block
    except SourceReadError:
        return None  # e.g. a record larger than a block ("straddling"): the scan sizes blocks
    rows = table.num_rows + len(bad)
    # rows == lines: every line is a record. Fewer: only empty lines may make up the difference
    empty = 0 if rows == lines else count_empty_lines(data, offset)
    if rows != lines - empty or rows == 0:
        return None  # a record spans lines (or swallowed some): the scan decides
    if options.max_field_bytes < record_limit and _has_field_over(table, options.max_field_bytes):
        return None
    rules = _scan_rules(spec)
    if any(_last_line_is_broken(data, offset, rules, end=seam) for seam in seams):
        return None  # a quote open at the end of a piece: the seam cut a quoted line break
    if _last_line_is_broken(data, offset, rules):
        return None  # a quote left open at the end of the file swallows nothing, but is broken
    if bad and options.on_bad_lines == "error":
        first = min(bad, key=lambda row: row.number or 0)
        raise file.read_error(
            f"{first.message()[: _ROW_TEXT + 40]} (on_bad_lines is error; set it to reject "
            "to keep such rows in the rejected table)",
            row=first.number,
        )
    table, errors = _place_rejected(table, bad)
    return table, errors, _Figures(lines=lines, empty_lines=empty, records=lines - empty)


#: Bodies of :data:`_CUT_FROM` bytes or more are parsed in pieces (see :func:`_read_pieces`) of
#: about :data:`_PIECE` bytes: ten million rows (1.1 GB) read in 3.0 s instead of 3.4 s on two
#: cores (32 MiB pieces: 3.2 s); with more cores the serial pass it avoids bounds Arrow's own
#: reader more. A million rows (110 MB) read no faster in pieces on two cores, and their
#: parse buffers added ~90 MiB to the peak, so smaller bodies are read whole.
_CUT_FROM, _PIECE = 128 << 20, 8 << 20
#: A cut that leaves a larger piece (a file without enough ``\\n`` to cut at) is not made.
_LARGEST_PIECE = 1 << 30


def _workers() -> int:
    """Threads for the pieces: the clean step's rule (Arrow's CPU count, at most 4)."""
    return default_threads()


def _seams(data: FileBytes, offset: int) -> list[int]:
    """Where to cut the body into pieces parsed side by side: just after a ``\\n``, about
    evenly; none for a body under :data:`_CUT_FROM` or without a ``\\n`` to cut at."""
    size = len(data) - offset
    if size < _CUT_FROM or _workers() < 2:
        return []
    count = max(2 * _workers(), -(-size // _PIECE))
    seams: list[int] = []
    for index in range(1, count):
        found = data.find(b"\n", offset + size * index // count)
        if found < 0 or found + 1 >= len(data):
            break
        if not seams or found + 1 > seams[-1]:
            seams.append(found + 1)
    bounds = [offset, *seams, len(data)]
    if max(stop - start for start, stop in pairwise(bounds)) > _LARGEST_PIECE:
        return []  # e.g. lone \r line ends: Arrow's block size is an int32, and such a piece is no help
    return seams


def _read_pieces(
    file: SourceFile, spec: SourceSpec, layout: _Layout, data: FileBytes, bounds: list[int]
) -> tuple[pa.Table, list[_BadRow], int]:
    """The body parsed in pieces (``bounds``: where each starts, then the end), side by side.

    Arrow's own parallel reader with quoted line breaks allowed finds its block boundaries with
    a serial quote-aware pass (a quarter of the parse; the reason pyarrow's plain read is
    faster). Here each piece is one Arrow block parsed on its own thread, without that pass.
    A seam inside a quoted field would be misread, so the caller proves none is: every
    non-empty line must be one row (a quoted line break anywhere in a piece breaks that), and
    the line ending at each seam must not leave a quote open (the one place a line break inside
    quotes can then be). Returns the joined rows, the wrong-field-count rows numbered as in one
    parse of the whole body, and the largest record size Arrow could have read.
    """
    buffer = pa.py_buffer(data)

    def parse(index: int) -> tuple[pa.Table, list[_BadRow]]:
        start, stop = bounds[index], bounds[index + 1]
        source = _ArrowInput(buffer.slice(start, stop - start), False, stop - start + 1, int)
        return _read_table(file, spec, layout, source, threads=False, stop_on_bad=False)

    with ThreadPoolExecutor(_workers(), thread_name_prefix="etl_assets_csv") as pool:
        parts = list(pool.map(parse, range(len(bounds) - 1)))
    bad: list[_BadRow] = []
    before = 0
    for table, found in parts:
        bad.extend(replace(row, number=None if row.number is None else row.number + before) for row in found)
        before += table.num_rows + len(found)
    largest = max(stop - start for start, stop in pairwise(bounds))
    return pa.concat_tables([table for table, _ in parts]), bad, largest + 1


def _last_line_is_broken(data: FileBytes, offset: int, rules: ScanRules, end: int | None = None) -> bool:
    """Whether the last non-empty line before ``end`` (default: the end of the file) leaves a
    quote open there.

    When every record is one line, that is the only place an unclosed quote can hide.
    """
    stop = len(data) if end is None else end
    last = stop
    while last > offset and data[last - 1] in b"\r\n":
        last -= 1
    newline = data.rfind(b"\n", offset, last)
    start = max(newline, data.rfind(b"\r", max(newline, offset), last), offset - 1) + 1
    return bool(scan_body(data[start:stop], 0, rules).rejected)


def _has_field_over(table: pa.Table, limit: int) -> bool:
    """Some value is longer than ``limit`` bytes (read from the offsets only)."""
    for column in table.itercolumns():
        longest = pc.max(pc.binary_length(column)).as_py()
        if longest is not None and longest > limit:
            return True
    return False


def _raise_first_rejected(file: SourceFile, layout: _Layout, body: _Body) -> None:
    index = min(body.scan.rejected)
    line = layout.skip_lines + int(body.scan.first_lines[index]) + 1
    raise file.read_error(
        f"line {line}: {body.scan.rejected[index]}: {body.text(index)[:_ROW_TEXT]} "
        "(on_bad_lines is error; set it to reject to keep such records in the rejected table)",
        row=index + 1,
    )


def _is_utf8(data: FileBytes, offset: int) -> bool:
    """Whether ``data[offset:]`` is valid UTF-8 (Arrow's SIMD validation, no copy).

    Checked before Arrow parses, so its row callback never meets undecodable row text.
    """
    body = pa.py_buffer(data).slice(offset)
    ends = pa.py_buffer(np.array([0, body.size], dtype=np.int64))
    try:
        pa.LargeStringArray.from_buffers(1, ends, body).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _reject_undecodable(spec: SourceSpec, body: _Body) -> None:
    """Reject the records holding bytes that are not valid text, naming the first bad byte."""
    offsets = invalid_utf8_offsets(memoryview(body.data)[body.offset :].tobytes())
    records = body.scan.record_of(offsets)
    for offset, index in zip(offsets.tolist(), records.tolist(), strict=True):
        if index < 0 or index in body.scan.rejected:
            continue
        absolute = body.offset + offset
        byte = body.data[absolute : absolute + 1].hex()
        where = (
            f"in the record, {offset - int(body.scan.starts[index])} bytes from its start"
            if body.transcoded
            else f"at byte offset {absolute} (0-based, in the decompressed file)"
        )
        body.scan.rejected[index] = (
            f"not valid {spec.encoding}: byte 0x{byte} {where} cannot be decoded"
        )


def _read_table(
    file: SourceFile,
    spec: SourceSpec,
    layout: _Layout,
    source: _ArrowInput,
    *,
    threads: bool,
    stop_on_bad: bool = True,
) -> tuple[pa.Table, list[_BadRow]]:
    """Arrow's read of ``source``; rows with a wrong field count come back separately.

    With ``on_bad_lines: error`` and ``stop_on_bad`` the first such row fails the read.
    """
    options = spec.csv_options
    stop = options.on_bad_lines == "error" and stop_on_bad
    bad: list[_BadRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad.append(_BadRow(row.number, row.expected_columns, row.actual_columns, row.text))
        return "error" if stop else "skip"

    read_options = pacsv.ReadOptions(
        use_threads=threads,
        column_names=layout.names,
        block_size=source.block_size,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=options.delimiter,
        quote_char=options.quote_char,
        double_quote=True,
        newlines_in_values=source.newlines,
        invalid_row_handler=on_invalid_row,
    )
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(layout.names, pa.large_string()),
        null_values=options.null_values,
        strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(
            pa.BufferReader(source.buffer),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if bad and stop:
            if threads:
                # Threads report bad rows out of order and without numbers: read again in
                # order, which stops at the first one and knows its number.
                return _read_table(file, spec, layout, source, threads=False)
            first = bad[0]
            number = None if first.number is None else source.record_number(first.number)
            raise file.read_error(
                f"{first.message()[: _ROW_TEXT + 40]} (on_bad_lines is error; set it to reject "
                "to keep such rows in the rejected table)",
                row=number,
            ) from None
        raise file.read_error(f"cannot read as CSV: {error}") from None
    return table, bad


def _record_number(body: _Body, kept_number: int) -> int:
    """The record number in the file of Arrow's ``kept_number``-th record (both 1-based)."""
    kept = np.flatnonzero(body.scan.kept_mask())
    return int(kept[kept_number - 1]) + 1 if 0 < kept_number <= len(kept) else kept_number


def _place_rejected(table: pa.Table, bad: list[_BadRow]) -> tuple[pa.Table, pa.Array]:
    """Put Arrow's wrong-field-count rows back where they were (data columns null).

    Arrow numbers the records it was given from 1. Rows whose position is unknown go to the
    end (kept, never dropped: row conservation matters more than position).
    """
    total = table.num_rows + len(bad)
    if not bad:
        return table, pa.nulls(total, pa.large_string())
    records = np.array([-1 if row.number is None else row.number for row in bad], dtype=np.int64)
    order = np.argsort(np.where(records < 1, np.iinfo(np.int64).max, records), kind="stable")
    records, messages = records[order], [bad[index].message() for index in order]
    valid = (records >= 1) & (records <= total)
    if not valid.all() or len(np.unique(records[valid])) != int(valid.sum()):
        positions = np.arange(table.num_rows, total)  # numbering not trusted: append at the end
    else:
        positions = records - 1
    return _interleave(table, positions, messages, total)


def _interleave(
    table: pa.Table,
    positions: np.ndarray,
    messages: list[str],
    total: int,
    errors: pa.Array | None = None,
) -> tuple[pa.Table, pa.Array]:
    """``table``'s rows in order at the places not in ``positions``; null rows with ``messages`` there."""
    is_good = np.ones(total, dtype=bool)
    is_good[positions] = False
    take = np.zeros(total, dtype=np.int64)
    take[is_good] = np.arange(table.num_rows, dtype=np.int64)
    take_array = pa.array(take, mask=~is_good)
    table = table.take(take_array)
    message_index = np.zeros(total, dtype=np.int64)
    message_index[positions] = np.arange(len(messages), dtype=np.int64)
    new = pa.array(messages, pa.large_string()).take(pa.array(message_index, mask=is_good))
    if errors is None:
        return table, new
    return table, pc.coalesce(errors.take(take_array), new)


def _place_broken(
    table: pa.Table, errors: pa.Array, body: _Body, layout: _Layout
) -> tuple[pa.Table, pa.Array]:
    """Insert the records the scan rejected, with their line, reason and whole raw text."""
    rejected = body.scan.rejected
    if not rejected:
        return table, errors
    positions = np.array(sorted(rejected), dtype=np.int64)
    messages = [
        f"line {layout.skip_lines + int(body.scan.first_lines[index]) + 1}: "
        f"{rejected[index]}: {body.text(index)}"
        for index in positions.tolist()
    ]
    return _interleave(table, positions, messages, body.scan.records, errors)
