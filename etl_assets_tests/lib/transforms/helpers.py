"""Shared helpers for the transform tests: raw frames as the CSV source delivers them, and specs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from etl_assets.lib.spec import AggregateSpec, CleanSpec
from etl_assets.lib.transforms import CleanResult, clean_table


def raw_frame(**columns: list[Any]) -> pd.DataFrame:
    """Text columns (pandas ``str``) plus ``_source_file`` / ``_source_row``, like a CSV source."""
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({k: pd.array(v, dtype="str") for k, v in columns.items()})
    frame["_source_file"] = pd.array(["in.csv"] * n, dtype="str")
    frame["_source_row"] = np.arange(1, n + 1, dtype="int64")
    return frame


def clean_spec(columns: dict[str, Any], **extra: Any) -> CleanSpec:
    return CleanSpec.model_validate({"from": "src", "columns": columns, **extra})


def agg_spec(**fields: Any) -> AggregateSpec:
    return AggregateSpec.model_validate({"from": "t", **fields})


def clean_one(values: list[Any] | pd.Series, **column: Any) -> CleanResult:
    """Clean a single column ``x`` (text unless a Series of another dtype is given)."""
    if isinstance(values, pd.Series):
        frame = pd.DataFrame({"x": values.reset_index(drop=True)})
        frame["_source_row"] = np.arange(1, len(frame) + 1, dtype="int64")
    else:
        frame = raw_frame(x=values)
    result = clean_table(frame, clean_spec({"x": column}), table="t")
    assert result.stats.conserved(), result.stats
    return result
