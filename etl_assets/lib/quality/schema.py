"""A pandera schema built from a clean table's declared columns, and a readable failure report.

``build_schema(clean_spec)`` returns an ordinary ``pandera.pandas.DataFrameSchema`` so that a
hand-written asset can validate its own frame with exactly the rules the YAML declares:

- dtype: the dtype the clean transform produces for the declared type (``Int64``, ``float64``,
  ``boolean``, ``str``, ``category``, ``decimal128[pyarrow]``, ``date32[pyarrow]``,
  ``datetime64[us, tz]``);
- nullable: from the null policy (``required``/``reject``/``drop``/``default`` -> not nullable);
- ``unique``, ``min``/``max`` (inclusive), ``allowed``, ``pattern`` (full match), ``semantic``
  (a custom check backed by :mod:`etl_assets.lib.quality.semantic`);
- the table's cross-field ``rules`` as DataFrame-level checks.

``validate_frame`` runs the schema with ``lazy=True`` and turns pandera's failure cases into
counts per column and rule, the failing row positions per rule (for the quality score) and a
small sample of failing rows - never the whole table. Values of PII columns are masked in
the sample.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

from etl_assets.lib.quality.semantic import SEMANTIC_TYPES, valid_mask
from etl_assets.lib.spec.expressions import Rule, parse_condition, parse_rule
from etl_assets.lib.spec.models import PARTITION_COLUMN, AggregateSpec, CleanSpec, ColumnSpec

#: Rule names as they appear in reports and metadata (pandera's own names are mapped to these).
DTYPE, NULLABLE, UNIQUE, MIN, MAX, ALLOWED, PATTERN, MISSING_COLUMN = (
    "dtype", "nullable", "unique", "min", "max", "allowed", "pattern", "column_present",
)
SEMANTIC_PREFIX = "semantic:"
TABLE = "(table)"  # the "column" of cross-field rules in reports

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}


# --------------------------------------------------------------------------- building


def expected_dtype(column: ColumnSpec) -> Any:
    """The pandas dtype the clean transform produces for a declared column."""
    if column.type == "int":
        return "Int64"
    if column.type == "float":
        return "float64"
    if column.type == "bool":
        return "boolean"
    if column.type == "string":
        return pd.StringDtype(na_value=np.nan)
    if column.type == "category":
        return "category"
    if column.type == "decimal":
        return pd.ArrowDtype(pyarrow.decimal128(column.precision or 38, column.scale or 0))
    if column.type == "date":
        return pd.ArrowDtype(pyarrow.date32())
    return pd.DatetimeTZDtype("us", column.timezone) if column.timezone else "datetime64[us]"


def _bound(column: ColumnSpec, series: pd.Series, value: Any) -> Any:
    """A ``min``/``max`` bound in a form comparable with ``series``."""
    if column.type in ("date", "datetime"):
        stamp = pd.Timestamp(value)
        tz = getattr(series.dtype, "tz", None)
        if tz is not None:
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
            return stamp.tz_convert(tz)
        return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp
    return value


def _date_as_datetime(series: pd.Series) -> pd.Series:
    """date32[pyarrow] -> datetime64[s] through an Arrow cast (pandas' own path goes through
    Python objects and was 60% of a validation's time)."""
    return series.astype(pd.ArrowDtype(pyarrow.timestamp("s"))).astype("datetime64[s]")


def _comparable(column: ColumnSpec, series: pd.Series) -> pd.Series:
    if column.type == "date":
        return _date_as_datetime(series)
    if column.type == "decimal":
        return series.astype("float64")
    return series


def _bound_check(column: ColumnSpec, name: str, value: Any, op: Callable[[Any, Any], Any]) -> pa.Check:
    def check(series: pd.Series) -> pd.Series:
        result = op(_comparable(column, series), _bound(column, series, value))
        return pd.Series(result, index=series.index).fillna(True).astype(bool)

    return pa.Check(check, name=name)


def _allowed_check(values: list[Any]) -> pa.Check:
    allowed = list(values)

    def check(series: pd.Series) -> pd.Series:
        present = series.isin(allowed)
        return present | series.isna()

    return pa.Check(check, name=ALLOWED)


def _pattern_check(pattern: str) -> pa.Check:
    def check(series: pd.Series) -> pd.Series:
        text = series.astype("string[pyarrow]")
        return text.str.fullmatch(pattern).fillna(True).astype(bool)

    return pa.Check(check, name=PATTERN)


def _unique_check() -> pa.Check:
    def check(series: pd.Series) -> pd.Series:
        return ~(series.duplicated(keep=False) & series.notna())

    return pa.Check(check, name=UNIQUE)


def _semantic_check(kind: str) -> pa.Check:
    def check(series: pd.Series) -> pd.Series:
        return valid_mask(series, kind)

    return pa.Check(check, name=f"{SEMANTIC_PREFIX}{kind}")


def rule_mask(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """True where a row satisfies ``rule`` (rows with a null operand pass: nulls are judged by
    the null policy, not by rules)."""
    left = frame[rule.left]
    right = frame[str(rule.right)] if rule.right_is_column else rule.right
    if isinstance(left.dtype, pd.ArrowDtype) and pd.api.types.is_numeric_dtype(left.dtype):
        left = left.astype("float64")
    if isinstance(right, pd.Series) and isinstance(right.dtype, pd.ArrowDtype) and pd.api.types.is_numeric_dtype(right.dtype):
        right = right.astype("float64")
    if isinstance(right, pd.Series):
        left, right = _same_clock(left), _same_clock(right)
    result = pd.Series(_OPS[rule.op](left, right), index=frame.index)
    nulls = left.isna() | (right.isna() if isinstance(right, pd.Series) else False)
    return result.fillna(True).astype(bool) | nulls


def _same_clock(series: pd.Series) -> pd.Series:
    """Datetimes compared across columns: naive ones are read as UTC, aware ones converted to UTC."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return series.dt.tz_localize("UTC")
    if isinstance(series.dtype, pd.ArrowDtype) and str(series.dtype).startswith("date32"):
        return _date_as_datetime(series).dt.tz_localize("UTC")
    return series


def _rule_check(text: str) -> pa.Check:
    rule = parse_rule(text)

    def check(frame: pd.DataFrame) -> pd.Series:
        return rule_mask(frame, rule)

    return pa.Check(check, name=f"rule: {text}")


def column_checks(column: ColumnSpec) -> list[pa.Check]:
    """The value checks of one declared column (dtype and nullability excluded)."""
    checks: list[pa.Check] = []
    if column.unique:
        checks.append(_unique_check())
    if column.min is not None:
        checks.append(_bound_check(column, MIN, column.min, operator.ge))
    if column.max is not None:
        checks.append(_bound_check(column, MAX, column.max, operator.le))
    if column.allowed is not None:
        checks.append(_allowed_check(column.allowed))
    if column.pattern is not None:
        checks.append(_pattern_check(column.pattern))
    if column.semantic is not None:
        checks.append(_semantic_check(column.semantic))
    return checks


def build_schema(clean: CleanSpec, *, name: str | None = None, check_dtypes: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of a clean table as declared in the spec.

    Undeclared columns (``keep_undeclared``, ``_partition``, ``_quality_score``, ...) are
    allowed: the schema is not strict.
    """
    columns = {
        column_name: pa.Column(
            expected_dtype(declared) if check_dtypes else None,
            checks=column_checks(declared),
            nullable=declared.null_policy == "keep",
            required=True,
            description=declared.description,
        )
        for column_name, declared in clean.columns.items()
    }
    return pa.DataFrameSchema(
        columns,
        checks=[_rule_check(text) for text in clean.rules],
        strict=False,
        name=name,
        description=clean.description,
    )


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class SchemaReport:
    """Outcome of validating one frame."""

    rows: int
    #: ``{column: {rule: failing rows (or failure cases for dtype/presence)}}``.
    failures: dict[str, dict[str, int]]
    #: Failing row positions per ``(column, rule)``.
    failing_positions: dict[tuple[str, str], np.ndarray] = field(repr=False)
    #: At most ``sample_size`` failing rows, with ``_failed_rules``.
    sample: pd.DataFrame = field(repr=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failure_count(self) -> int:
        return sum(n for rules in self.failures.values() for n in rules.values())

    def failing_rows(self, rules: Callable[[str], bool] | None = None) -> np.ndarray:
        """Bool mask of rows failing any rule (or any rule for which ``rules(name)`` is true)."""
        mask = np.zeros(self.rows, dtype=bool)
        for (_, rule), positions in self.failing_positions.items():
            if rules is None or rules(rule):
                mask[positions] = True
        return mask

    def describe(self) -> str:
        if self.passed:
            return f"{self.rows} rows: every declared column and rule holds"
        parts = [f"{column}.{rule}: {n}" for column, rules in sorted(self.failures.items()) for rule, n in rules.items()]
        return f"{self.rows} rows; failures: " + ", ".join(parts)


def _rule_name(check: Any) -> str:
    text = str(check)
    if text == "not_nullable":
        return NULLABLE
    if text.startswith("dtype("):
        return DTYPE
    if text in ("column_in_dataframe", "column_in_schema"):
        return MISSING_COLUMN
    if text == "field_uniqueness":
        return UNIQUE
    return text


def _mask(value: Any) -> str:
    text = str(value)
    return "*" * max(len(text) - 2, 1) + text[-2:] if len(text) > 2 else "**"


#: Public name of the masking used for PII values in samples (also by the anomaly check).
mask_pii = _mask


def _sample(frame: pd.DataFrame, positions: dict[tuple[str, str], np.ndarray], size: int, pii: set[str]) -> pd.DataFrame:
    chosen: dict[int, list[str]] = {}
    # round robin over the rules, so each failing rule is represented in the sample
    iters = {key: iter(pos.tolist()) for key, pos in positions.items() if len(pos)}
    while iters and len(chosen) < size:
        for key in list(iters):
            position = next(iters[key], None)
            if position is None:
                del iters[key]
                continue
            label = f"{key[0]}.{key[1]}" if key[0] != TABLE else key[1]
            if position in chosen:
                chosen[position].append(label)
            elif len(chosen) < size:
                chosen[position] = [label]
    order = sorted(chosen)
    sample = frame.iloc[order].copy()
    for column in pii & set(sample.columns):
        sample[column] = sample[column].map(_mask, na_action="ignore").astype("object")
    sample.insert(0, "_failed_rules", ["; ".join(chosen[p]) for p in order])
    sample.insert(0, "_row", order)
    return sample.reset_index(drop=True)


def validate_frame(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    sample_size: int = 10,
    pii_columns: set[str] | None = None,
) -> SchemaReport:
    """Validate ``frame`` with ``lazy=True``; failures become counts, positions and a sample."""
    positional = frame.reset_index(drop=True)
    try:
        schema.validate(positional, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return SchemaReport(len(frame), {}, {}, frame.iloc[0:0])
    failures: dict[str, dict[str, int]] = {}
    positions: dict[tuple[str, str], np.ndarray] = {}
    rules = cases["check"].map(_rule_name)
    # DataFrame-level checks (cross-field rules) are reported once per column by pandera
    table_level = cases["column"].isna() | rules.astype(str).str.startswith(("rule: ", "unique: "))
    column_of = cases["column"].astype("object").where(~table_level, TABLE)
    missing = rules == MISSING_COLUMN
    column_of = column_of.where(~missing, cases["failure_case"].astype("object"))
    indexes = pd.to_numeric(cases["index"], errors="coerce")
    grouped = pd.DataFrame({"column": column_of.astype(str), "rule": rules.astype(str), "index": indexes})
    for (column, rule), group in grouped.groupby(["column", "rule"], sort=True):
        located = group["index"].dropna().astype("int64").unique()
        count = len(located) if len(located) else len(group)
        failures.setdefault(column, {})[rule] = int(count)
        positions[(column, rule)] = np.sort(located)
    sample = _sample(positional, positions, sample_size, pii_columns or set())
    return SchemaReport(len(frame), failures, positions, sample)


def pii_columns(clean: CleanSpec) -> set[str]:
    """Declared columns whose semantic type is personally identifiable."""
    return {name for name, c in clean.columns.items() if c.semantic is not None and SEMANTIC_TYPES[c.semantic].pii}


def validate_clean(frame: pd.DataFrame, clean: CleanSpec, *, sample_size: int = 10) -> SchemaReport:
    """Build the schema of ``clean`` and validate ``frame`` with it."""
    return validate_frame(frame, build_schema(clean), sample_size=sample_size, pii_columns=pii_columns(clean))


# --------------------------------------------------------------------------- aggregates

#: Metrics that count rows: never null, never negative.
_COUNTING = ("count", "null_count", "nunique")


def _non_negative() -> pa.Check:
    def check(series: pd.Series) -> pd.Series:
        return (series >= 0).fillna(True).astype(bool)

    return pa.Check(check, name=MIN)


def _unique_rows_check(keys: list[str]) -> pa.Check:
    def check(frame: pd.DataFrame) -> pd.Series:
        return ~frame.duplicated(subset=keys, keep=False)

    return pa.Check(check, name=f"{UNIQUE}: {', '.join(keys)}")


def _having_check(text: str) -> pa.Check:
    condition = parse_condition(text)

    def check(frame: pd.DataFrame) -> pd.Series:
        return rule_mask(frame, Rule(condition.name, condition.op, condition.value, right_is_column=False))

    return pa.Check(check, name=f"rule: {text}")


def build_aggregate_schema(agg: AggregateSpec, *, name: str | None = None, partitioned: bool = False) -> pa.DataFrameSchema:
    """The pandera schema of an aggregate's output: every group key, window and metric column is
    present; counting metrics are non-null integers >= 0; group keys (with the window start and
    the partition) identify one row; ``having`` conditions hold."""
    columns: dict[str, pa.Column] = {key: pa.Column(None, nullable=True, required=True) for key in agg.group_by}
    if agg.window is not None:
        columns["window_start"] = pa.Column(None, nullable=False, required=True)
    for metric_name, metric in agg.parsed_metrics.items():
        if metric.function in _COUNTING:
            columns[metric_name] = pa.Column(None, checks=[_non_negative()], nullable=False, required=True)
        else:
            columns[metric_name] = pa.Column(None, nullable=True, required=True)
    keys = ([PARTITION_COLUMN] if partitioned else []) + list(agg.group_by)
    if agg.window is not None:
        keys.append("window_start")
    checks = [_having_check(text) for text in agg.having]
    if keys:
        checks.append(_unique_rows_check(keys))
    return pa.DataFrameSchema(columns, checks=checks, strict=False, name=name, description=agg.description)
