"""JSON documents (``format: json``) and JSON Lines (``format: jsonl``).

Columns follow :mod:`etl_assets.lib.sources.json_columns`: a field with one JSON type keeps it
(bool, int, float, string); a field mixing types is text (``1`` -> ``"1"``, ``"four"`` stays),
so the clean step converts or rejects each value as it does for CSV; lists, and objects when
``flatten`` is off, are their JSON text. Nested objects become ``parent.child`` columns when
``flatten`` is on (the default). So the raw frame can be stored in every storage format.

Every record ends up as one row. A record that cannot be read (see ``json.on_bad_records``:
a JSON Lines line that is not valid JSON or not valid UTF-8, a line or list element that is not
an object) or that repeats a key (``json.on_duplicate_keys``) is, by default, kept as a row
with null data columns and the reason in ``_parse_error``; the clean step routes it to the
rejected table. With ``error`` the read fails instead, naming the file, the line or record and
the key. ``_parse_error`` is always present (null for good records).

An empty file (0 bytes, only whitespace, ``[]``, or an empty list at ``record_path``) gives
0 rows: landing an empty daily file is normal, and the clean step gives it the declared
columns. Each reader attaches its physical count (:mod:`etl_assets.lib.sources.physical`).

``format: json``: the document is a list of objects, or an object holding that list at
``record_path`` (dotted, e.g. ``data.items``). ``_source_row`` is the record's position in the
list (1-based). The document is parsed with :mod:`json`, whose errors carry line and column; a
malformed document is an error (its records cannot be told apart), as is a repeated key
outside the records.

``format: jsonl``: one object per line; blank lines are skipped. ``_source_row`` is the *line
number*, so a user can open the file at that line. Arrow's JSON reader does the work; when it
fails (its errors name no line, and it refuses mixed types and repeated keys), or when its row
count disagrees with the non-blank lines, the file is parsed line by line with :mod:`json`
instead, which judges each line on its own. Arrow turns strings that look like timestamps into
timestamps; such fields are read again as strings so the raw layer keeps the text as it landed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from etl_assets.lib.json_text import json_text
from etl_assets.lib.sources.files import (
    PARSE_ERROR_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    SourceFile,
    check_reserved,
    decode_text,
    is_utf8,
    with_lineage,
)
from etl_assets.lib.sources.json_columns import (
    FlattenClash,
    arrow_columns,
    assemble,
    column_array,
    flatten_paths,
    is_exact,
    records_to_table,
    value_at,
)
from etl_assets.lib.sources.json_keys import DuplicateKeyHook, describe, duplicates_in
from etl_assets.lib.sources.physical import PhysicalInput, attach_physical
from etl_assets.lib.spec import PARTITION_COLUMN, JsonOptions, SourceSpec

__all__ = ["flatten_record", "read_json_file", "read_jsonl_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN, PARTITION_COLUMN)
_WHITESPACE = np.array([9, 10, 13, 32], dtype=np.uint8)
_BOM = b"\xef\xbb\xbf"
#: A line break followed by a blank line (or the end of the file), and a blank first line.
_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=[ \t\r]*(?:\n|\Z))")
_BLANK_FIRST = re.compile(rb"[ \t\r]*(?:\n|\Z)")
#: A line whose first non-whitespace byte is not ``{`` (the first line, then any later one).
_NOT_AN_OBJECT_FIRST = re.compile(rb"[ \t\r]*[^{ \t\r\n]")
_NOT_AN_OBJECT = re.compile(rb"\n[ \t\r]*[^{ \t\r\n]")
#: Characters of a bad record's text quoted in its ``_parse_error``.
_SHOWN = 200


def _type_name(value: object) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def flatten_record(
    record: dict[str, Any], prefix: str = "", into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Nested objects as ``parent.child`` keys, in document order (lists are kept as values)."""
    out: dict[str, Any] = {} if into is None else into
    for key, value in record.items():
        if isinstance(value, dict) and value:
            flatten_record(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value
    return out


@dataclass
class _Rows:
    """Records read so far: a row per record (None for a rejected one) and its parse error."""

    rows: list[dict[str, Any] | None]
    errors: list[str | None]

    def good(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.errors.append(None)

    def bad(self, reason: str) -> None:
        self.rows.append(None)
        self.errors.append(reason)


def _record_problem(
    file: SourceFile,
    options: JsonOptions,
    record: object,
    hook: DuplicateKeyHook,
    where: str,
    number: int,
) -> tuple[dict[str, Any] | None, str | None]:
    """The record's row (flattened if wanted), or why it is rejected; raises in ``error`` modes."""
    if not isinstance(record, dict):
        reason = f"{where} is {_type_name(record)}, not an object"
        if options.on_bad_records == "error":
            raise file.read_error(f"{reason} (json.on_bad_records is error)", row=number)
        return None, reason
    if hook.found:
        duplicates = duplicates_in(record)
        if duplicates:
            reason = describe(duplicates)
            if options.on_duplicate_keys == "error":
                raise file.read_error(
                    f"{where}: {reason}; a JSON parser would silently keep the last value "
                    "(json.on_duplicate_keys is error; reject keeps such records in the rejected table)",
                    row=number,
                    column=duplicates[0][1].key,
                )
            return None, reason
    if not options.flatten:
        return record, None
    try:
        return flatten_paths(record), None
    except FlattenClash as clash:
        if options.on_bad_records == "error":
            raise file.read_error(f"{where}: {clash}", row=number, column=clash.name) from None
        return None, str(clash)


def _finish(
    file: SourceFile,
    table: pa.Table,
    errors: pa.Array,
    rows: np.ndarray | None,
    physical: PhysicalInput,
) -> pd.DataFrame:
    """Lineage and ``_parse_error`` appended, converted once, the physical count attached."""
    check_reserved(file, table.column_names, _RESERVED)
    table = with_lineage(table, file.label, rows).append_column(PARSE_ERROR_COLUMN, errors)
    frame = table.to_pandas(types_mapper=_nullable)
    frame[SOURCE_ROW_COLUMN] = frame[SOURCE_ROW_COLUMN].astype("int64")  # never null
    return attach_physical(frame, _emitted(physical, len(frame)))


def _nullable(data_type: pa.DataType) -> object:
    """Ints and booleans as pandas' nullable dtypes: a rejected record's row is null, and numpy
    would turn an int column with a null into floats (rounding beyond 2**53)."""
    if pa.types.is_integer(data_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(data_type):
        return pd.BooleanDtype()
    return None


def _emitted(physical: PhysicalInput, rows: int) -> PhysicalInput:
    return dataclasses.replace(physical, emitted_rows=rows)


def _error_array(errors: list[str | None]) -> pa.Array:
    return pa.array(errors, pa.large_string())


# --------------------------------------------------------------------------- JSON documents


def _records_at(file: SourceFile, document: object, record_path: str | None) -> list[Any]:
    if record_path is None:
        if isinstance(document, list):
            return document
        hint = ""
        if isinstance(document, dict):
            lists = [key for key, value in document.items() if isinstance(value, list)]
            hint = f"; set json.record_path to where the records are (keys holding lists: {lists})"
        raise file.read_error(
            f"the document is {_type_name(document)}, not a list of records{hint}"
        )
    node = document
    walked: list[str] = []
    for key in record_path.split("."):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(walked) or "the document"
            keys = list(node) if isinstance(node, dict) else []
            raise file.read_error(
                f"record_path {record_path!r}: {where} has no key {key!r}"
                + (f" (keys: {keys})" if keys else f" (it is {_type_name(node)})")
            )
        node = node[key]
        walked.append(key)
    if not isinstance(node, list):
        raise file.read_error(
            f"record_path {record_path!r} points at {_type_name(node)}, not a list of records"
        )
    return node


def _parse_document(file: SourceFile, text: str, hook: DuplicateKeyHook) -> object:
    try:
        return json.JSONDecoder(object_pairs_hook=hook).decode(text)
    except json.JSONDecodeError as error:
        raise file.read_error(
            f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            line=error.lineno,
        ) from None


def read_json_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    """A JSON document's records, with ``_source_row`` = position in the list."""
    options = spec.json_opts
    data = file.read_bytes()
    text = decode_text(file, data, spec.encoding)
    hook = DuplicateKeyHook()
    records = (
        []
        if not text.strip()
        else _records_at(file, _parse_document(file, text, hook), options.record_path)
    )
    physical = PhysicalInput(file.label, len(data), "records", len(records), len(records), 0)
    read = _Rows([], [])
    in_records: set[int] = set()
    for index, record in enumerate(records):
        if hook.found and isinstance(record, dict):
            in_records.update(marked for marked, _ in duplicates_in(record))
        row, reason = _record_problem(
            file, options, record, hook, f"record {index + 1} (index {index})", index + 1
        )
        if row is None:
            read.bad(f"{reason}: {json_text(record)[:_SHOWN]}")
        else:
            read.good(row)
    outside = [marked for marked in hook.marked if id(marked) not in in_records]
    if outside:
        raise file.read_error(
            f"{describe(duplicates_in(outside[0]))[:300]} outside the records (in the document "
            "around them): the repeated key's earlier value would be lost; fix the file"
        )
    return _finish(file, records_to_table(read.rows), _error_array(read.errors), None, physical)


# --------------------------------------------------------------------------- JSON Lines


def _nonblank_lines(data: bytes) -> np.ndarray:
    """1-based numbers of the lines holding something other than whitespace.

    From the newline offsets (one vectorised pass): a line is non-blank when its first byte is
    not whitespace, which settles almost every line of a JSON Lines file (they start with
    ``{``); the few lines that start with whitespace are checked one by one. (The physical
    count, :func:`_physical_lines`, counts blank lines another way, by regex.)
    """
    if not data:
        return np.zeros(0, dtype=np.int64)
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10)
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    filled = ends > starts
    first = buffer[np.minimum(starts, len(data) - 1)]
    doubtful = np.flatnonzero(filled & np.isin(first, _WHITESPACE))
    for index in doubtful.tolist():
        filled[index] = bool(data[starts[index] : ends[index]].strip(b" \t\r"))
    return np.flatnonzero(filled) + 1


def _physical_lines(file: SourceFile, size: int, data: bytes) -> PhysicalInput:
    """Lines and blank lines counted straight off the bytes, apart from any parser.

    A line is what ends at ``\\n`` (or the end of the file; nothing after a final ``\\n`` is
    not a line); blank means JSON whitespace only. Every non-blank line must give one row,
    good or rejected. Two C-level scans (a count and a regex), no Python loop over lines.
    """
    lines = blank = 0
    if data:
        final = data.endswith(b"\n")
        lines = data.count(b"\n") + (0 if final else 1)
        blank = len(_BLANK_AFTER_NEWLINE.findall(data)) - final + bool(_BLANK_FIRST.match(data))
    return PhysicalInput(
        file.label, size, "lines", lines, lines - blank, 0, (("blank_lines", blank),)
    )


def _strings_for_timestamps(data_type: pa.DataType) -> pa.DataType:
    """``data_type`` with every timestamp (Arrow's guess for date-like strings) back to string."""
    if (
        pa.types.is_timestamp(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_time(data_type)
    ):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct(
            [field.with_type(_strings_for_timestamps(field.type)) for field in data_type]
        )
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.list_(_strings_for_timestamps(data_type.value_type))
    return data_type


def _objects_only(data: bytes) -> bool:
    """Whether every non-blank line starts (after whitespace) with ``{``.

    Arrow's JSON reader takes a ``null`` line for a row of nulls (it should be a rejected
    record) and, in pyarrow 26, crashes the process (segmentation fault) on a file whose only
    line is ``null``; other non-object lines it refuses. So Arrow only sees files that can
    hold objects only; the rest is read line by line. Two regex scans, no Python loop.
    """
    return _NOT_AN_OBJECT_FIRST.match(data) is None and _NOT_AN_OBJECT.search(data) is None


def _read_arrow(data: bytes) -> pa.Table | None:
    """Arrow's parse of the lines, or None if Arrow cannot (the caller falls back to Python)."""
    read_options = pajson.ReadOptions(use_threads=True, block_size=1 << 22)
    try:
        table = pajson.read_json(pa.BufferReader(data), read_options=read_options)
        schema = pa.schema(
            [field.with_type(_strings_for_timestamps(field.type)) for field in table.schema]
        )
        if schema != table.schema:
            parse_options = pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            )
            table = pajson.read_json(
                pa.BufferReader(data), read_options=read_options, parse_options=parse_options
            )
        # Arrow's JSON reader lets invalid UTF-8 through into string columns; a full
        # validation catches it, and the line-by-line path then names the line.
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table


def _undecodable(line: bytes, error: UnicodeDecodeError) -> str:
    bad = line[error.start : error.end].hex(" ")
    return (
        f"not valid UTF-8: byte 0x{bad} at byte {error.start + 1} of the line cannot be decoded "
        "(set `encoding: latin-1` (or cp1252) on the source if that is what the file uses)"
    )


def _parse_lines(
    file: SourceFile, options: JsonOptions, data: bytes, line_numbers: np.ndarray
) -> _Rows:
    """Each non-blank line judged on its own: a row, or a rejected row saying why."""
    lines = data.split(b"\n")
    hook = DuplicateKeyHook()
    decoder = json.JSONDecoder(object_pairs_hook=hook)
    read = _Rows([], [])
    for number in line_numbers.tolist():
        raw = lines[number - 1]
        shown = raw.decode("utf-8", errors="replace").strip()[:_SHOWN]
        hook.reset()
        try:
            record = decoder.decode(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            reason = _undecodable(raw, error)
            if options.on_bad_records == "error":
                raise file.read_error(
                    f"{reason} (json.on_bad_records is error)", row=number
                ) from None
            read.bad(f"{reason}: {shown}")
            continue
        except json.JSONDecodeError as error:
            reason = f"malformed JSON: {error.msg} (column {error.colno})"
            if options.on_bad_records == "error":
                raise file.read_error(
                    f"{reason}: {shown} (json.on_bad_records is error)", row=number
                ) from None
            read.bad(f"{reason}: {shown}")
            continue
        row, reason = _record_problem(file, options, record, hook, "the line", number)
        if row is None:
            read.bad(f"{reason}: {shown}")
        else:
            read.good(row)
    return read


def read_jsonl_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    """One object per line; ``_source_row`` is the line number."""
    options = spec.json_opts
    data = file.read_bytes()
    size = len(data)
    if is_utf8(spec.encoding):
        data = data.removeprefix(_BOM)
    else:
        data = decode_text(file, data, spec.encoding).encode("utf-8")
    physical = _physical_lines(file, size, data)
    line_numbers = _nonblank_lines(data)
    arrow = _read_arrow(data) if len(line_numbers) and _objects_only(data) else None
    if arrow is not None and arrow.num_rows == len(line_numbers):
        table = _exact_table(arrow, options.flatten, data, line_numbers)
        if table is not None:
            errors = pa.nulls(table.num_rows, pa.large_string())
            return _finish(file, table, errors, line_numbers, physical)
    read = _parse_lines(file, options, data, line_numbers)
    return _finish(
        file, records_to_table(read.rows), _error_array(read.errors), line_numbers, physical
    )


def _exact_table(
    arrow: pa.Table, flatten: bool, data: bytes, line_numbers: np.ndarray
) -> pa.Table | None:
    """Arrow's parse with its inexact columns (nested values, rounded doubles) taken from the
    lines themselves, or None if its flattened names clash.

    Arrow accepted every line, so each is one object without repeated keys (Arrow refuses
    those, nested ones too): the lines are parsed again with plain ``json`` (no checks needed),
    and only when some column needs it.
    """
    columns = arrow_columns(arrow, flatten)
    if columns is None:
        return None
    inexact = [index for index, (_, _, array) in enumerate(columns) if not is_exact(array)]
    arrays: list[pa.Array | pa.ChunkedArray] = [array for _, _, array in columns]
    if inexact:
        lines = data.split(b"\n")
        # One parse of all lines as one array: several times faster than a parse per line.
        records = json.loads(b"[" + b",".join(lines[n - 1] for n in line_numbers.tolist()) + b"]")
        for index in inexact:
            path = columns[index][1]
            arrays[index] = column_array([value_at(record, path) for record in records])
    return assemble([name for name, _, _ in columns], arrays, arrow.num_rows)
