"""Pydantic models of a pipeline spec (one YAML file under ``pipelines/``).

Models forbid unknown keys: a misspelt option is an error, never silently ignored.
Cross-references between entries (a clean table's ``from``, an aggregate's columns, ...) are
checked in :mod:`etl_assets.lib.spec.references` so each problem can name its exact field.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from etl_assets.lib.spec.expressions import (
    IDENTIFIER_RE,
    Condition,
    Metric,
    parse_condition,
    parse_metric,
)

StorageFormat = Literal["parquet", "csv", "jsonl"]
SourceFormat = Literal["csv", "json", "jsonl", "parquet", "text"]
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


MetricText = Annotated[str, AfterValidator(_check_metric)]
ConditionText = Annotated[str, AfterValidator(_check_condition)]


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
    #: Quoted values may contain line breaks. Turning this off reads about 30% faster, but a
    #: quoted line break then splits a record: only for files known to have none.
    multiline_values: bool = True

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
    #: Flatten nested objects into ``parent.child`` columns.
    flatten: bool = True


class TextOptions(StrictModel):
    column: str = "line"
    strip: bool = True
    skip_blank: bool = True


class SourceSpec(StrictModel):
    format: SourceFormat
    #: File, glob or folder, relative to the data root. Partitioned sources put
    #: ``{partition}`` where the partition key goes, e.g. ``landing/flights/{partition}.csv``.
    path: str = Field(min_length=1)
    encoding: str = "utf-8"
    compression: Literal["infer", "none", "gzip", "zip"] = "infer"
    csv: CsvOptions | None = None
    json_options: JsonOptions | None = Field(default=None, alias="json")
    text: TextOptions | None = None
    partitioned: bool = False
    #: Start a run when a matching file lands or changes (landing-folder sensor).
    sensor: bool = False
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
        has_placeholder = "{partition}" in self.path
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
    format: str | None = Field(default=None, description="strftime format for date/datetime")
    timezone: str | None = None
    precision: int | None = Field(default=None, ge=1, le=38)
    scale: int | None = Field(default=None, ge=0, le=38)
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "yes", "y", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "no", "n", "0"])
    #: For category columns: the allowed categories, in order. Other values are rejected.
    categories: list[str] | None = None

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

    @property
    def null_policy(self) -> Literal["keep", "reject", "drop", "default"]:
        if self.nulls == "keep" and self.required:
            return "reject"
        if self.nulls == "keep" and self.default is not None:
            return "default"
        return self.nulls


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
    #: Accepted mappings per source: ``{source: {source column: declared column}}``; merged in
    #: from the sidecar file ``mappings/<spec file stem>.yaml`` by the loader.
    accepted: dict[str, dict[str, str]] = Field(default_factory=dict)


class CleanSpec(StrictModel):
    source: str = Field(alias="from")
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    #: Keep input columns that are not declared (as they come) instead of dropping them.
    keep_undeclared: bool = False
    dedup: DedupSpec | None = None
    storage: StorageFormat | None = None
    description: str | None = None
    #: Further sources with the same records under other column names, appended to ``from``
    #: after their columns are mapped to the declared ones (needs ``mapping``).
    also_from: list[str] = Field(default_factory=list)
    mapping: MappingSpec | None = None

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


# --------------------------------------------------------------------------- pipeline


class PartitionsSpec(StrictModel):
    type: PartitionGranularity = "daily"
    start: dt.date
    #: Exclusive end; omitted means "up to the current time".
    end: dt.date | None = None
    timezone: str = "UTC"

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


class PipelineSpec(StrictModel):
    pipeline: str
    description: str | None = None
    storage: StorageDefaults = Field(default_factory=StorageDefaults)
    partitions: PartitionsSpec | None = None
    schedule: ScheduleSpec | None = None
    sources: dict[str, SourceSpec] = Field(min_length=1)
    clean: dict[str, CleanSpec] = Field(default_factory=dict)
    aggregates: dict[str, AggregateSpec] = Field(default_factory=dict)

    @field_validator("pipeline")
    @classmethod
    def _pipeline_name(cls, value: str) -> str:
        return _check_identifier(value)

    @field_validator("sources", "clean", "aggregates")
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
