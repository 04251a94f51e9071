"""Pydantic models of a pipeline spec (one YAML file under ``pipelines/``).

Models forbid unknown keys: a misspelt option is an error, never silently ignored.
Cross-references between entries (a clean table's ``from``, an aggregate's columns, ...) are
checked in :mod:`etl_assets.lib.spec.references` so each problem can name its exact field.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from etl_assets.lib.spec.expressions import (
    IDENTIFIER_RE,
    Condition,
    Metric,
    Rule,
    parse_condition,
    parse_metric,
    parse_rule,
)

StorageFormat = Literal["parquet", "csv", "jsonl", "postgres"]
SourceFormat = Literal["csv", "json", "jsonl", "parquet", "text", "http", "postgres"]
#: Formats read from files (a ``path``); the others name their own location.
FILE_FORMATS = ("csv", "json", "jsonl", "parquet", "text")
FILE_SOURCE_FORMATS = FILE_FORMATS
ColumnType = Literal["int", "float", "decimal", "bool", "string", "category", "date", "datetime"]
PartitionGranularity = Literal["hourly", "daily", "weekly", "monthly"]
WindowUnit = Literal["hour", "day", "week", "month"]

#: The column every partitioned frame carries: the partition key its row belongs to.
#: IO managers split on it to write one file per partition in a single-run backfill.
PARTITION_COLUMN = "_partition"


def _check_identifier(value: str) -> str:
    if not IDENTIFIER_RE.match(value):
        raise ValueError(
            f"expected an identifier (letters, digits and _, not starting with a digit), got {value!r}"
        )
    return value


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}; expected an IANA name such as 'UTC' or 'America/New_York'") from None
    return value


def _check_metric(value: str) -> str:
    parse_metric(value)
    return value


def _check_condition(value: str) -> str:
    parse_condition(value)
    return value


def _check_rule(value: str) -> str:
    parse_rule(value)
    return value


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> dt.timedelta:
    """``"36h"``, ``"2d"``, ``"90m"``, ``"1w"``, ``"30s"`` -> timedelta."""
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(f"expected a duration such as '36h', '2d', '90m', '1w' or '30s', got {value!r}")
    return dt.timedelta(**{_DURATION_UNITS[match.group(2)]: float(match.group(1))})


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


MetricText = Annotated[str, AfterValidator(_check_metric)]
ConditionText = Annotated[str, AfterValidator(_check_condition)]
RuleText = Annotated[str, AfterValidator(_check_rule)]
DurationText = Annotated[str, AfterValidator(_check_duration)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- sources


class CsvOptions(StrictModel):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    header: bool = True
    #: Column names when ``header: false`` (required then), in file order.
    column_names: list[str] | None = None
    #: Physical lines to skip before the header (or the first record without a header).
    skip_rows: int = Field(default=0, ge=0)
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", "NULL", "null", "NaN"])
    #: ``reject``: a row with the wrong number of fields is kept with its raw text in
    #: ``_parse_error`` and lands in the rejected table; ``error``: the read fails, naming the row.
    on_bad_lines: Literal["reject", "error"] = "reject"
    #: Quoted values may contain line breaks. ``false``: a quoted field that runs past the end
    #: of its line is a broken record (its line is rejected, reading resumes at the next line).
    #: Files without quoted line breaks read equally fast either way.
    multiline_values: bool = True
    #: Lines one quoted field may span. A quoted field that spans more (almost always an
    #: unclosed quote), never closes before the end of the file, or spans lines and closes
    #: with its quote followed by something other than a delimiter or line end, is a broken
    #: record: the lines from its start to the line of that quote are rejected whole (raw
    #: text, line number, reason) and reading resumes at the next line.
    max_record_lines: int = Field(default=1000, ge=1)
    #: Largest field, in bytes (default 64 MiB). Fields up to this size are read whole; a
    #: record with a larger field is rejected with its record number (a larger quoted field
    #: is a broken record, as above). Records over 1 GiB are rejected whatever this says.
    max_field_bytes: int = Field(default=64 << 20, ge=1, le=1 << 30)

    @field_validator("column_names")
    @classmethod
    def _unique_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if any(not name.strip() for name in value):
            raise ValueError("column_names must not contain empty names")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"column_names repeats {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvOptions:
        if not self.header and not self.column_names:
            raise ValueError("column_names is required when header is false")
        return self


class JsonOptions(StrictModel):
    #: Dotted path to the list of records inside a JSON document, e.g. ``data.items``.
    record_path: str | None = None
    #: Flatten nested objects into ``parent.child`` columns (lists, and objects when off, are
    #: kept as their JSON text).
    flatten: bool = True
    #: A record that cannot be read: a JSON Lines line that is not valid JSON (truncated,
    #: invalid UTF-8, several objects on one line) or not an object, a list element that is not
    #: an object. ``reject``: it is kept as a row with null data columns and the reason in
    #: ``_parse_error``, and the clean step sends it to the rejected table; ``error``: the read
    #: fails, naming the file and the line or record.
    on_bad_records: Literal["reject", "error"] = "reject"
    #: An object that repeats a key (``{"id": 1, "id": 2}``, at any depth), which JSON parsers
    #: would otherwise resolve by silently keeping the last value. ``reject``: the record is
    #: rejected as above, the reason naming the key and every value; ``error``: the read
    #: fails, naming the file, the line or record and the key.
    on_duplicate_keys: Literal["reject", "error"] = "reject"


class TextOptions(StrictModel):
    column: str = "line"
    strip: bool = True
    skip_blank: bool = True


def _check_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def _check_no_literal_secrets(value: dict[str, str]) -> dict[str, str]:
    secret = [name for name in value if name.lower() in ("authorization", "x-api-key", "cookie")]
    if secret:
        raise ValueError(f"header(s) {secret} carry secrets: use auth: {{token_env: VAR}} instead of a literal")
    return value


class HttpPaginationSpec(StrictModel):
    """How an API splits its records over pages; see ``etl_assets.lib.sources.http.pagination``."""

    #: ``none``: one request. ``page``: ``page_param`` = 1, 2, ...; ``offset``: ``offset_param``
    #: advances by the records received; both stop at an empty page, or at a short one once an
    #: earlier page came back at the full ``size`` (servers may cap the page size). ``cursor``: the token at ``cursor_path`` in each reply is sent as ``cursor_param``
    #: until it is missing or empty. ``link``: follow the ``Link: <...>; rel="next"`` header.
    type: Literal["none", "page", "offset", "cursor", "link"] = "none"
    page_param: str = "page"
    start_page: int = Field(default=1, ge=0)
    offset_param: str = "offset"
    size_param: str | None = None
    size: int | None = Field(default=None, ge=1)
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    #: A safety stop: more pages than this is an error, not an endless loop.
    max_pages: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> HttpPaginationSpec:
        if self.type == "cursor" and not self.cursor_path:
            raise ValueError("cursor pagination needs cursor_path (where the next token is in a reply)")
        if (self.size is None) != (self.size_param is None):
            raise ValueError("size and size_param go together")
        return self


class HttpAuthSpec(StrictModel):
    #: Name of the environment variable holding the token (read at run time, never in the spec).
    token_env: str = Field(min_length=1)
    header: str = "Authorization"
    #: Put before the token (``Bearer <token>``); null for a bare token (API-key headers).
    scheme: str | None = "Bearer"


class HttpRateLimitSpec(StrictModel):
    per_second: float = Field(gt=0)
    burst: int = Field(default=1, ge=1)


class HttpRetrySpec(StrictModel):
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=30.0, gt=0)


class HttpSourceOptions(StrictModel):
    """A JSON API read page by page (``format: http``)."""

    url: str = Field(min_length=1)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    #: Dotted path to the list of records in each reply (``data.items``); none: the reply is the list.
    record_path: str | None = None
    #: Nested objects become ``parent.child`` columns.
    flatten: bool = True
    pagination: HttpPaginationSpec = Field(default_factory=HttpPaginationSpec)
    auth: HttpAuthSpec | None = None
    rate_limit: HttpRateLimitSpec | None = None
    retry: HttpRetrySpec | None = None

    _url = field_validator("url")(_check_http_url)
    _headers = field_validator("headers")(_check_no_literal_secrets)

    def mentions_partition(self) -> bool:
        return "{partition}" in self.url or any("{partition}" in str(v) for v in self.params.values())


class PostgresSourceOptions(StrictModel):
    """A PostgreSQL table or parameterized query, read through the ``postgres`` resource."""

    #: ``table`` or ``schema.table`` (validated identifiers).
    table: str | None = None
    #: A SELECT with ``%(name)s`` placeholders; values come from ``params``, never pasted in.
    query: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    #: Incremental loading: only rows whose cursor column is greater than the high-water mark
    #: of the last materialization (kept in its metadata) are read.
    cursor_column: str | None = None
    #: Rows fetched per round trip from the server-side cursor (bounds client memory).
    chunk_rows: int = Field(default=50_000, ge=1, le=10_000_000)
    #: Row identity; required with ``cursor_column``: increments accumulate by it (upsert with
    #: ``storage: postgres``, load-append-deduplicate with file storage).
    primary_key: list[str] | None = None

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = value.split(".")
        if len(parts) > 2:
            raise ValueError(f"expected 'table' or 'schema.table', got {value!r}")
        for part in parts:
            _check_identifier(part)
        return value

    @field_validator("cursor_column")
    @classmethod
    def _cursor_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_identifier(value)

    @field_validator("primary_key")
    @classmethod
    def _key_names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            _check_identifier(name)
        return value

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSourceOptions:
        if (self.table is None) == (self.query is None):
            raise ValueError("a postgres source needs exactly one of 'table' or 'query'")
        if self.params and self.query is None:
            raise ValueError("'params' only apply to a 'query'")
        if self.cursor_column is not None and not self.primary_key:
            raise ValueError(
                f"cursor_column {self.cursor_column!r} needs 'primary_key': incremental runs "
                "re-read the rows at the high-water mark and accumulate by that key"
            )
        return self


class SourceSpec(StrictModel):
    format: SourceFormat
    #: File, glob or folder, relative to the data root. Partitioned sources put
    #: ``{partition}`` where the partition key goes, e.g. ``landing/flights/{partition}.csv``.
    path: str | None = Field(default=None, min_length=1)
    encoding: str = "utf-8"
    compression: Literal["infer", "none", "gzip", "zip"] = "infer"
    csv: CsvOptions | None = None
    json_options: JsonOptions | None = Field(default=None, alias="json")
    text: TextOptions | None = None
    http: HttpSourceOptions | None = None
    postgres: PostgresSourceOptions | None = None
    partitioned: bool = False
    #: Start a run when a matching file lands or changes (landing-folder sensor); partitions
    #: already built from the same file content are skipped.
    sensor: bool = False
    #: Seconds between two looks at the landing folder (the sensor's minimum interval).
    sensor_interval_seconds: int = Field(default=30, ge=1)
    storage: StorageFormat | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _options_match_format(self) -> SourceSpec:
        if self.csv is not None and self.format != "csv":
            raise ValueError(f"'csv' options are only valid for format csv, not {self.format}")
        if self.json_options is not None and self.format not in ("json", "jsonl"):
            raise ValueError(f"'json' options are only valid for format json/jsonl, not {self.format}")
        if self.text is not None and self.format != "text":
            raise ValueError(f"'text' options are only valid for format text, not {self.format}")
        if self.http is not None and self.format != "http":
            raise ValueError(f"'http' options are only valid for format http, not {self.format}")
        if self.postgres is not None and self.format != "postgres":
            raise ValueError(f"'postgres' options are only valid for format postgres, not {self.format}")
        if self.format == "http":
            if self.http is None:
                raise ValueError("an http source needs 'http' options (at least url)")
            if self.path is not None:
                raise ValueError("an http source is located by http.url, not 'path'")
            if self.sensor:
                raise ValueError("sensor: true watches files; an http source runs on the schedule")
            if self.partitioned != self.http.mentions_partition():
                raise ValueError(
                    "a partitioned http source needs '{partition}' in http.url or a param, and only then"
                )
            return self
        if self.format == "postgres":
            if self.postgres is None:
                raise ValueError("a postgres source needs a 'postgres' block (table or query)")
            if self.path is not None:
                raise ValueError("a postgres source reads a table or query, not a 'path'")
            if self.partitioned or self.sensor:
                raise ValueError("a postgres source cannot be partitioned or have a file sensor")
            return self
        if self.format in FILE_FORMATS and self.path is None:
            raise ValueError(f"a {self.format} source needs 'path'")
        has_placeholder = self.path is not None and "{partition}" in self.path
        if self.partitioned and not has_placeholder:
            raise ValueError("a partitioned source needs '{partition}' in its path")
        if has_placeholder and not self.partitioned:
            raise ValueError("path contains '{partition}' but the source is not partitioned (set partitioned: true)")
        return self

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @property
    def csv_options(self) -> CsvOptions:
        return self.csv or CsvOptions()

    @property
    def json_opts(self) -> JsonOptions:
        return self.json_options or JsonOptions()

    @property
    def text_options(self) -> TextOptions:
        return self.text or TextOptions()


# --------------------------------------------------------------------------- cleaning


class ColumnSpec(StrictModel):
    type: ColumnType
    #: Name of the column in the input, when it differs (a rename).
    source: str | None = None
    description: str | None = None
    #: Null policy. ``keep``: nulls allowed; ``reject``: the row goes to the rejected table;
    #: ``drop``: the row is removed on purpose (kept in the rejected table as ``dropped``);
    #: ``default``: nulls are replaced by ``default``.
    nulls: Literal["keep", "reject", "drop", "default"] = "keep"
    #: Shorthand for ``nulls: reject``.
    required: bool = False
    default: Any = None
    # string handling (string and category columns)
    trim: bool = True
    case: Literal["lower", "upper", "title"] | None = None
    collapse_whitespace: bool = False
    unicode_form: Literal["NFC", "NFKC"] | None = None
    # parsing
    format: str | None = Field(
        default=None,
        description="strftime format for date/datetime, or epoch_s / epoch_ms / epoch_us for Unix epoch numbers",
    )
    timezone: str | None = None
    precision: int | None = Field(default=None, ge=1, le=38)
    scale: int | None = Field(default=None, ge=0, le=38)
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "yes", "y", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "no", "n", "0"])
    #: For category columns: the allowed categories, in order. Other values are rejected.
    #: Without them the categories are the sorted values seen; a partitioned file stores only
    #: the sorted categories its rows use (README "Partitions and runs").
    categories: list[str] | None = None
    # quality rules: asserted by the blocking ``schema`` check on the clean table (rows are not
    # rejected for them); see etl_assets.lib.quality.schema
    #: No two rows share a value (nulls ignored).
    unique: bool = False
    #: Inclusive bounds: numbers for numeric columns, ISO dates/datetimes for date/datetime columns.
    min: Any = None
    max: Any = None
    #: The only values allowed (nulls are judged by the null policy).
    allowed: list[Any] | None = Field(default=None, min_length=1)
    #: Regular expression every value must match in full (string and category columns).
    pattern: str | None = None
    #: A semantic type from etl_assets.lib.quality.semantic.SEMANTIC_TYPES (email, phone, ...).
    semantic: str | None = None
    #: ``<clean table>.<column>`` of the same pipeline that every non-null value must exist in
    #: (foreign key; orphans are reported by the ``references`` check and the consistency score).
    references: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.required and self.nulls not in ("keep", "reject"):
            raise ValueError(f"required: true conflicts with nulls: {self.nulls}")
        if self.nulls == "default" and self.default is None:
            raise ValueError("nulls: default needs a 'default' value")
        if self.default is not None and self.nulls not in ("default", "keep"):
            raise ValueError(f"'default' is only used with nulls: default (got nulls: {self.nulls})")
        if self.type == "decimal":
            if self.precision is None or self.scale is None:
                raise ValueError("a decimal column needs precision and scale")
            if self.scale > self.precision:
                raise ValueError("scale must not exceed precision")
        elif self.precision is not None or self.scale is not None:
            raise ValueError("precision/scale only apply to decimal columns")
        if self.timezone is not None and self.type != "datetime":
            raise ValueError("timezone only applies to datetime columns")
        if self.format is not None and self.type not in ("date", "datetime"):
            raise ValueError("format only applies to date and datetime columns")
        if self.categories is not None and self.type != "category":
            raise ValueError("categories only apply to category columns")
        return self

    @model_validator(mode="after")
    def _quality_rules(self) -> ColumnSpec:
        bounds = {"min": self.min, "max": self.max}
        parsed: dict[str, Any] = {}
        for key, value in bounds.items():
            if value is None:
                continue
            if self.type in ("int", "float", "decimal"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} of a {self.type} column must be a number, got {value!r}")
                parsed[key] = value
            elif self.type in ("date", "datetime"):
                try:
                    parsed[key] = _as_timestamp(value)
                except ValueError:
                    raise ValueError(f"{key} of a {self.type} column must be an ISO date or datetime, got {value!r}") from None
            else:
                raise ValueError(f"{key} only applies to int, float, decimal, date and datetime columns (this column is {self.type})")
        if len(parsed) == 2 and parsed["min"] > parsed["max"]:
            raise ValueError(f"min ({self.min!r}) is greater than max ({self.max!r})")
        if self.pattern is not None:
            if self.type not in ("string", "category"):
                raise ValueError(f"pattern only applies to string and category columns (this column is {self.type})")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regular expression: {exc}") from None
        if self.semantic is not None:
            from etl_assets.lib.quality.semantic import SEMANTIC_TYPES

            if self.semantic not in SEMANTIC_TYPES:
                raise ValueError(f"unknown semantic type {self.semantic!r}; expected one of: {', '.join(sorted(SEMANTIC_TYPES))}")
        if self.references is not None:
            parts = self.references.split(".")
            if len(parts) != 2 or not all(IDENTIFIER_RE.match(p) for p in parts):
                raise ValueError(f"references must be '<clean table>.<column>', got {self.references!r}")
        return self

    @property
    def reference(self) -> tuple[str, str] | None:
        """``(table, column)`` of ``references``, or None."""
        if self.references is None:
            return None
        table, column = self.references.split(".")
        return table, column

    @property
    def null_policy(self) -> Literal["keep", "reject", "drop", "default"]:
        if self.nulls == "keep" and self.required:
            return "reject"
        if self.nulls == "keep" and self.default is not None:
            return "default"
        return self.nulls


def _as_timestamp(value: Any) -> Any:
    """A date/datetime bound as a pandas Timestamp (ValueError when it is not one)."""
    import pandas as pd

    if isinstance(value, bool | int | float):
        raise ValueError(value)
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(value) from None


class QualitySpec(StrictModel):
    """Quality score threshold and timeliness of a clean table or aggregate."""

    #: The ``quality_score`` check fails below this overall score (0-100). The default, 80,
    #: flags a table that lost a fifth of one dimension (e.g. 80% of its cells null); set 0 to
    #: only record the score.
    min_score: float = Field(default=80.0, ge=0, le=100)
    #: Severity of a failed ``quality_score`` check; ``error`` also makes it blocking.
    severity: Literal["warn", "error"] = "warn"
    #: Date/datetime column whose newest value measures timeliness, with ``max_age``.
    freshness_column: str | None = None
    #: Age of the newest ``freshness_column`` value that still scores 100 for timeliness
    #: (``36h``, ``2d``); the score falls linearly to 0 at twice that. For a partitioned table
    #: the age is measured from the end of the partitions just built, else from now.
    max_age: DurationText | None = None
    #: Whether a failed ``schema`` check stops downstream assets (ERROR + blocking by default).
    schema_blocking: bool = True
    #: Severity of a failed ``references`` (foreign key) check; ``error`` also makes it blocking.
    references_severity: Literal["warn", "error"] = "warn"

    @model_validator(mode="after")
    def _freshness_pair(self) -> QualitySpec:
        if (self.freshness_column is None) != (self.max_age is None):
            raise ValueError("freshness_column and max_age go together (timeliness needs both)")
        return self

    @property
    def max_age_delta(self) -> dt.timedelta | None:
        return None if self.max_age is None else parse_duration(self.max_age)
FuzzyCompare = Literal[
    "exact", "name", "jaro_winkler", "levenshtein", "token_set", "email", "phone", "numeric", "date", "embedding"
]
MergeStrategyName = Literal["keep_first", "keep_last", "keep_best_quality", "field_wise"]


class FuzzyFieldSpec(StrictModel):
    """One compared field: a declared column, or several joined (``columns: [first, last]``)."""

    compare: FuzzyCompare
    #: Declared columns whose normalised values are joined with a space; default: the field's name.
    columns: list[str] | None = Field(default=None, min_length=1)
    #: ``false``: the field only proposes candidates (an embedding field's nearest neighbours)
    #: and adds no evidence to the match probability. Embeddings are a good candidate source but
    #: a poor score when another field already compares the same text (double-counted evidence).
    score: bool = True

    @field_validator("compare")
    @classmethod
    def _embedding_installed(cls, value: str) -> str:
        """``compare: embedding`` needs torch and the packaged model (the ``embeddings`` extra)."""
        if value == "embedding":
            from etl_assets.lib.extras import require_extra

            require_extra("embeddings", "compare: embedding")
        return value


class NeighbourhoodSpec(StrictModel):
    """Sorted neighbourhood: sort by these fields (normalised, joined), compare within a window."""

    fields: list[str] = Field(min_length=1)
    window: int = Field(default=5, ge=2, le=100)


class FuzzySpec(StrictModel):
    """Fuzzy deduplication: candidate generation, Fellegi-Sunter scoring, clustering, merge."""

    #: Field name -> comparator (shorthand ``email: exact``) or ``{compare:, columns:}``.
    fields: dict[str, FuzzyFieldSpec] = Field(min_length=1)
    #: Blocking rules: each a list of terms ``column`` or ``function(column)`` (soundex, metaphone,
    #: nysiis, sorted, digits, last4, firstN, year); records agreeing on all terms of one rule are compared.
    blocking: list[list[str]] = Field(default_factory=list)
    neighbourhood: list[NeighbourhoodSpec] = Field(default_factory=list)
    #: Top-k embedding neighbours per distinct value of each ``embedding`` field.
    embedding_neighbours: int = Field(default=10, ge=0, le=100)
    #: Match probability at or above which a pair is a duplicate.
    threshold: float = Field(default=0.9, gt=0.0, lt=1.0)
    #: A cluster of matched records stays whole only if every pair in it is at least this likely
    #: a match; otherwise it is split centre-first (no chaining through one resembling record).
    cluster_floor: float = Field(default=0.1, ge=0.0, lt=1.0)
    merge: MergeStrategyName = "keep_first"
    #: CSV of labelled pairs (columns left, right, match) relative to the data root; fits the
    #: weights from them instead of by EM. left/right are ``id_column`` values (row positions
    #: without an id column).
    labels: str | None = None
    #: Column identifying a row in the duplicates table (``kept_id``); default: the row position.
    id_column: str | None = None
    #: A block larger than this is compared by sorted neighbourhood inside it, not all pairs.
    max_block_size: int = Field(default=200, ge=2)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``email: exact`` is short for ``email: {compare: exact}``."""
        if isinstance(value, dict):
            return {k: {"compare": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @property
    def field_specs(self) -> dict[str, FuzzyFieldSpec]:
        return dict(self.fields)

    @field_validator("blocking")
    @classmethod
    def _terms(cls, value: list[list[str]]) -> list[list[str]]:
        from etl_assets.lib.dedup.keys import parse_term

        for rule in value:
            if not rule:
                raise ValueError("a blocking rule needs at least one term")
            for term in rule:
                parse_term(term)
        return value


class DedupSpec(StrictModel):
    keys: list[str] = Field(default_factory=list)
    keep: Literal["first", "last"] = "first"
    #: Compare ``keys`` after normalisation (case, accents, unicode form, punctuation, spacing).
    normalize: bool = False
    fuzzy: FuzzySpec | None = None

    @model_validator(mode="after")
    def _something_to_compare(self) -> DedupSpec:
        if not self.keys and self.fuzzy is None:
            raise ValueError("dedup needs 'keys' (exact) or 'fuzzy' (or both)")
        return self

    @property
    def records_duplicates(self) -> bool:
        """Whether removed rows go to a duplicates table (normalised or fuzzy dedup)."""
        return self.normalize or self.fuzzy is not None


class MappingSpec(StrictModel):
    """Map incoming columns to the declared ones when names differ (other systems, schema drift)."""

    #: Proposals at or above this confidence (0-1) apply automatically; below, the ``mapping``
    #: check fails listing them until one is accepted (``etl-assets mapping accept``).
    threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    #: Also compare column names by sentence embeddings (the embedding model resource).
    embeddings: bool = False

    @field_validator("embeddings")
    @classmethod
    def _embeddings_installed(cls, value: bool) -> bool:
        if value:
            from etl_assets.lib.extras import require_extra

            require_extra("embeddings", "mapping embeddings: true")
        return value
    #: Accepted mappings per source: ``{source: {source column: declared column}}``; merged in
    #: from the sidecar file ``mappings/<spec file stem>.yaml`` by the loader.
    accepted: dict[str, dict[str, str]] = Field(default_factory=dict)


class ZScoreSpec(StrictModel):
    """Robust z-score (median/MAD) per numeric column, optionally within groups."""

    columns: list[str] = Field(min_length=1)
    group_by: list[str] = Field(default_factory=list)
    #: A row is an anomaly when |robust z| exceeds this.
    threshold: float = Field(default=6.0, gt=0)
    #: Groups with fewer non-null values than this are judged against all rows.
    min_group_size: int = Field(default=30, ge=2)


class IsolationForestSpec(StrictModel):
    """IsolationForest over several numeric columns (scaled, fixed seed, fit on a sample of the
    rows sorted by value, so row order never changes the scores)."""

    columns: list[str] = Field(min_length=1)
    #: Omitted (default): the threshold is read from the score distribution (a row is tagged
    #: when its score, the forest's or with ``n_neighbors`` its blend with the neighbour density
    #: score, is more than z robust standard deviations, 1.4826 x MAD, above the median score of
    #: the n fit-sample rows; z is the normal quantile of upper tail 0.05 / n, at least 3: 3.3
    #: for 105 rows, 3.9 for 900), so the share tagged follows the data. A share of rows expected to be anomalies (0 < c <= 0.5) when you know
    #: your rate, or ``auto`` (the forest alone, score > 0.5, which flags far more rows on skewed
    #: data: 17% of flights).
    contamination: float | Literal["auto"] | None = None
    sample_size: int = Field(default=100_000, ge=256)
    n_estimators: int = Field(default=100, ge=1, le=1000)
    random_state: int = 0
    #: Neighbours of a k-NN density score blended with the forest's (10 is the tested choice;
    #: 0, the default: the forest alone). See README "Anomaly tags" for what each ranks better.
    n_neighbors: int = Field(default=0, ge=0, le=100)

    @field_validator("contamination")
    @classmethod
    def _contamination(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, float | int) and not 0 < value <= 0.5:
            raise ValueError(f"contamination must be 'auto' or a share in (0, 0.5], got {value!r}")
        return value


class AnomalyWindowSpec(StrictModel):
    """A fixed window of partitions, both ends included (partition keys, e.g. 2013-01-01)."""

    start: str
    end: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        # YAML reads 2013-01-01 as a date; partition keys are text
        return value.isoformat() if isinstance(value, dt.date) else value


class AnomalyReferenceSpec(StrictModel):
    """Score every partition against statistics fitted once on ``window`` and stored (versioned)."""

    window: AnomalyWindowSpec


class AnomalySpec(StrictModel):
    """Anomaly tagging of a clean table (adds _anomaly_score, _is_anomaly, _anomaly_reasons)."""

    #: One block, or a list of blocks with different group_by (e.g. delays per carrier and
    #: air time per route); a single block is read as a list of one.
    zscore: list[ZScoreSpec] = Field(default_factory=list)
    isolation_forest: IsolationForestSpec | None = None
    #: column -> semantic type (from the semantic-type catalogue); invalid values are anomalies.
    pattern_columns: dict[str, str] = Field(default_factory=dict)
    #: The anomaly_rate check fails when more than this share of rows is flagged.
    max_rate: float = Field(default=0.01, ge=0, le=1)
    severity: Literal["warn", "error"] = "warn"
    #: Stop downstream assets when the check fails (needs severity: error).
    blocking: bool = False
    #: How many of the top anomalies (with reasons) the check shows in its metadata.
    sample_rows: int = Field(default=10, ge=0, le=100)
    #: What rows are scored against. ``per_partition`` (default): each partition against its own
    #: rows (an unpartitioned table against itself), so a run's other partitions never change a
    #: partition's tags. ``{window: {start, end}}``: against a reference fitted once on those
    #: partitions, stored on the Dagster instance with a content-hashed version and reused.
    reference: Literal["per_partition"] | AnomalyReferenceSpec = "per_partition"

    @field_validator("zscore", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @property
    def zscore_blocks(self) -> list[ZScoreSpec]:
        return list(self.zscore)

    @model_validator(mode="after")
    def _one_method(self) -> AnomalySpec:
        if not self.zscore and self.isolation_forest is None and not self.pattern_columns:
            raise ValueError("anomalies needs at least one method: zscore, isolation_forest or pattern_columns")
        if self.blocking and self.severity != "error":
            raise ValueError("blocking: true needs severity: error (a WARN check never blocks)")
        return self


class SchemaDriftSpec(StrictModel):
    """The schema_drift check: compare with the previous materialization or a pinned schema."""

    enabled: bool = True
    #: A schema JSON file (as printed by ``etl-assets schema history --json``) to compare with
    #: instead of the previous materialization; relative paths are relative to the working directory.
    pinned: str | None = None


class CleanSpec(StrictModel):
    source: str = Field(alias="from")
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    #: Keep input columns that are not declared (as they come) instead of dropping them.
    keep_undeclared: bool = False
    dedup: DedupSpec | None = None
    storage: StorageFormat | None = None
    description: str | None = None
    #: Cross-field row rules, e.g. ``"arr_delay >= -120"`` or ``"sched_arr_time != sched_dep_time"``.
    rules: list[RuleText] = Field(default_factory=list)
    #: Quality score threshold and timeliness (checks run with defaults when omitted).
    quality: QualitySpec | None = None
    #: Anomaly tagging (``_anomaly_score``, ``_is_anomaly``, ``_anomaly_reasons``), never filtering.
    anomalies: AnomalySpec | None = None
    schema_drift: SchemaDriftSpec = Field(default_factory=SchemaDriftSpec)

    #: Further sources with the same records under other column names, appended to ``from``
    #: after their columns are mapped to the declared ones (needs ``mapping``).
    also_from: list[str] = Field(default_factory=list)
    mapping: MappingSpec | None = None

    @property
    def parsed_rules(self) -> list[Rule]:
        return [parse_rule(text) for text in self.rules]

    @model_validator(mode="after")
    def _also_from_needs_mapping(self) -> CleanSpec:
        if self.also_from and self.mapping is None:
            raise ValueError("also_from needs a 'mapping' block (its columns are mapped to the declared ones)")
        return self

    @property
    def all_sources(self) -> list[str]:
        return [self.source, *self.also_from]

    @field_validator("columns")
    @classmethod
    def _column_names(cls, value: dict[str, ColumnSpec]) -> dict[str, ColumnSpec]:
        for name in value:
            _check_identifier(name)
        return value


# --------------------------------------------------------------------------- aggregates


class JoinSpec(StrictModel):
    #: A clean table of the same pipeline.
    table: str
    #: Columns to join on; the same names on both sides.
    on: list[str] = Field(min_length=1)
    how: Literal["left", "inner"] = "left"
    #: Columns of the joined table to bring in (default: all but the join keys).
    columns: list[str] | None = None


class WindowSpec(StrictModel):
    column: str
    every: WindowUnit
    #: Rolling window over this many periods (each row of output covers the period and the
    #: N-1 before it); omitted for tumbling windows.
    rolling: int | None = Field(default=None, ge=2, le=366)
    #: Timezone in which periods are cut (a "day" in New York is not a day in UTC).
    #: Defaults to the column's own timezone (UTC for naive columns).
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class AggregateSpec(StrictModel):
    source: str = Field(alias="from")
    join: list[JoinSpec] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=list)
    window: WindowSpec | None = None
    metrics: dict[str, MetricText] = Field(min_length=1)
    having: list[ConditionText] = Field(default_factory=list)
    #: Keep the input's partitions (one output partition per input partition).
    partitioned: bool = False
    storage: StorageFormat | None = None
    description: str | None = None
    #: Quality score threshold and timeliness of the aggregate.
    quality: QualitySpec | None = None
    schema_drift: SchemaDriftSpec = Field(default_factory=SchemaDriftSpec)

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _check_identifier(name)
        return value

    @property
    def parsed_metrics(self) -> dict[str, Metric]:
        return {name: parse_metric(text) for name, text in self.metrics.items()}

    @property
    def parsed_having(self) -> list[Condition]:
        return [parse_condition(text) for text in self.having]


# --------------------------------------------------------------------------- exports


class HttpExportOptions(StrictModel):
    """Batched POSTs of a table's rows to an ingestion API; see ``etl_assets.lib.exports.http``."""

    url: str = Field(min_length=1)
    batch_size: int = Field(default=500, ge=1, le=100_000)
    #: Wrap each batch as ``{records_field: [...]}``; none: the body is the JSON array itself.
    records_field: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuthSpec | None = None
    rate_limit: HttpRateLimitSpec | None = None
    retry: HttpRetrySpec | None = None
    #: Replies meaning "this idempotency key was already applied" (counted as delivered).
    duplicate_statuses: list[int] = Field(default_factory=lambda: [409])

    _url = field_validator("url")(_check_http_url)
    _headers = field_validator("headers")(_check_no_literal_secrets)


class ExportSpec(StrictModel):
    """Send a clean table or an aggregate to another system: asset ``<pipeline>/export/<name>``."""

    #: ``clean.<table>`` or ``agg.<aggregate>``.
    source: str = Field(alias="from", pattern=r"^(clean|agg)\.[A-Za-z_][A-Za-z0-9_]*$")
    http: HttpExportOptions
    description: str | None = None

    @property
    def layer(self) -> str:
        return self.source.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.source.split(".", 1)[1]


# --------------------------------------------------------------------------- pipeline


class PartitionsSpec(StrictModel):
    type: PartitionGranularity = "daily"
    start: dt.date
    #: Exclusive end; omitted means "up to the current time".
    end: dt.date | None = None
    timezone: str = "UTC"
    #: A backfill (or a landing sensor's batch of files) runs at most this many partitions per
    #: run (Dagster's ``BackfillPolicy.multi_run``); omitted: the whole range in one run.
    max_partitions_per_run: int | None = Field(default=None, ge=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)

    @model_validator(mode="after")
    def _ordered(self) -> PartitionsSpec:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class ScheduleSpec(StrictModel):
    cron: str
    timezone: str = "UTC"
    #: Whether the schedule starts running as soon as the daemon sees it.
    enabled: bool = False

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"expected a cron expression such as '0 6 * * *', got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)


class StorageDefaults(StrictModel):
    default: StorageFormat = "parquet"


#: Executors a pipeline job can run its steps with.
EXECUTOR_TYPES = ("in_process", "multiprocess", "celery")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ExecutorSpec(StrictModel):
    """How the pipeline's job runs its steps (scheduled, sensor and UI-launched runs).

    ``in_process`` (the default): every step in the run's own process, one after the other;
    libraries are imported once per run. Best for small and medium pipelines, where a fresh
    process per step costs more than the step. ``multiprocess``: each step in its own process,
    at most ``max_concurrent`` at once (unset: one per CPU); for long steps that can run side by
    side. ``celery``: each step is a task on a Celery broker (Redis), run by ``dagster-celery
    worker`` processes on any number of machines; it needs a Dagster instance on PostgreSQL and
    tables and landing files on S3 (docs/deploy.md). A deployment can switch any way by run
    config, as for Dagster's default executor: ``execution: {config: {multiprocess:
    {max_concurrent: 4}}}``, ``{in_process: {}}`` or ``{celery: {broker: {env: NAME}}}``.
    """

    type: Literal["in_process", "multiprocess", "celery"] = "in_process"
    #: multiprocess only: how many step processes may run at once (unset: one per CPU).
    max_concurrent: int | None = Field(default=None, ge=1)
    #: celery only: the environment variable holding the broker URL (``redis://host:6379/0``),
    #: read at run time by the run and by every worker; the URL (it may hold a password) is never
    #: written to the spec, run config, logs or metadata. Results go back through the same Redis.
    broker_env: str = "ETL_ASSETS_CELERY_BROKER"
    #: celery only: the queue of steps that need the embedding model (fuzzy dedup with an
    #: ``embedding`` comparator, mapping with embeddings); start the workers that have the model
    #: with ``-q <queue>``. Unset: every step goes to the default queue ``dagster``.
    embedding_queue: str | None = None
    #: celery only: seconds after which a step whose worker died (machine lost, SIGKILL) is given
    #: to another worker. Must exceed the longest step: a step still running after it is started
    #: a second time (its output is the same, partitioned writes replace exactly their partition).
    redeliver_after_s: int = Field(default=3600, ge=5)

    @field_validator("type", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if value not in EXECUTOR_TYPES:
            raise ValueError(f"unknown executor {value!r}; expected one of {', '.join(EXECUTOR_TYPES)}")
        return value

    @field_validator("broker_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an environment variable name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _options_of_their_executor(self) -> ExecutorSpec:
        if self.max_concurrent is not None and self.type != "multiprocess":
            raise ValueError("max_concurrent applies to executor 'multiprocess' only")
        celery_only = {"broker_env", "embedding_queue", "redeliver_after_s"} & self.model_fields_set
        if celery_only and self.type != "celery":
            raise ValueError(f"{', '.join(sorted(celery_only))} applies to executor 'celery' only")
        return self


class PipelineSpec(StrictModel):
    pipeline: str
    description: str | None = None
    storage: StorageDefaults = Field(default_factory=StorageDefaults)
    partitions: PartitionsSpec | None = None
    schedule: ScheduleSpec | None = None
    #: ``in_process`` | ``multiprocess`` | ``celery``, or ``{type: multiprocess, max_concurrent: N}``,
    #: ``{type: celery, embedding_queue: embeddings}`` (see ExecutorSpec).
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    sources: dict[str, SourceSpec] = Field(min_length=1)
    clean: dict[str, CleanSpec] = Field(default_factory=dict)
    aggregates: dict[str, AggregateSpec] = Field(default_factory=dict)
    exports: dict[str, ExportSpec] = Field(default_factory=dict)

    @field_validator("pipeline")
    @classmethod
    def _pipeline_name(cls, value: str) -> str:
        return _check_identifier(value)

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_shorthand(cls, value: Any) -> Any:
        """``executor: multiprocess`` is short for ``executor: {type: multiprocess}``."""
        return {"type": value} if isinstance(value, str) else value

    @field_validator("sources", "clean", "aggregates", "exports")
    @classmethod
    def _entry_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _check_identifier(name)
        return value

    def storage_for(self, entry: SourceSpec | CleanSpec | AggregateSpec) -> StorageFormat:
        return entry.storage or self.storage.default

    def is_clean_partitioned(self, name: str) -> bool:
        source = self.sources.get(self.clean[name].source)
        return source is not None and source.partitioned

    def is_aggregate_partitioned(self, name: str) -> bool:
        return self.aggregates[name].partitioned
