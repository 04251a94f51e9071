"""A fitted, stored anomaly reference: the statistics rows are scored against.

By default each partition is its own reference (:mod:`etl_assets.lib.quality.anomaly_partitions`).
A reference fitted once on a declared set of rows (e.g. the partitions of January) makes every
later partition comparable with that baseline, and makes the tags of any partition a function of
its own rows plus the reference, whatever run builds it.

What is fitted, per method:

- robust z: per z-score block and column, the median, MAD, mean absolute deviation and count of
  the whole reference and of each group (``group_by``); a row's group not in the reference, or
  with fewer than ``min_group_size`` values there, is judged against the whole reference;
- IsolationForest: the fit sample itself (the reference rows sorted by value, then a seeded
  sample of at most ``sample_size`` rows), from which the scaler and the seeded forest are
  refitted when scoring; the forest is a deterministic function of sample and seed, so the
  sample is what must be kept;
- patterns need no reference.

The fit is independent of row order (rows are sorted by value first), so the same rows give
the same reference, bit for bit. :meth:`AnomalyReference.document` is plain JSON (floats as
``repr`` round-trips them exactly; the forest sample as base64 of compressed float64 bytes);
``version`` is the first 16 hex digits of its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl_assets.lib.quality.anomaly import AnomalyConfig, IsolationForestConfig, ZScoreConfig
from etl_assets.lib.quality.isolation import (
    FittedForest,
    ForestScores,
    fit_forest,
    fit_sample,
    forest_matrix,
    scores_with,
)
from etl_assets.lib.quality.robust_z import as_float, z_against

REFERENCE_FORMAT = "etl_assets.anomaly-reference/1"
_NULL_KEY = "\x00null"
_KEY_SEPARATOR = "\x1f"

#: median, MAD, mean absolute deviation, non-null count
Stats = tuple[float, float, float, int]


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _stats(values: np.ndarray) -> Stats:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return (np.nan, np.nan, np.nan, 0)
    center = float(np.median(finite))
    dev = np.abs(finite - center)
    return (center, float(np.median(dev)), float(np.mean(dev)), int(finite.size))


def group_keys(frame: pd.DataFrame, group_by: tuple[str, ...] | list[str]) -> np.ndarray:
    """One string per row naming its group (the values of ``group_by``, nulls included)."""
    parts = [frame[g].astype("string").fillna(_NULL_KEY).to_numpy(dtype=object) for g in group_by]
    if len(parts) == 1:
        return parts[0]
    return np.array(
        [_KEY_SEPARATOR.join(values) for values in zip(*parts, strict=True)], dtype=object
    )


def _sorted_for_fit(frame: pd.DataFrame, config: AnomalyConfig) -> pd.DataFrame:
    """``frame`` in an order given by its values, so sums (mean deviations) and the forest sample
    do not depend on the order the rows came in."""
    columns = config.referenced_columns()
    if not columns or frame.empty:
        return frame
    sort_keys: list[np.ndarray] = []
    for column in reversed(columns):  # np.lexsort: the last key is the primary one
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            sort_keys.append(as_float(series))
        else:
            text = series.astype("string").fillna(_NULL_KEY).to_numpy(dtype=object)
            sort_keys.append(np.unique(text, return_inverse=True)[1])
    return frame.iloc[np.lexsort(sort_keys)]


def _group_stats(values: np.ndarray, keys: np.ndarray) -> dict[str, list[Any]]:
    """Median, MAD, mean absolute deviation and count of ``values`` per key."""
    series = pd.Series(values)
    grouped = series.groupby(keys, sort=True)
    center = grouped.median()
    dev = (series - center.reindex(keys).to_numpy()).abs()
    mad = dev.groupby(keys, sort=True).median()
    mean_ad = dev.groupby(keys, sort=True).mean()
    count = grouped.count()
    return {
        str(key): [_num(center[key]), _num(mad[key]), _num(mean_ad[key]), int(count[key])]
        for key in center.index
    }


def _encode(matrix: np.ndarray) -> dict[str, Any]:
    data = np.ascontiguousarray(matrix, dtype="<f8").tobytes()
    return {
        "shape": list(matrix.shape),
        "float64_zlib_base64": base64.b64encode(zlib.compress(data, 9)).decode("ascii"),
    }


def _decode(encoded: dict[str, Any]) -> np.ndarray:
    data = zlib.decompress(base64.b64decode(encoded["float64_zlib_base64"]))
    return np.frombuffer(data, dtype="<f8").reshape(encoded["shape"]).copy()


@dataclass(frozen=True)
class AnomalyReference:
    """Fitted statistics of a reference set of rows; see the module docstring."""

    #: JSON-ready document (what is stored); everything else is derived from it.
    document: dict[str, Any]
    _forest_cache: dict[tuple[int, int, int | None, int], FittedForest | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def version(self) -> str:
        canonical = json.dumps(
            self.document, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @property
    def rows(self) -> int:
        return int(self.document["rows"])

    def to_json(self) -> str:
        return json.dumps(self.document, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> AnomalyReference:
        document = json.loads(text)
        if document.get("format") != REFERENCE_FORMAT:
            raise ValueError(
                f"not an anomaly reference of format {REFERENCE_FORMAT!r}: format is {document.get('format')!r}"
            )
        return cls(document=document)

    # --------------------------------------------------------------- scoring against it

    def _global(self, column: str) -> Stats:
        center, mad, mean_ad, count = self.document["global"][column]
        return (
            np.nan if center is None else center,
            np.nan if mad is None else mad,
            np.nan if mean_ad is None else mean_ad,
            count,
        )

    def global_z(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """Robust z of ``column`` against the whole reference."""
        center, mad, mean_ad, _ = self._global(column)
        values = as_float(frame[column])
        n = values.shape[0]
        return z_against(values, np.full(n, center), np.full(n, mad), np.full(n, mean_ad))

    def z_scores(self, frame: pd.DataFrame, index: int, config: ZScoreConfig) -> pd.DataFrame:
        """Robust z of each column of z-score block ``index`` against the reference's groups."""
        block = self.document["zscore"][index]
        if block["columns"] != list(config.columns) or block["group_by"] != list(config.group_by):
            raise ValueError(
                f"anomaly reference {self.version}: z-score block {index} was fitted for columns {block['columns']} "
                f"by {block['group_by']}, not {list(config.columns)} by {list(config.group_by)}"
            )
        out: dict[str, np.ndarray] = {}
        keys = group_keys(frame, config.group_by) if config.group_by else None
        for column in config.columns:
            values = as_float(frame[column])
            center, mad, mean_ad, _ = self._global(column)
            n = values.shape[0]
            centers, mads, mean_ads = np.full(n, center), np.full(n, mad), np.full(n, mean_ad)
            if keys is not None:
                usable = {
                    k: v
                    for k, v in block["groups"][column].items()
                    if v[3] >= config.min_group_size
                }
                table = np.array(
                    [[np.nan if x is None else x for x in v[:3]] for v in usable.values()],
                    dtype="float64",
                ).reshape(-1, 3)
                codes = pd.Index(list(usable), dtype=object).get_indexer(keys)
                hit = codes >= 0
                centers[hit], mads[hit], mean_ads[hit] = (
                    table[codes[hit], 0],
                    table[codes[hit], 1],
                    table[codes[hit], 2],
                )
            out[column] = z_against(values, centers, mads, mean_ads)
        return pd.DataFrame(out, index=frame.index)

    def forest_scores(self, frame: pd.DataFrame, config: IsolationForestConfig) -> ForestScores:
        stored = self.document.get("isolation_forest")
        if stored is None or stored["columns"] != list(config.columns):
            raise ValueError(
                f"anomaly reference {self.version} holds no IsolationForest sample for columns {list(config.columns)}"
            )
        matrix = forest_matrix(frame, config.columns)
        # fitted once per settings and reused for every partition scored against this reference
        key = (config.n_estimators, config.random_state, config.n_jobs, config.n_neighbors)
        if key not in self._forest_cache:
            self._forest_cache[key] = fit_forest(
                _decode(stored["sample"]),
                n_estimators=config.n_estimators,
                random_state=config.random_state,
                n_jobs=config.n_jobs,
                n_neighbors=config.n_neighbors,
            )
        forest: FittedForest | None = self._forest_cache[key]
        if forest is None or matrix.shape[0] == 0:
            return ForestScores(score=np.zeros(matrix.shape[0]), threshold=1.0)
        return scores_with(forest, matrix, contamination=config.contamination)


