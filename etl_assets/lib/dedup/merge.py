"""Which row of a cluster survives, and with which values.

- ``keep_first`` / ``keep_last``: the cluster's first / last row in frame order;
- ``keep_best_quality``: the row with the highest ``_quality_score`` (the quality checks' per-row
  score) when the frame has one, else the most complete row (most non-null declared fields);
  ties go to the earlier row;
- ``field_wise``: the survivor (as keep_best_quality) takes, for each field it has missing, the
  most complete value of the cluster: the most frequent non-null value, the longest on ties.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

MergeStrategy = Literal["keep_first", "keep_last", "keep_best_quality", "field_wise"]
MERGE_STRATEGIES: tuple[str, ...] = ("keep_first", "keep_last", "keep_best_quality", "field_wise")
QUALITY_COLUMN = "_quality_score"


def row_quality(frame: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
    """``_quality_score`` if present, else the share of non-null values among ``columns``."""
    if QUALITY_COLUMN in frame.columns:
        return pd.to_numeric(frame[QUALITY_COLUMN], errors="coerce").fillna(-np.inf).to_numpy(dtype=float)
    columns = columns or [c for c in frame.columns if not str(c).startswith("_")]
    present = frame[columns].notna()
    text = frame[columns].select_dtypes(include=["object", "string"])
    for column in text.columns:  # an empty string is not a value
        present[column] &= text[column].astype("string").str.strip().ne("").fillna(False)
    return present.to_numpy(dtype=bool).mean(axis=1) if columns else np.zeros(len(frame))


def survivors(labels: np.ndarray, strategy: MergeStrategy, quality: np.ndarray | None = None) -> np.ndarray:
    """The surviving row position of every cluster label (indexed by label)."""
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    positions = np.arange(len(labels))
    if strategy == "keep_first":
        order = positions
    elif strategy == "keep_last":
        order = positions[::-1]
    else:
        if quality is None:
            raise ValueError(f"merge strategy {strategy!r} needs a quality per row")
        order = np.lexsort((positions, -quality))  # best quality first, earlier row on ties
    chosen = np.full(n_clusters, -1, dtype=np.int64)
    ordered_labels = labels[order]
    _, first = np.unique(ordered_labels, return_index=True)
    chosen[ordered_labels[first]] = order[first]
    return chosen


def fill_from_cluster(frame: pd.DataFrame, labels: np.ndarray, keep: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Survivor rows (``keep``: their positions) with missing fields filled from their cluster.

    Only clusters with more than one row are touched; for each field the value used is the
    cluster's most frequent non-null value (longest text on ties).
    """
    kept = frame.iloc[keep].copy()
    sizes = np.bincount(labels)
    multi = np.flatnonzero(sizes[labels] > 1)
    if not len(multi):
        return kept
    members = frame.iloc[multi]
    member_labels = labels[multi]
    kept_pos_by_label = {int(labels[p]): k for k, p in enumerate(keep)}
    for column in columns:
        missing_kept = kept[column].isna().to_numpy()
        if not missing_kept.any():
            continue
        values = pd.DataFrame({"label": member_labels, "value": members[column].to_numpy()}).dropna()
        if values.empty:
            continue
        values["count"] = values.groupby(["label", "value"], sort=False)["value"].transform("size")
        values["length"] = values["value"].astype(str).str.len()
        best = values.sort_values(["label", "count", "length"], ascending=[True, False, False]).drop_duplicates("label")
        for label, value in zip(best["label"].tolist(), best["value"].tolist(), strict=True):
            k = kept_pos_by_label.get(label)
            if k is not None and missing_kept[k]:
                kept.iat[k, kept.columns.get_loc(column)] = value
    return kept
