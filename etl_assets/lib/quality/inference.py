"""Schema inference: profile data files and draft a pipeline spec for them.

``infer_files(paths, data_root)`` reads each file exactly as the raw layer would (through
:func:`etl_assets.lib.sources.read_source`: CSV as text, JSON flattened, Parquet typed) and
reports, per column:

- **storage type**: the narrowest spec type every non-null value parses as (int, float, bool,
  date, datetime, else string; text labels that repeat become category, see column_roles).
  Integers with a leading zero (``01234``) stay strings, so zip codes and identifiers keep their
  zeros. Dates in other layouts than ISO 8601 are found with their ``format`` by date_layouts,
  which checks it with the clean step's parser.
- **nullability**: share of nulls; ``required`` when there are none.
- **semantic type** with a confidence 0-1: the share of a sample of non-null values that the
  catalogue's validator (:mod:`etl_assets.lib.quality.semantic`) accepts, times the type's
  ``confidence_scale`` (0.8 for the weak numeric types, whose evidence is partly the name).
  Among the types that accept at least 80%, a name hint wins, then the most specific type
  (``SPECIFICITY``). Name hints match whole tokens of the column name
  (:mod:`etl_assets.lib.quality.name_tokens`). "Weak" types (latitude, longitude, currency
  amount and postal code over plain numbers: any small number passes their validator; city,
  person name, ticker: any word passes) are only proposed when the column name hints at them.
- **PII**: from the semantic type, or a name that says personal data (first_name, address, ...).

Then per table the **candidate primary keys** (single columns, then pairs and triples of the 12
most distinct columns, without nulls and without floats), and **foreign keys** between the given
files: a column whose values are included in another table's single-column key with strong
evidence, with the coverage (share of non-null rows found). Numeric columns must also be related
by name (``customer_id`` -> ``customers.customer_id``): small integers are included in any id
column.

``InferenceReport.to_yaml()`` writes a draft pipeline spec: declared types, ``required``,
``unique`` on keys with strong evidence (column_roles.strong_key; other candidates are
comments), ``categories``, date ``format`` (ambiguous layouts said in a comment), ``semantic``
when every value is valid, ``references`` for foreign keys (WARN checks: orphans do not stop a
run), and observed ranges and value sets as comments to turn into rules after review. The draft
validates and materializes as written.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from etl_assets.lib.quality.column_roles import (
    identifier_name,
    is_category,
    measurement,
    strong_key,
)
from etl_assets.lib.quality.date_layouts import Layout, detect_epoch, detect_layout
from etl_assets.lib.quality.name_tokens import any_hint
from etl_assets.lib.quality.semantic import SEMANTIC_TYPES, valid_mask
from etl_assets.lib.sources import read_source
from etl_assets.lib.sources.files import PARSE_ERROR_COLUMN, SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN
from etl_assets.lib.spec.models import SourceSpec

LINEAGE = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN)
#: Semantic types whose validator accepts ordinary numbers: proposed only with a name hint.
WEAK_NUMERIC = ("latitude", "longitude", "currency_amount", "postal_code")
#: Column name hints (whole tokens) that mark personal data even without a semantic type.
PII_NAMES = ("first_name", "last_name", "full_name", "surname", "given_name", "address", "street", "birth", "dob",
             "passport", "license", "gender", "firstname", "lastname")
#: Money words beyond the catalogue's own currency hints: weak numeric types need a name.
MONEY_HINTS = ("sales", "profit", "profits", "income", "revenues", "assets", "wage", "wages", "spending", "expenditure",
               "expenditures", "payment", "budget", "prices", "costs")
SEMANTIC_THRESHOLD = 0.8
#: Most specific first: when several types accept a column, the narrower one wins.
SPECIFICITY = ("uuid", "email", "url", "ip_address", "ssn", "credit_card", "phone", "datetime", "date", "date_us",
               "date_eu", "country_code", "country_alpha3", "state_code", "postal_code", "street_address", "state_name",
               "country_name", "latitude", "longitude", "currency_amount", "ticker", "code", "city", "person_name")
#: A code-like column without an identifier name needs this share of its distinct values to
#: have the same length ("fixed-length codes"): words in capitals vary in length.
CODE_SAME_LENGTH = 0.9
FK_COVERAGE = 0.8
SAMPLE = 20_000

_INT = r"[-+]?(0|[1-9]\d{0,17})"
_FLOAT = r"[-+]?((0|[1-9]\d*)(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
#: Pairs of words that are booleans (the clean step's default true/false values read them).
_BOOL_PAIRS = ({"true", "false"}, {"yes", "no"}, {"t", "f"})
#: (spec type, strftime format or None, semantic type confirming it)
#: Other layouts (US, European, month names...) are found by date_layouts.detect_layout.
_TEMPORAL = (
    ("date", None, "date"),
    ("datetime", None, "datetime"),
)
_FORMATS = {
    "csv": ("csv",), "tsv": ("csv",), "json": ("json",), "jsonl": ("jsonl",), "ndjson": ("jsonl",),
    "parquet": ("parquet",), "pq": ("parquet",),
}


@dataclass
class ColumnProfile:
    name: str
    storage_type: str
    #: strftime format for dates that are not ISO 8601.
    format: str | None
    #: Datetime values carry a UTC offset or ``Z``.
    timezone_aware: bool
    nulls: int
    null_fraction: float
    distinct: int
    semantic: str | None
    confidence: float
    pii: bool
    #: Semantic types with their share of valid sample values (>= 0.5), best first.
    candidates: dict[str, float] = field(default_factory=dict)
    minimum: Any = None
    maximum: Any = None
    #: Up to 12 distinct values when the column has that few (for an ``allowed`` suggestion).
    values: list[Any] | None = None
    #: The categories, sorted, when the column is ``category``.
    categories: list[str] | None = None
    #: A remark for the draft about the storage type (ambiguous day/month order, epoch unit...).
    note: str | None = None

    @property
    def nullable(self) -> bool:
        return self.nulls > 0


@dataclass
class TableProfile:
    name: str
    path: str
    format: str
    rows: int
    columns: list[ColumnProfile]
    #: Candidate keys: columns (or combinations) unique in this file.
    primary_keys: list[list[str]]
    #: The candidates with strong evidence (see column_roles.strong_key): declared in the draft.
    keys: list[list[str]] = field(default_factory=list)

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


@dataclass
class ForeignKey:
    table: str
    column: str
    ref_table: str
    ref_column: str
    #: Share of non-null rows whose value exists in the referenced key.
    coverage: float
    orphan_rows: int


@dataclass
class InferenceReport:
    tables: list[TableProfile]
    foreign_keys: list[ForeignKey]
    data_root: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        return format_report(self)

    def to_yaml(self, pipeline: str = "inferred", frames: dict[str, pd.DataFrame] | None = None) -> str:
        return draft_yaml(self, pipeline, frames)


# --------------------------------------------------------------------------- reading


def source_spec_for(path: Path, data_root: Path) -> tuple[str, SourceSpec]:
    """A source declaration for ``path`` (format from its extension, path relative to the root)."""
    try:
        relative = path.resolve().relative_to(data_root.resolve())
    except ValueError:
        raise ValueError(f"{path} is not under the data root {data_root}; pass --data-root") from None
    suffixes = [s.lstrip(".").lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in ("gz", "gzip", "zip"):
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind not in _FORMATS:
        raise ValueError(f"{path}: cannot tell the format from the extension; expected one of {', '.join(sorted(_FORMATS))}")
    fmt = _FORMATS[kind][0]
    options: dict[str, Any] = {}
    if kind == "tsv":
        options["csv"] = {"delimiter": "\t"}
    return fmt, SourceSpec.model_validate({"format": fmt, "path": relative.as_posix(), **options})


def table_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    name = re.sub(r"\W+", "_", stem).strip("_").lower() or "table"
    return f"t_{name}" if name[0].isdigit() else name


def read_table(path: Path, data_root: Path) -> tuple[str, SourceSpec, pd.DataFrame]:
    fmt, spec = source_spec_for(path, data_root)
    frame = read_source(spec, data_root, name=table_name(path))
    return fmt, spec, frame.drop(columns=[c for c in LINEAGE if c in frame.columns])


# --------------------------------------------------------------------------- columns


def _all_match(text: pd.Series, pattern: str) -> bool:
    return bool(text.str.fullmatch(pattern).fillna(False).all())


def _storage(values: pd.Series, name: str = "") -> tuple[str, str | None, bool]:
    """``(spec type, format, timezone aware)`` of the non-null ``values``."""
    storage, fmt, aware, _ = _storage_detail(values, name)
    return storage, fmt, aware


def _storage_detail(values: pd.Series, name: str = "") -> tuple[str, str | None, bool, Layout | None]:
    """``(spec type, format, timezone aware, date layout)`` of the non-null ``values``."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", None, False, None
    if pd.api.types.is_integer_dtype(dtype):
        return "int", None, False, None
    if pd.api.types.is_float_dtype(dtype):
        whole = values.dropna()
        if len(whole) and bool((whole == np.floor(whole)).all()) and whole.abs().max() < 2**53:
            return "int", None, False, None
        return "float", None, False, None
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime", None, True, None
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", None, False, None
    if isinstance(dtype, pd.ArrowDtype) and str(dtype).startswith("date32"):
        return "date", None, False, None
    present = values.dropna()
    if len(present) == 0:
        return "string", None, False, None
    text = present.astype("string[pyarrow]").str.strip()
    distinct = pd.Series(pd.unique(text), dtype="string[pyarrow]")
    if _all_match(distinct, _INT):
        layout = detect_layout(distinct, name) if name else None  # YYYYMMDD with a date name
        return ("date", layout.format, False, layout) if layout else ("int", None, False, None)
    if _all_match(distinct, _FLOAT):
        return "float", None, False, None
    lowered = set(distinct.str.lower())
    if any(lowered <= pair for pair in _BOOL_PAIRS) and len(lowered) == 2:
        return "bool", None, False, None
    for spec_type, fmt, kind in _TEMPORAL:
        if bool(valid_mask(distinct, kind).all()):
            aware = spec_type == "datetime" and bool(distinct.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$").all())
            return spec_type, fmt, aware, None
    layout = detect_layout(distinct, name)
    if layout is not None:
        return layout.storage, layout.format, False, layout
    return "string", None, False, None


def _hinted(name: str, kind: str) -> bool:
    """Whether the column name hints at ``kind``: whole tokens only (``Miles_per_Gallon`` does
    not contain ``lon``)."""
    hints = SEMANTIC_TYPES[kind].name_hints + (MONEY_HINTS if kind == "currency_amount" else ())
    return any_hint(name, hints)


#: Text that only says "number" is as weak as a number column: without a name hint, coordinates
#: must be written with decimals and amounts with a symbol, thousands separators or cents
#: (``4``, ``6``, ``rotary`` cylinders are not latitudes).
_PLAIN_TEXT_SHAPES = {
    "latitude": r"[-+]?\d{1,3}\.\d+",
    "longitude": r"[-+]?\d{1,3}\.\d+",
    "currency_amount": r".*(?:[$€£¥]|\d,\d{3}|\.\d{2}(?:\s?[A-Z]{3})?$).*",
}


def _written_as(sample: pd.Series, kind: str) -> bool:
    text = sample.astype("string[pyarrow]").str.strip()
    return bool(text.str.fullmatch(_PLAIN_TEXT_SHAPES[kind]).fillna(False).mean() >= SEMANTIC_THRESHOLD)


def _fixed_length(sample: pd.Series) -> bool:
    lengths = pd.Series(pd.unique(sample.astype("string[pyarrow]"))).str.len()
    return bool(lengths.value_counts(normalize=True).iloc[0] >= CODE_SAME_LENGTH) if len(lengths) else False


def _semantic(name: str, sample: pd.Series, storage: str) -> tuple[str | None, float, dict[str, float]]:
    """Best semantic type for a sample of non-null values, its confidence and the candidates."""
    if len(sample) == 0 or storage == "bool":
        return None, 0.0, {}
    if storage in ("int", "float"):
        kinds = [*WEAK_NUMERIC, "credit_card"]
    elif storage == "date":
        kinds = ["date", "date_us", "date_eu"]
    elif storage == "datetime":
        kinds = ["datetime"]
    else:
        kinds = [k for k in SEMANTIC_TYPES if not SEMANTIC_TYPES[k].needs_name_hint or _hinted(name, k)]
        if "code" in kinds and not (_hinted(name, "code") or identifier_name(name) or _fixed_length(sample)):
            kinds.remove("code")
    shares = {kind: float(valid_mask(sample, kind).mean()) for kind in kinds}
    candidates = {k: round(v, 4) for k, v in sorted(shares.items(), key=lambda kv: -kv[1]) if v >= 0.5}
    passing = []
    for kind in kinds:
        weak = storage in ("int", "float") and kind in WEAK_NUMERIC
        if storage != "int" and storage != "float" and kind in _PLAIN_TEXT_SHAPES:
            weak = not _written_as(sample, kind)
        hinted = _hinted(name, kind)
        if shares[kind] >= SEMANTIC_THRESHOLD and (hinted or not weak):
            passing.append((not hinted, SPECIFICITY.index(kind), kind))
    if not passing:
        return None, 0.0, candidates
    # a name hint first, then the most specific type: a Luhn-valid card number is also a
    # "currency amount", and every latitude is also a longitude
    kind = min(passing)[2]
    weak = storage in ("int", "float") and kind in WEAK_NUMERIC
    scale = 0.8 if weak else SEMANTIC_TYPES[kind].confidence_scale
    return kind, round(shares[kind] * scale, 4), candidates


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value if isinstance(value, int | float | bool | str) else str(value)


def profile_column(name: str, values: pd.Series, *, sample_size: int = SAMPLE, seed: int = 0) -> ColumnProfile:
    rows = len(values)
    present = values.dropna()
    if present.dtype == object or pd.api.types.is_string_dtype(present.dtype):
        present = present[present.astype("string[pyarrow]").str.strip() != ""]
    nulls = rows - len(present)
    storage, fmt, aware, layout = _storage_detail(present, name)
    sample = present.sample(n=sample_size, random_state=seed) if len(present) > sample_size else present
    sample_for_semantic = sample.astype("string[pyarrow]").str.strip() if storage in ("string",) else sample
    if layout is not None:  # a date in a layout: the layout is the evidence
        semantic, confidence, candidates = layout.semantic, 1.0, {layout.semantic: 1.0}
    else:
        semantic, confidence, candidates = _semantic(name, sample_for_semantic, storage)
    pii = (semantic is not None and SEMANTIC_TYPES[semantic].pii) or any_hint(name, PII_NAMES)
    distinct = int(present.nunique())
    note = layout.note if layout is not None else None
    if storage == "int" and len(present):
        epoch = detect_epoch(present, name)
        if epoch is not None:
            storage, fmt, aware = "datetime", f"epoch_{epoch.unit}", True
            note = f"epoch {'seconds' if epoch.unit == 's' else 'milliseconds'}: {epoch.first} .. {epoch.last} UTC"
    categories = None
    if storage == "string":
        texts = present.astype("string[pyarrow]").str.strip()
        distinct_text = pd.Series(pd.unique(texts), dtype="string[pyarrow]")
        if is_category(name, distinct_text, len(present), semantic):
            storage = "category"
            categories = sorted(str(v) for v in distinct_text)
    minimum = maximum = None
    if storage in ("int", "float") and len(present):
        numbers = pd.to_numeric(present, errors="coerce")
        minimum, maximum = _plain(numbers.min()), _plain(numbers.max())
    values_list = None
    if storage in ("string", "category") and 0 < distinct <= 12 and rows >= 20:
        values_list = sorted(str(v) for v in pd.unique(present.astype("string[pyarrow]").str.strip()))
    return ColumnProfile(
        name=name, storage_type=storage, format=fmt, timezone_aware=aware, nulls=int(nulls),
        null_fraction=round(nulls / rows, 6) if rows else 0.0, distinct=distinct, semantic=semantic,
        confidence=confidence, pii=bool(pii), candidates=candidates, minimum=minimum, maximum=maximum, values=values_list,
        categories=categories, note=note,
    )


# --------------------------------------------------------------------------- keys


def _codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(frame[column].astype("string[pyarrow]").str.strip() if frame[column].dtype == object
                                  or pd.api.types.is_string_dtype(frame[column].dtype) else frame[column])
    return codes.astype(np.int64), max(len(uniques), 1)


def candidate_keys(frame: pd.DataFrame, columns: list[ColumnProfile], *, limit: int = 3, width: int = 12) -> list[list[str]]:
    """Single columns, then pairs and triples of the ``width`` most distinct columns, that
    identify rows. Combinations whose distinct counts multiply to fewer than the rows cannot be
    keys and are skipped without looking at the data."""
    rows = len(frame)
    if rows == 0:
        return []
    eligible = [c for c in columns if c.nulls == 0 and c.storage_type not in ("float", "bool") and c.distinct > 1]
    keys = [[c.name] for c in eligible if c.distinct == rows]
    if keys:
        return keys[:limit]
    top = sorted(eligible, key=lambda c: -c.distinct)[:width]
    distinct = {c.name: c.distinct for c in top}
    codes: dict[str, tuple[np.ndarray, int]] = {}
    found: list[list[str]] = []
    for size in (2, 3):
        for combo in itertools.combinations([c.name for c in top], size):
            if any(set(k) <= set(combo) for k in found):
                continue  # a superset of a key is not a candidate key
            if float(np.prod([distinct[c] for c in combo], dtype=np.float64)) < rows:
                continue
            span = 1
            combined = np.zeros(rows, dtype=np.int64)
            for col in combo:
                if col not in codes:
                    codes[col] = _codes(frame, col)
                code, n = codes[col]
                if span * n >= 2**62:
                    break
                combined = combined * n + code
                span *= n
            else:
                if not pd.Series(combined).duplicated().any():
                    found.append(list(combo))
                    if len(found) >= limit:
                        return found
        if found:
            return found
    return found


def strong_keys(candidates: list[list[str]], columns: list[ColumnProfile], rows: int) -> list[list[str]]:
    """The candidate keys with strong evidence (column_roles.strong_key for every column):
    the draft declares these; the others are comments for review."""
    by_name = {c.name: c for c in columns}
    return [key for key in candidates if all(strong_key(c, by_name[c].storage_type, by_name[c].semantic, rows) for c in key)]


def _as_text_kind(storage: str) -> str:
    return "string" if storage == "category" else storage


def _names_related(column: str, ref_table: str, ref_column: str) -> bool:
    col, ref = column.lower(), ref_column.lower()
    singular = ref_table.lower().rstrip("s")
    return col == ref or col.endswith(f"_{ref}") or (singular and singular in col) or ref in col


def foreign_keys(tables: list[TableProfile], frames: dict[str, pd.DataFrame]) -> list[ForeignKey]:
    """Columns included (coverage >= 80%) in another table's single-column key, among the keys
    with strong evidence: a column unique by chance (a company name, a rank) is no reference."""
    found: list[ForeignKey] = []
    text = {"string"}
    for ref in tables:
        for key in [k[0] for k in ref.keys if len(k) == 1]:  # only keys with identifier evidence
            key_profile = ref.column(key)
            key_values = frames[ref.name][key]
            for table in tables:
                if table.name == ref.name:
                    continue
                for column in table.columns:
                    kinds = {_as_text_kind(column.storage_type), _as_text_kind(key_profile.storage_type)}
                    if len(kinds) != 1 or column.storage_type in ("float", "bool") or column.distinct < 2:
                        continue
                    if _as_text_kind(column.storage_type) not in text and not _names_related(column.name, ref.name, key):
                        continue
                    values = frames[table.name][column.name]
                    left, right = values.astype("string[pyarrow]").str.strip(), key_values.astype("string[pyarrow]").str.strip()
                    present = left.notna() & (left != "")
                    checked = int(present.sum())
                    if checked == 0:
                        continue
                    inside = left[present].isin(pd.unique(right.dropna()))
                    coverage = float(inside.mean())
                    if coverage >= FK_COVERAGE:
                        found.append(ForeignKey(table.name, column.name, ref.name, key, round(coverage, 6), int((~inside).sum())))
    return sorted(found, key=lambda f: (f.table, f.column, -f.coverage))


# --------------------------------------------------------------------------- files


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files


def infer_files(
    paths: Sequence[str | Path], data_root: str | Path | None = None, *, sample_size: int = SAMPLE
) -> tuple[InferenceReport, dict[str, pd.DataFrame]]:
    """Profile every file under ``paths``; returns the report and the frames read (by table)."""
    files = expand_paths(paths)
    if not files:
        raise ValueError("no files to infer from")
    root = Path(data_root) if data_root is not None else Path(*_common_parts([f.resolve().parent for f in files]))
    tables: list[TableProfile] = []
    frames: dict[str, pd.DataFrame] = {}
    for file in files:
        name = table_name(file)
        while name in frames:
            name = f"{name}_2"
        fmt, spec, frame = read_table(file, root)
        columns = [profile_column(str(c), frame[c], sample_size=sample_size) for c in frame.columns]
        candidates = candidate_keys(frame, columns)
        tables.append(TableProfile(name, spec.path, fmt, len(frame), columns, candidates, strong_keys(candidates, columns, len(frame))))
        frames[name] = frame
    return InferenceReport(tables, foreign_keys(tables, frames), str(root)), frames


def _common_parts(folders: list[Path]) -> list[str]:
    parts = list(folders[0].parts)
    for folder in folders[1:]:
        other = folder.parts
        n = 0
        while n < min(len(parts), len(other)) and parts[n] == other[n]:
            n += 1
        parts = parts[:n]
    return parts or ["/"]


# --------------------------------------------------------------------------- output


def format_report(report: InferenceReport) -> str:
    lines = [f"data root: {report.data_root}"]
    for table in report.tables:
        keys = ", ".join("(" + ", ".join(k) + ")" for k in table.primary_keys) or "none found"
        strong = ", ".join("(" + ", ".join(k) + ")" for k in table.keys) or "none"
        lines.append(f"\n{table.name}  ({table.path}, {table.format}, {table.rows:,} rows)  candidate keys: {keys}"
                     f"  declared: {strong}")
        lines.append(f"  {'column':24s} {'type':9s} {'nulls':>8s} {'distinct':>9s}  semantic (confidence)  PII")
        for c in table.columns:
            storage = c.storage_type + (f" {c.format}" if c.format else "") + (" tz" if c.timezone_aware else "")
            semantic = f"{c.semantic} ({c.confidence:.2f})" if c.semantic else "-"
            note = f"  ({c.note})" if c.note else ""
            lines.append(
                f"  {c.name:24s} {storage:9s} {c.null_fraction:8.2%} {c.distinct:9,d}  {semantic:21s}  {'yes' if c.pii else '':3s}{note}".rstrip()
            )
    lines.append("\nforeign keys (inclusion in another file's key):")
    if not report.foreign_keys:
        lines.append("  none found")
    for fk in report.foreign_keys:
        lines.append(f"  {fk.table}.{fk.column} -> {fk.ref_table}.{fk.ref_column}: coverage {fk.coverage:.2%} ({fk.orphan_rows:,} orphan rows)")
    return "\n".join(lines)


def _identifier(name: str) -> str:
    cleaned = re.sub(r"\W+", "_", name).strip("_").lower() or "column"
    return f"c_{cleaned}" if cleaned[0].isdigit() else cleaned


def _flow(mapping: dict[str, Any]) -> str:
    return yaml.safe_dump(mapping, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True).strip()


def _full_column_valid(frame: pd.DataFrame | None, column: str, kind: str) -> bool:
    if frame is None:
        return False
    values = frame[column]
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        values = values.astype("string[pyarrow]").str.strip()
        values = values.where(values != "")
    return bool(valid_mask(values, kind).all())


def draft_yaml(report: InferenceReport, pipeline: str = "inferred", frames: dict[str, pd.DataFrame] | None = None) -> str:
    """A pipeline spec for the profiled files that validates and materializes as written."""
    frames = frames or {}
    references: dict[tuple[str, str], ForeignKey] = {}
    from etl_assets.lib.spec.references import _find_cycle

    edges: dict[str, set[str]] = {t.name: set() for t in report.tables}
    for fk in sorted(report.foreign_keys, key=lambda f: -f.coverage):
        if (fk.table, fk.column) in references:
            continue
        edges[fk.table].add(fk.ref_table)
        if _find_cycle(edges):
            edges[fk.table].discard(fk.ref_table)
            continue
        references[(fk.table, fk.column)] = fk

    out = [
        f"# Draft written by `etl-assets infer` from {len(report.tables)} file(s) under {report.data_root}.",
        "# Run it with ETL_ASSETS_DATA_ROOT set to that folder. Review before use: types and keys come",
        "# from the data seen; commented lines are suggestions (observed ranges and values) to turn into rules.",
        f"pipeline: {_identifier(pipeline)}",
        "sources:",
    ]
    for table in report.tables:
        source: dict[str, Any] = {"format": table.format, "path": table.path}
        if table.path.endswith(".tsv") or ".tsv." in table.path:
            source["csv"] = {"delimiter": "\t"}
        out.append(f"  {table.name}: {_flow(source)}")
    out.append("clean:")
    for table in report.tables:
        out.append(f"  {table.name}:")
        out.append(f"    from: {table.name}")
        out.append("    columns:")
        names = {c.name: _identifier(c.name) for c in table.columns}
        seen: set[str] = set()
        single_keys = {k[0] for k in table.keys if len(k) == 1}
        kinds = {c.name: c.storage_type for c in table.columns}
        reviewable = [k for k in table.primary_keys if k not in table.keys and not any(measurement(c, kinds[c]) for c in k)]
        review = {k[0] for k in reviewable if len(k) == 1}
        for c in table.columns:
            ident = names[c.name]
            while ident in seen:
                ident = f"{ident}_2"
            seen.add(ident)
            decl: dict[str, Any] = {"type": c.storage_type}
            if ident != c.name:
                decl["source"] = c.name
            if c.format:
                decl["format"] = c.format
            if c.storage_type == "datetime" and c.timezone_aware:
                decl["timezone"] = "UTC"
            if not c.nullable and table.rows:
                decl["required"] = True
            if c.categories is not None:
                decl["categories"] = c.categories
            if c.name in single_keys:
                decl["unique"] = True
            comments: list[str] = []
            if c.name in review:
                comments.append("candidate key: unique in this file, but no identifier name or values (review, then add unique: true)")
            if c.note:
                comments.append(c.note)
            if c.format and c.storage_type in ("date", "datetime"):
                pass  # the type and its format validate every value; semantic would re-check the text
            elif c.semantic and _full_column_valid(frames.get(table.name), c.name, c.semantic):
                decl["semantic"] = c.semantic
            elif c.semantic:
                comments.append(f"semantic: {c.semantic} (confidence {c.confidence:.2f}; not every value is valid)")
            fk = references.get((table.name, c.name))
            if fk is not None:
                ref_ident = _identifier(fk.ref_column)
                decl["references"] = f"{fk.ref_table}.{ref_ident}"
                comments.append(f"coverage {fk.coverage:.2%}")
            if c.minimum is not None:
                comments.append(f"observed min: {c.minimum}, max: {c.maximum}")
            if c.values is not None and c.categories is None:
                comments.append(f"allowed: {c.values}")
            if c.pii:
                comments.append("PII")
            comment = f"   # {'; '.join(comments)}" if comments else ""
            out.append(f"      {ident}: {_flow(decl)}{comment}")
        multi = [k for k in table.keys if len(k) > 1]
        if multi and not single_keys:
            out.append(f"    dedup: {_flow({'keys': [names[c] for c in multi[0]]})}   # identifier columns, unique together")
        elif not table.keys:
            weak = [k for k in reviewable if len(k) > 1]
            if weak:
                out.append(f"    # candidate dedup keys (unique together in this file; review): {weak[0]}")
    return "\n".join(out) + "\n"