def fit_reference(
    frame: pd.DataFrame, config: AnomalyConfig, *, about: dict[str, Any] | None = None
) -> AnomalyReference:
    """Fit the reference of ``config`` on the rows of ``frame`` (order does not matter).

    ``about`` (e.g. the declared window) is stored in the document, so it is part of the version.
    """
    missing = [c for c in config.referenced_columns() if c not in frame.columns]
    if missing:
        raise KeyError(
            f"anomaly reference: columns {missing} are not in the reference rows; they have {list(frame.columns)}"
        )
    rows = _sorted_for_fit(frame, config)
    global_stats: dict[str, list[Any]] = {}
    blocks: list[dict[str, Any]] = []
    for z in config.zscore_configs:
        groups: dict[str, dict[str, list[Any]]] = {}
        keys = group_keys(rows, z.group_by) if z.group_by else None
        for column in z.columns:
            values = as_float(rows[column])
            center, mad, mean_ad, count = _stats(values)
            global_stats[column] = [_num(center), _num(mad), _num(mean_ad), count]
            if keys is not None:
                groups[column] = _group_stats(values, keys)
        blocks.append({"columns": list(z.columns), "group_by": list(z.group_by), "groups": groups})
    document: dict[str, Any] = {
        "format": REFERENCE_FORMAT,
        "rows": len(rows),
        "about": about or {},
        "zscore": blocks,
    }
    forest = config.isolation_forest
    if forest is not None:
        matrix = forest_matrix(rows, forest.columns)
        for column in forest.columns:
            global_stats.setdefault(
                column,
                [_num(v) if i < 3 else v for i, v in enumerate(_stats(as_float(rows[column])))],
            )
        sample = fit_sample(
            matrix, sample_size=forest.sample_size, random_state=forest.random_state
        )
        document["isolation_forest"] = {
            "columns": list(forest.columns),
            "sample_size": forest.sample_size,
            "random_state": forest.random_state,
            "sample": _encode(sample),
        }
    document["global"] = global_stats
    return AnomalyReference(document=document)
