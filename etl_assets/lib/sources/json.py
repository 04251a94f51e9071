"""JSON documents (``format: json``) and JSON Lines (``format: jsonl``).

JSON values keep their JSON types (numbers, strings, booleans, lists); nested objects become
``parent.child`` columns when ``flatten`` is on (the default), otherwise they stay as dicts.

``format: json``: the document is a list of objects, or an object holding that list at
``record_path`` (dotted, e.g. ``data.items``). ``_source_row`` is the record's position in the
list (1-based). The document is parsed with :mod:`json`, whose errors carry line and column.

``format: jsonl``: one object per line; blank lines are skipped. ``_source_row`` is the *line
number*, so a user can open the file at that line. Arrow's JSON reader does the work; when it
fails (its errors name no line), when its row count disagrees with the non-blank lines, or
when two lines give one field different JSON types, the file is parsed line by line with
:mod:`json` instead, which either names the first bad line or builds the frame. Arrow turns
strings that look like timestamps into timestamps; such fields are read again as strings so
the raw layer keeps the text as it landed.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from etl_assets.lib.sources.files import (
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    SourceFile,
    add_lineage,
    arrow_to_pandas,
    check_reserved,
    decode_text,
    is_utf8,
    with_lineage,
)
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec

__all__ = ["read_json_file", "read_jsonl_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARTITION_COLUMN)
_WHITESPACE = np.array([9, 10, 13, 32], dtype=np.uint8)
_LINE_CHUNK = 1 << 24
_BOM = b"\xef\xbb\xbf"


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


def records_to_frame(records: list[dict[str, Any]], flatten: bool) -> pd.DataFrame:
    """Objects as rows; columns in order of first appearance, missing keys null.

    Flattening is done here rather than with ``pandas.json_normalize`` so that columns keep the
    document's order (json_normalize moves nested columns after the plain ones), as Arrow's
    flattening of JSON Lines does.
    """
    if not records:
        return pd.DataFrame(index=pd.RangeIndex(0))
    return pd.DataFrame.from_records(
        [flatten_record(record) for record in records] if flatten else records
    )


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


def read_json_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    """A JSON document's records, flattened, with ``_source_row`` = position in the list."""
    text = decode_text(file, file.read_bytes(), spec.encoding)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise file.read_error(
            f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            line=error.lineno,
        ) from None
    records = _records_at(file, document, spec.json_opts.record_path)
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise file.read_error(
                f"record {index + 1} (index {index}) is {_type_name(record)}, not an object",
                row=index + 1,
            )
    frame = records_to_frame(records, spec.json_opts.flatten)
    check_reserved(file, [str(name) for name in frame.columns], _RESERVED)
    return add_lineage(frame, file.label)


# --------------------------------------------------------------------------- JSON Lines


def _nonblank_lines(data: bytes) -> np.ndarray:
    """1-based numbers of the lines holding something other than whitespace.

    Vectorised per chunk (a cumulative count of non-whitespace bytes, read at line ends), so
    a large file costs a few numpy passes rather than a Python loop over lines.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    numbers: list[np.ndarray] = []
    lines_before = 0
    start = 0
    while start < len(buffer):
        stop = min(start + _LINE_CHUNK, len(buffer))
        if stop < len(buffer):
            cut = data.rfind(b"\n", start, stop)
            stop = cut + 1 if cut >= start else data.find(b"\n", stop) + 1 or len(buffer)
        chunk = buffer[start:stop]
        ends = np.flatnonzero(chunk == 10)
        starts = np.concatenate(([0], ends + 1))
        ends = np.concatenate((ends, [len(chunk)]))
        if starts[-1] == len(chunk):  # the chunk ends with a newline: no partial last line
            starts, ends = starts[:-1], ends[:-1]
        filled = np.concatenate(([0], np.cumsum(~np.isin(chunk, _WHITESPACE), dtype=np.int64)))
        numbers.append(np.flatnonzero(filled[ends] - filled[starts] > 0) + 1 + lines_before)
        lines_before += len(starts)
        start = stop
    return np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64)


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


def _flatten_structs(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


def _parse_lines(file: SourceFile, data: bytes, line_numbers: np.ndarray) -> list[dict[str, Any]]:
    """Each non-blank line as an object; the first bad line is an error naming it."""
    text = decode_text(file, data, "utf-8")
    lines = text.split("\n")
    records: list[dict[str, Any]] = []
    for number in line_numbers.tolist():
        line = lines[number - 1]
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise file.read_error(
                f"malformed JSON: {error.msg} (column {error.colno}): {line.strip()[:200]}",
                row=number,
            ) from None
        if not isinstance(record, dict):
            raise file.read_error(
                f"the line is {_type_name(record)}, not a JSON object", row=number
            )
        records.append(record)
    return records


def read_jsonl_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    """One object per line, flattened; ``_source_row`` is the line number."""
    data = file.read_bytes()
    if is_utf8(spec.encoding):
        data = data.removeprefix(_BOM)
    else:
        data = decode_text(file, data, spec.encoding).encode("utf-8")
    line_numbers = _nonblank_lines(data)
    flatten = spec.json_opts.flatten
    table = _read_arrow(data) if len(line_numbers) else None
    if table is not None and table.num_rows == len(line_numbers):
        if flatten:
            table = _flatten_structs(table)
        check_reserved(file, table.column_names, _RESERVED)
        return arrow_to_pandas(with_lineage(table, file.label, line_numbers))
    frame = records_to_frame(_parse_lines(file, data, line_numbers), flatten)
    check_reserved(file, [str(name) for name in frame.columns], _RESERVED)
    return add_lineage(frame, file.label, line_numbers)
