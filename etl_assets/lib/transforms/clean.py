"""Build a clean table from a raw frame: declared types, null policies, rejects, dedup.

Every input row ends up in exactly one place: the clean frame, the rejected frame (with the
reason, its source file and row, and its raw values), or counted as a removed duplicate. The
stats say how many went where, and ``CleanStats.conserved()`` checks they add up.

Clean frame columns: the declared columns in declared order with their types, then (with
``keep_undeclared``) the other input columns as they came, then ``_partition`` if the input had
it. Lineage columns (``_source_file``, ``_source_row``, ``_parse_error``) are not carried: the
rejected frame is where row provenance matters.

dtypes: int ``Int64``; float ``float64`` (numpy: null is NaN, which pandas, Arrow and every
writer treat as missing, and the group-by kernels are fastest on it); decimal
``decimal128(p, s)[pyarrow]``; bool ``boolean``; string ``str``; category ``category``
(declared categories in declared order, else the values seen, sorted); date
``date32[pyarrow]``; datetime ``datetime64[us, <timezone>]`` or ``datetime64[us]``.

The columns are parsed as Arrow arrays (a long column block by block, :mod:`.blocks`), rejected
and duplicate rows are removed with one filter, and the typed table is converted to pandas once. Columns are parsed and converted side by side
in a few threads (:mod:`.threads`); the output does not depend on how many.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import PARTITION_COLUMN, CleanSpec, ColumnSpec
from etl_assets.lib.transforms import blocks
from etl_assets.lib.transforms.arrays import ArrowColumns, is_text, valid_mask
from etl_assets.lib.transforms.blocks import coerce_blocks
from etl_assets.lib.transforms.coerce import coerce_default, sorted_dictionary
from etl_assets.lib.transforms.dedup import find_duplicates
from etl_assets.lib.transforms.errors import CleanError
from etl_assets.lib.transforms.parsed import Coerced
from etl_assets.lib.transforms.rejects import (
    CATEGORY,
    COERCION,
    DROPPED,
    LINEAGE,
    PARSE_ERROR,
    REQUIRED,
    Problems,
    rejected_frame,
)
from etl_assets.lib.transforms.results import CleanResult, CleanStats
from etl_assets.lib.transforms.threads import ColumnJobs


def _without_data_columns(raw: pd.DataFrame, spec: CleanSpec) -> pd.DataFrame:
    """An input with no data column at all gets the declared columns, all null.

    A JSON source says what its columns are only through records it could read: an empty
    file (an empty daily drop is normal) or one whose every record was rejected by the reader
    has lineage columns only (so do records that are empty objects). That is no evidence
    against the declared columns, so instead of failing with "input has no column" the rows
    are cleaned with null values: an empty file gives 0 rows, rejected records still go to the
    rejected table, ``{}`` records are kept or rejected by the null policies. An input with
    some data columns is still checked: a header without the declared column is a mismatch.
    """
    if any(column not in LINEAGE for column in raw.columns):
        return raw
    nulls = pd.Series([None] * len(raw), dtype="str", index=raw.index)
    return raw.assign(**{cs.source or name: nulls for name, cs in spec.columns.items()})


def _check_columns(raw: pd.DataFrame, spec: CleanSpec, table: str) -> None:
    present = [str(c) for c in raw.columns if c not in LINEAGE]
    missing = [cs.source or name for name, cs in spec.columns.items() if (cs.source or name) not in raw.columns]
    if missing:
        hints = []
        for column in missing:
            close = difflib.get_close_matches(column, present, n=1)
            if close:
                hints.append(f"{column!r} (found {close[0]!r})")
        hint = f"; close matches: {', '.join(hints)}" if hints else ""
        raise CleanError(
            f"clean table {table!r}: input has no column {', '.join(map(repr, missing))}{hint}. "
            f"Input columns: {', '.join(present) or '(none)'}"
        )
    if spec.dedup is not None:
        unknown = [key for key in spec.dedup.keys if key not in spec.columns]
        if unknown:
            raise CleanError(
                f"clean table {table!r}: dedup keys {', '.join(map(repr, unknown))} are not declared columns "
                f"(declared: {', '.join(spec.columns)})"
            )


def _undeclared(raw: pd.DataFrame, spec: CleanSpec, table: str) -> list[str]:
    if not spec.keep_undeclared:
        return []
    used = {cs.source or name for name, cs in spec.columns.items()} | set(LINEAGE)
    extra = [c for c in raw.columns if c not in used]
    clash = [c for c in extra if c in spec.columns]
    if clash:
        raise CleanError(
            f"clean table {table!r}: keep_undeclared would add input column(s) {', '.join(map(repr, clash))} "
            "next to declared columns of the same name (renamed from another input column)"
        )
    return extra


def _fill_default(values: pa.Array, default: pa.Scalar) -> pa.Array:
    if not values.null_count:
        return values
    if isinstance(values.type, pa.DictionaryType):
        value = default.as_py() if not isinstance(default, pa.DictionaryScalar) else default.value.as_py()
        position = values.dictionary.index(value).as_py()
        if position >= 0:
            indices = pc.fill_null(values.indices, pa.scalar(position, values.indices.type))
            return pa.DictionaryArray.from_arrays(indices, values.dictionary)
        return sorted_dictionary(pc.fill_null(values.dictionary_decode(), value))
    return pc.fill_null(values, default)


def _apply_null_policy(
    name: str, spec: ColumnSpec, values: pa.Array, failed: np.ndarray, problems: Problems, table: str
) -> pa.Array:
    """Nulls after coercion; a value that failed to parse is a coercion problem, not a null."""
    policy = spec.null_policy
    if policy == "keep" or not values.null_count:
        return values
    nulls = ~valid_mask(values) & ~failed
    if policy == "reject":
        problems.add(nulls, REQUIRED, name)
    elif policy == "drop":
        problems.add(nulls, DROPPED, name)
    else:
        try:
            default = coerce_default(spec.default, spec)
        except ValueError as error:
            raise CleanError(f"clean table {table!r}, column {name!r}: {error}") from None
        values = _fill_default(values, default)
    return values


def _arrow_to_pandas_type(type_: pa.DataType) -> object:
    if pa.types.is_integer(type_):
        return pd.Int64Dtype()
    if pa.types.is_boolean(type_):
        return pd.BooleanDtype()
    if pa.types.is_date(type_) or pa.types.is_decimal(type_):
        return pd.ArrowDtype(type_)
    return None


def _key_frame(columns: dict[str, pa.Array], positions: np.ndarray, rows: int) -> pd.DataFrame:
    """Dedup keys of the rows still kept, as pandas columns cheap to hash (plain int64 when the
    key has no nulls; nullable dtypes keep big ints exact otherwise)."""
    selected = pa.array(positions) if len(positions) < rows else None
    frame = {}
    for name, values in columns.items():
        values = values.take(selected) if selected is not None else values
        if pa.types.is_integer(values.type) and not values.null_count:
            frame[name] = pd.Series(values.to_numpy(), copy=False)
        else:
            frame[name] = pa.table({name: values}).to_pandas(types_mapper=_arrow_to_pandas_type)[name]
    return pd.DataFrame(frame, copy=False)


#: Rough relative cost of parsing a text column of each type (1M rows: ~15 ms for an int, ~45
#: for a category's dictionary encoding), to start the dear ones first (see ColumnJobs.map).
_PARSE_COST = {"int": 1.0, "date": 1.5, "float": 1.7, "bool": 2.0, "string": 2.0, "decimal": 2.0, "datetime": 2.5, "category": 3.0}


def _parse(arrays: ArrowColumns, spec: CleanSpec, problems: Problems, table: str, jobs: ColumnJobs) -> dict[str, pa.Array]:
    """Every declared column typed, with its failures and null-policy problems recorded.

    The columns are parsed in ``jobs`` (each parse depends on its own column only); problems
    are recorded here, in column order, so reasons and first kinds are those of a serial run."""
    items = list(spec.columns.items())

    def parse(item: tuple[str, ColumnSpec]) -> Coerced:
        name, column_spec = item
        return coerce_blocks(arrays.column(column_spec.source or name), column_spec)

    typed: dict[str, pa.Array] = {}
    parsed = jobs.map(parse, items, cost=lambda item: _PARSE_COST.get(item[1].type, 1.0))
    for (name, column_spec), coerced in zip(items, parsed, strict=True):
        source = column_spec.source or name
        kind = CATEGORY if column_spec.type == "category" else COERCION
        for failure in coerced.failures:
            problems.add(failure.mask, kind, name, failure.message, source)
        typed[name] = _apply_null_policy(name, column_spec, coerced.values, coerced.failed, problems, table)
    return typed


def _drop_duplicates(typed: dict[str, pa.Array], spec: CleanSpec, keep: np.ndarray) -> int:
    """Clear ``keep`` for the duplicates among the kept rows; return how many there were.

    Normalised and fuzzy dedup (``records_duplicates``) run after cleaning, in
    :func:`etl_assets.lib.dedup.clean_and_deduplicate`, which also returns the removed rows."""
    if spec.dedup is None or spec.dedup.records_duplicates or not keep.any():
        return 0
    kept_positions = np.flatnonzero(keep)
    keys = _key_frame({key: typed[key] for key in spec.dedup.keys}, kept_positions, len(keep))
    removed = find_duplicates(keys, spec.dedup.keep, survivors=False).removed
    keep[kept_positions[removed]] = False
    return len(removed)


def _column_to_pandas(name: str, values: pa.Array, selected: pa.Array | None) -> pd.Series:
    if selected is not None:
        values = values.filter(selected)
    column = pa.table({name: values}).to_pandas(types_mapper=_arrow_to_pandas_type, use_threads=False)[name]
    if isinstance(values.type, pa.DictionaryType) and not len(column.cat.categories):
        column = column.cat.set_categories(pd.Index([], dtype="str"))  # not object
    return column


def _to_pandas(typed: dict[str, pa.Array], keep: np.ndarray, jobs: ColumnJobs) -> pd.DataFrame:
    """The kept rows as pandas: each column filtered and converted once, in ``jobs`` (Arrow's
    own threaded conversion cost more than it saved on a dozen columns: ~90 vs ~15 ms)."""
    selected = None if keep.all() else pa.array(keep)
    columns = jobs.map(
        lambda item: _column_to_pandas(item[0], item[1], selected),
        typed.items(),
        cost=lambda item: 3.0 if is_text(item[1]) else 1.0,  # filtering text copies its bytes
    )
    return pd.DataFrame(dict(zip(typed, columns, strict=True)), copy=False)


def clean_table(raw: pd.DataFrame, spec: CleanSpec, *, table: str, threads: int | None = None) -> CleanResult:
    """Clean ``raw`` (a source frame) as ``spec`` declares; ``table`` names it in errors.

    ``threads`` parse and convert columns side by side (default: Arrow's CPU count, at most 4;
    see :mod:`.threads`); the result is the same for any count.

    Raises CleanError when the frame cannot be cleaned at all; bad rows never raise, they are
    rejected with their reasons.
    """
    raw = _without_data_columns(raw, spec)
    _check_columns(raw, spec, table)
    extra = _undeclared(raw, spec, table)
    raw = raw.reset_index(drop=True)
    parse_errors = raw[PARSE_ERROR].notna().to_numpy() if PARSE_ERROR in raw.columns else None
    problems = Problems(len(raw), parse_errors)
    arrays = ArrowColumns(raw, whole_up_to=blocks.BLOCK_ROWS)

    with ColumnJobs(threads) as jobs:
        typed = _parse(arrays, spec, problems, table, jobs)
        rejected = problems.rejected
        # Needs only the raw values and the problems: built while the kept rows are deduplicated.
        rejects = jobs.submit(lambda: rejected_frame(arrays, spec, problems))
        keep = ~rejected
        deduplicated = _drop_duplicates(typed, spec, keep)
        clean = _to_pandas(typed, keep, jobs)
        rejected_rows = rejects.result()
    if extra or PARTITION_COLUMN in raw.columns:
        positions = np.flatnonzero(keep)
        for column in extra:
            clean[column] = raw[column].take(positions).reset_index(drop=True)
        if PARTITION_COLUMN in raw.columns:
            clean[PARTITION_COLUMN] = raw[PARTITION_COLUMN].take(positions).astype("str").reset_index(drop=True)

    stats = CleanStats(
        rows_in=len(raw),
        rows_out=len(clean),
        rows_rejected=int(rejected.sum()),
        rows_dropped=problems.count_dropped(),
        rows_deduplicated=deduplicated,
        rejected_by_reason=problems.by_reason(),
    )
    return CleanResult(clean=clean, rejected=rejected_rows, stats=stats)
