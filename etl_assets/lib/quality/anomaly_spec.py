"""Spec (``anomalies:`` block of a clean table) -> :class:`AnomalyConfig`."""

from __future__ import annotations

from etl_assets.lib.quality.anomaly import AnomalyConfig, IsolationForestConfig, ZScoreConfig
from etl_assets.lib.quality.patterns import semantic_rules
from etl_assets.lib.spec.models import AnomalySpec


def anomaly_config(spec: AnomalySpec) -> AnomalyConfig:
    zscore = [
        ZScoreConfig(
            columns=tuple(block.columns),
            group_by=tuple(block.group_by),
            threshold=block.threshold,
            min_group_size=block.min_group_size,
        )
        for block in spec.zscore_blocks
    ]
    forest = None
    if spec.isolation_forest is not None:
        forest = IsolationForestConfig(
            columns=tuple(spec.isolation_forest.columns),
            contamination=spec.isolation_forest.contamination,
            sample_size=spec.isolation_forest.sample_size,
            n_estimators=spec.isolation_forest.n_estimators,
            random_state=spec.isolation_forest.random_state,
            n_neighbors=spec.isolation_forest.n_neighbors,
        )
    return AnomalyConfig(zscore=zscore or None, isolation_forest=forest, patterns=semantic_rules(spec.pattern_columns))
