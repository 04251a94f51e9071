"""Anomaly TAGGING (never filtering): three columns added to a table.

- ``_anomaly_score`` float 0-1: how unusual the row is; each method maps its own decision
  threshold to 0.5, and the row's score is the highest over the methods, so
  ``_is_anomaly == (_anomaly_score > 0.5)``.
- ``_is_anomaly`` bool: flagged by at least one method.
- ``_anomaly_reasons`` string (null when not flagged): every reason, ``; ``-separated, e.g.
  ``dep_delay: robust z 9.3 within carrier=UA``.

Methods, each optional:

- robust z-score (median/MAD) per numeric column, optionally within groups
  (:mod:`etl_assets.lib.quality.robust_z`);
- IsolationForest over several numeric columns, optionally (``n_neighbors``) blended with a k-nearest-neighbour
  density score (:mod:`etl_assets.lib.quality.isolation`, :mod:`etl_assets.lib.quality.neighbours`);
- pattern anomalies: a validator per column returns True where the value is a valid instance
  of the column's semantic type; non-null values where it returns False are anomalies.

Nulls are never anomalies and never make a method fail. Every row is kept.

What rows are scored against: by default the frame itself. A partitioned table is tagged
partition by partition (:mod:`etl_assets.lib.quality.anomaly_partitions`) so that no run's
composition changes a partition's tags; a stored reference fitted on chosen rows
(:mod:`etl_assets.lib.quality.anomaly_reference`) can be passed instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from etl_assets.lib.quality.isolation import calibrated, forest_scores
from etl_assets.lib.quality.robust_z import as_float, grouped_robust_z, robust_z

if TYPE_CHECKING:
    from etl_assets.lib.quality.anomaly_reference import AnomalyReference

SCORE_COLUMN = "_anomaly_score"
FLAG_COLUMN = "_is_anomaly"
REASONS_COLUMN = "_anomaly_reasons"
ANOMALY_COLUMNS = (SCORE_COLUMN, FLAG_COLUMN, REASONS_COLUMN)

Validator = Callable[[pd.Series], pd.Series]


@dataclass(frozen=True)
class ZScoreConfig:
    """Robust z-score per column; ``group_by`` judges each row against its own group."""

    columns: Sequence[str]
    group_by: Sequence[str] = ()
    threshold: float = 6.0
    min_group_size: int = 30


@dataclass(frozen=True)
class IsolationForestConfig:
    columns: Sequence[str]
    #: ``None`` (default): the threshold comes from the fit sample's score distribution, a
    #: robust z of the score above a cut that grows with the sample's size (3.3 for 105 rows,
    #: 3.9 for 900: where an all-ordinary normal sample would have any score above it with 5%
    #: probability; :func:`~etl_assets.lib.quality.isolation.default_score_z`), so the share
    #: tagged follows the data. A share in (0, 0.5]: flag that share of the fit
    #: sample (for users who know their rate). ``"auto"``: the forest alone and the paper's
    #: threshold, score > 0.5 (it tags 17% of flights, 35% of the tests' flights_with_anomalies).
    contamination: float | str | None = None
    sample_size: int = 100_000
    n_estimators: int = 100
    random_state: int = 0
    n_jobs: int | None = 1
    #: Neighbours of the density score blended with the forest's
    #: (:mod:`~etl_assets.lib.quality.neighbours`; ``DEFAULT_NEIGHBOURS`` is the tested choice);
    #: 0, the default: the forest alone. Opt-in because the blend ranks better (AUC) but, at the
    #: same cut, tagged fewer of the held-out sets' anomalies (benchmarks/eval_anomaly.py).
    n_neighbors: int = 0


@dataclass(frozen=True)
class PatternRule:
    """A validator (True where valid) and the name used in reasons, e.g. ``email``."""

    validator: Validator
    label: str = "pattern"
    #: Personally identifiable values (email, phone, ...): reasons show them masked (``****om``),
    #: as the schema check's failing-row sample does, since reasons reach the check's metadata.
    pii: bool = False


@dataclass(frozen=True)
class AnomalyConfig:
    #: One z-score config, or several (e.g. delays per carrier and air time per route).
    zscore: ZScoreConfig | Sequence[ZScoreConfig] | None = None
    isolation_forest: IsolationForestConfig | None = None
    #: column -> validator callable or :class:`PatternRule`.
    patterns: Mapping[str, Validator | PatternRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.zscore is None and self.isolation_forest is None and not self.patterns:
            raise ValueError("an anomaly config needs at least one method: zscore, isolation_forest or patterns")

    @property
    def zscore_configs(self) -> list[ZScoreConfig]:
        if self.zscore is None:
            return []
        return [self.zscore] if isinstance(self.zscore, ZScoreConfig) else list(self.zscore)

    def referenced_columns(self) -> list[str]:
        cols: list[str] = []
        for z in self.zscore_configs:
            cols += [*z.columns, *z.group_by]
        if self.isolation_forest is not None:
            cols += list(self.isolation_forest.columns)
        cols += list(self.patterns)
        return list(dict.fromkeys(cols))


@dataclass(frozen=True)
class AnomalyStats:
    rows: int
    anomalies: int
    #: Rows flagged by each method / column, e.g. ``{"zscore:dep_delay": 12, "isolation_forest": 30}``.
    by_rule: dict[str, int]

    @property
    def rate(self) -> float:
        return self.anomalies / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class AnomalyResult:
    frame: pd.DataFrame
    stats: AnomalyStats


class _Collector:
    """Per-row score (max over rules) and reasons, built only for flagged rows."""

    def __init__(self, rows: int):
        self.score = np.zeros(rows)
        self.flag = np.zeros(rows, dtype=bool)
        self.reasons: dict[int, list[str]] = {}
        self.by_rule: dict[str, int] = {}

    def add(self, rule: str, score: np.ndarray, flagged: np.ndarray, reason: Callable[[np.ndarray], list[str]]) -> None:
        score = np.nan_to_num(score, nan=0.0)
        np.maximum(self.score, score, out=self.score)
        positions = np.flatnonzero(flagged)
        self.by_rule[rule] = int(positions.size)
        if positions.size == 0:
            return
        self.flag[positions] = True
        for pos, text in zip(positions.tolist(), reason(positions), strict=True):
            self.reasons.setdefault(pos, []).append(text)


def _z_rules(frame: pd.DataFrame, config: ZScoreConfig, out: _Collector, z: pd.DataFrame | None = None) -> None:
    """Flag |z| > threshold per column; ``z`` given (against a stored reference) or computed on ``frame``."""
    keys = [frame[g] for g in config.group_by]
    if z is None:
        values = pd.DataFrame({c: as_float(frame[c]) for c in config.columns}, index=frame.index)
        if config.group_by:
            z = grouped_robust_z(values, keys, config.min_group_size)
        else:
            z = pd.DataFrame({c: robust_z(values[c].to_numpy()) for c in config.columns}, index=frame.index)
    for column in config.columns:
        magnitude = np.abs(z[column].to_numpy())
        flagged = np.nan_to_num(magnitude, nan=0.0) > config.threshold
        score = np.where(np.isnan(magnitude), 0.0, magnitude / (magnitude + config.threshold))
        score = np.where(np.isinf(magnitude), 1.0, score)

        def reason(positions: np.ndarray, column: str = column) -> list[str]:
            zs = z[column].to_numpy()[positions]
            shown = frame[column].iloc[positions].tolist()
            groups = [""] * len(positions)
            if keys:
                parts = [[f"{g}={v}" for v in frame[g].iloc[positions].tolist()] for g in config.group_by]
                groups = [" within " + ", ".join(p) for p in zip(*parts, strict=True)]
            return [f"{column}={v}: robust z {zv:.1f}{grp}" for v, zv, grp in zip(shown, zs, groups, strict=True)]

        rule = f"zscore:{column}" + (f" by {','.join(config.group_by)}" if config.group_by else "")
        out.add(rule, score, flagged, reason)


def _forest_rule(frame: pd.DataFrame, config: IsolationForestConfig, out: _Collector, reference: AnomalyReference | None = None) -> None:
    if reference is None:
        result = forest_scores(
            frame,
            config.columns,
            contamination=config.contamination,
            sample_size=config.sample_size,
            n_estimators=config.n_estimators,
            random_state=config.random_state,
            n_jobs=config.n_jobs,
            n_neighbors=config.n_neighbors,
        )
    else:
        result = reference.forest_scores(frame, config)
    flagged = result.score > result.threshold
    columns = list(config.columns)
    what = "isolation forest" + (f" + {result.neighbours}-NN density, robust z" if result.neighbours else "")

    def column_z(column: str) -> np.ndarray:
        return robust_z(as_float(frame[column])) if reference is None else reference.global_z(frame, column)

    def reason(positions: np.ndarray) -> list[str]:
        # name the column that stands out most (largest global robust z) so the reason is readable
        zs = np.column_stack([np.abs(column_z(c))[positions] for c in columns])
        zs = np.nan_to_num(zs, nan=0.0)
        top = zs.argmax(axis=1)
        return [
            f"{what} {s:.2f} (threshold {result.threshold:.2f}) over {', '.join(columns)}; most unusual {columns[t]} (robust z {zs[i, t]:.1f})"
            for i, (s, t) in enumerate(zip(result.score[positions], top, strict=True))
        ]

    out.add("isolation_forest", calibrated(result.score, result.threshold, result.spread), flagged, reason)


def _masked(value: object) -> str:
    """All but the last two characters hidden (PII in reasons)."""
    text = str(value)
    return repr("*" * max(len(text) - 2, 1) + text[-2:] if len(text) > 2 else "**")


def _pattern_rule(frame: pd.DataFrame, column: str, rule: Validator | PatternRule, out: _Collector) -> None:
    validator, label = (rule.validator, rule.label) if isinstance(rule, PatternRule) else (rule, getattr(rule, "__name__", "pattern"))
    shown = _masked if isinstance(rule, PatternRule) and rule.pii else repr
    values = frame[column]
    valid = validator(values)
    if not isinstance(valid, pd.Series) or len(valid) != len(values):
        raise TypeError(f"the validator for column {column!r} must return a boolean Series of the same length")
    valid_np = valid.astype("boolean").fillna(True).to_numpy(dtype=bool)
    flagged = values.notna().to_numpy(dtype=bool) & ~valid_np

    def reason(positions: np.ndarray) -> list[str]:
        return [f"{column}={shown(v)}: not a valid {label}" for v in values.iloc[positions].tolist()]

    out.add(f"pattern:{column}", flagged.astype(float), flagged, reason)


def tag_anomalies(frame: pd.DataFrame, config: AnomalyConfig, reference: AnomalyReference | None = None) -> AnomalyResult:
    """Return ``frame`` with the three anomaly columns (replaced if present) and counts.

    Without ``reference`` every statistic (medians, MADs, the forest) is fitted on ``frame``
    itself; with one (:func:`etl_assets.lib.quality.anomaly_reference.fit_reference`, fitted on
    other rows such as a window of partitions) rows are scored against it instead.
    """
    missing = [c for c in config.referenced_columns() if c not in frame.columns]
    if missing:
        raise KeyError(f"anomaly tagging: columns {missing} are not in the table; it has {list(frame.columns)}")
    out = _Collector(len(frame))
    for index, z_config in enumerate(config.zscore_configs):
        _z_rules(frame, z_config, out, None if reference is None else reference.z_scores(frame, index, z_config))
    if config.isolation_forest is not None:
        _forest_rule(frame, config.isolation_forest, out, reference)
    for column, rule in config.patterns.items():
        _pattern_rule(frame, column, rule, out)
    reasons = np.full(len(frame), None, dtype=object)
    for pos, texts in out.reasons.items():
        reasons[pos] = "; ".join(texts)
    tagged = frame.drop(columns=[c for c in ANOMALY_COLUMNS if c in frame.columns]).assign(
        **{
            SCORE_COLUMN: pd.Series(np.round(out.score, 4), index=frame.index, dtype="float64"),
            FLAG_COLUMN: pd.Series(out.flag, index=frame.index, dtype="bool"),
            REASONS_COLUMN: pd.Series(reasons, index=frame.index, dtype="string"),
        }
    )
    stats = AnomalyStats(rows=len(frame), anomalies=int(out.flag.sum()), by_rule=out.by_rule)
    return AnomalyResult(frame=tagged, stats=stats)


def top_anomalies(tagged: pd.DataFrame, n: int = 10, columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The ``n`` highest-scoring flagged rows as JSON-ready dicts (score, reasons, chosen columns)."""
    flagged = tagged[tagged[FLAG_COLUMN]]
    best = flagged.nlargest(n, SCORE_COLUMN)
    keep = [c for c in columns if c in best.columns]
    rows = []
    for record in best[[*keep, SCORE_COLUMN, REASONS_COLUMN]].to_dict(orient="records"):
        rows.append({k: _jsonable(v) for k, v in record.items()})
    return rows


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
