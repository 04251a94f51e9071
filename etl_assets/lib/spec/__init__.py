"""Pipeline specs: Pydantic models of the YAML and a loader whose errors name file, line and field."""

from etl_assets.lib.spec.errors import SpecError, SpecIssue
from etl_assets.lib.spec.expressions import Condition, Metric, parse_condition, parse_metric
from etl_assets.lib.spec.loader import load_spec, load_specs, parse_spec, spec_files
from etl_assets.lib.spec.models import (
    PARTITION_COLUMN,
    AggregateSpec,
    CleanSpec,
    ColumnSpec,
    CsvOptions,
    DedupSpec,
    JoinSpec,
    JsonOptions,
    PartitionsSpec,
    PipelineSpec,
    PostgresSourceOptions,
    ScheduleSpec,
    SourceSpec,
    TextOptions,
    WindowSpec,
)

__all__ = [
    "PARTITION_COLUMN",
    "AggregateSpec",
    "CleanSpec",
    "ColumnSpec",
    "Condition",
    "CsvOptions",
    "DedupSpec",
    "JoinSpec",
    "JsonOptions",
    "Metric",
    "PartitionsSpec",
    "PipelineSpec",
    "PostgresSourceOptions",
    "ScheduleSpec",
    "SourceSpec",
    "SpecError",
    "SpecIssue",
    "TextOptions",
    "WindowSpec",
    "load_spec",
    "load_specs",
    "parse_condition",
    "parse_metric",
    "parse_spec",
    "spec_files",
]
