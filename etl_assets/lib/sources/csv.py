"""CSV files, read by Arrow's multithreaded parser with every data column kept as text.

Why text: the raw layer stores what landed. Typed coercion happens in the clean step, which
can then reject one bad value (``abc`` in an int column) or keep a zip code's leading zero
(``01234``) instead of the whole column silently changing type at read time.

How the file is read:

* The header (after ``skip_rows`` physical lines and any empty lines) is parsed here with
  Python's ``csv`` module from the first bytes of the file, so that duplicate or empty names,
  a wrong delimiter and a ``column_names`` count mismatch are reported clearly before Arrow
  runs. Arrow is then given the names and told to skip those lines, and every column is typed
  ``large_string`` (the storage of pandas' ``str`` dtype: the pandas conversion is cheap).
* A row with the wrong number of fields is, with ``on_bad_lines: reject``, kept: its data
  columns are null and ``_parse_error`` says ``expected N fields, found M: <row text>``.
  Arrow's multithreaded reader does not know row numbers (``InvalidRow.number`` is None), so a
  file that has such rows is read a second time single-threaded; clean files are read once.
* ``_source_row`` is the data record number: 1 is the first record after the header. Empty
  lines are not records; a quoted field spanning lines is one record.
* Arrow's "invalid UTF8" error names no position: on that failure the file is decoded
  incrementally to name the line and byte offset of the first bad byte.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl_assets.lib.sources.files import (
    PARSE_ERROR_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    SourceFile,
    arrow_to_pandas,
    check_reserved,
    constant_strings,
    encoding_error,
    is_utf8,
    row_numbers,
)
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec

__all__ = ["read_csv_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN, PARTITION_COLUMN)
_FIRST_HEAD = 1 << 16
_MAX_HEAD = 1 << 26
_ROW_TEXT = 200
# Split after "\n", "\r\n" or a lone "\r" (what Arrow treats as line ends), keeping the ends.
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
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
        return f"expected {self.expected} fields, found {self.actual}: {self.text[:_ROW_TEXT]}"


def read_csv_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    """One CSV file as text columns plus ``_source_file``, ``_source_row`` and ``_parse_error``."""
    layout = _layout(file, spec)
    if layout.no_data:
        table = pa.table({name: pa.array([], pa.large_string()) for name in layout.names})
        bad: list[_BadRow] = []
    else:
        table, bad = _read_table(file, spec, layout, threads=True)
        if bad and any(row.number is None for row in bad):
            table, bad = _read_table(file, spec, layout, threads=False)
    table, errors = _place_rejected(table, bad, layout.skip_lines)
    total = table.num_rows
    table = (
        table.append_column(SOURCE_FILE_COLUMN, constant_strings(file.label, total))
        .append_column(SOURCE_ROW_COLUMN, row_numbers(total))
        .append_column(PARSE_ERROR_COLUMN, errors)
    )
    return arrow_to_pandas(table)


# --------------------------------------------------------------------------- the header


def _layout(file: SourceFile, spec: SourceSpec) -> _Layout:
    """Parse the head of the file, reading more of it until the header record is complete."""
    size = _FIRST_HEAD
    while True:
        head, eof = file.read_head(size)
        layout = _parse_head(file, spec, head, eof)
        if layout is not None:
            return layout
        if size >= _MAX_HEAD:
            raise file.read_error(
                f"no complete header record in the first {_MAX_HEAD >> 20} MiB "
                "(an unclosed quote, or not a CSV file?)"
            )
        size *= 4


def _decode_head(file: SourceFile, spec: SourceSpec, head: bytes, final: bool) -> str:
    codec = "utf-8-sig" if is_utf8(spec.encoding) else spec.encoding
    try:
        return codecs.getincrementaldecoder(codec)(errors="strict").decode(head, final)
    except UnicodeDecodeError:
        raise (
            encoding_error(file, spec.encoding) or file.read_error(f"not valid {spec.encoding}")
        ) from None


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

    lines = [line for line in _LINE_END.split(_decode_head(file, spec, head, eof)) if line]
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


def _read_table(
    file: SourceFile, spec: SourceSpec, layout: _Layout, *, threads: bool
) -> tuple[pa.Table, list[_BadRow]]:
    """Arrow's read of the data records; rows with a wrong field count come back separately."""
    options = spec.csv_options
    mode = options.on_bad_lines
    bad: list[_BadRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad.append(_BadRow(row.number, row.expected_columns, row.actual_columns, row.text))
        return "error" if mode == "error" else "skip"

    read_options = pacsv.ReadOptions(
        use_threads=threads,
        column_names=layout.names,
        skip_rows=layout.skip_lines,
        **({} if is_utf8(spec.encoding) else {"encoding": spec.encoding}),
    )
    parse_options = pacsv.ParseOptions(
        delimiter=options.delimiter,
        quote_char=options.quote_char,
        double_quote=True,
        newlines_in_values=options.multiline_values,
        invalid_row_handler=on_invalid_row,
    )
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(layout.names, pa.large_string()),
        null_values=options.null_values,
        strings_can_be_null=True,
    )
    try:
        with file.open_arrow() as stream:
            table = pacsv.read_csv(
                stream,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as error:
        if bad and mode == "error":
            if threads:
                # Threads report bad rows out of order and without numbers: read again in
                # order, which stops at the first one and knows its number.
                return _read_table(file, spec, layout, threads=False)
            first = bad[0]
            number = None if first.number is None else first.number - layout.skip_lines
            raise file.read_error(
                f"{first.message()} (on_bad_lines is error; set it to reject to keep such rows "
                "in the rejected table)",
                row=number,
            ) from None
        if isinstance(error, UnicodeDecodeError) or "UTF8" in str(error) or "decode" in str(error):
            located = encoding_error(file, spec.encoding)
            if located is not None:
                raise located from None
        raise file.read_error(f"cannot read as CSV: {error}") from None
    return table, bad


def _place_rejected(
    table: pa.Table, bad: list[_BadRow], skip_lines: int
) -> tuple[pa.Table, pa.Array]:
    """Put rejected rows back where they were (data columns null) and build ``_parse_error``.

    Arrow numbers rows from the start of the file, counting the skipped lines, so the data record
    number is ``number - skip_lines``. Rows whose position is unknown go to the end (kept, never
    dropped: row conservation matters more than position).
    """
    total = table.num_rows + len(bad)
    if not bad:
        return table, pa.nulls(total, pa.large_string())
    records = np.array(
        [-1 if row.number is None else row.number - skip_lines for row in bad], dtype=np.int64
    )
    order = np.argsort(np.where(records < 1, np.iinfo(np.int64).max, records), kind="stable")
    records, messages = records[order], [bad[index].message() for index in order]
    valid = (records >= 1) & (records <= total)
    if not valid.all() or len(np.unique(records[valid])) != int(valid.sum()):
        positions = np.arange(table.num_rows, total)  # numbering not trusted: append at the end
    else:
        positions = records - 1
    is_good = np.ones(total, dtype=bool)
    is_good[positions] = False
    take = np.zeros(total, dtype=np.int64)
    take[is_good] = np.arange(table.num_rows, dtype=np.int64)
    table = table.take(pa.array(take, mask=~is_good))
    message_index = np.zeros(total, dtype=np.int64)
    message_index[positions] = np.arange(len(bad), dtype=np.int64)
    errors = pa.array(messages, pa.large_string()).take(pa.array(message_index, mask=is_good))
    return table, errors
