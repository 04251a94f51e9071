"""Synthetic flights-like data with known anomalies (fixed seed, ground truth per row).

Columns: ``carrier`` (4 groups with very different delay scales), ``dep_delay`` (nullable),
``distance`` and ``air_time`` (air_time ~ distance / speed), ``code`` (text, some invalid).
Ground truth columns (``truth_*``) say which rows were made anomalous and how:

- ``truth_global``: dep_delay far outside every carrier's range (a point outlier globally);
- ``truth_group``: dep_delay ordinary for the table as a whole but extreme for its own carrier;
- ``truth_combo``: distance and air_time each in range, but together impossible (air_time far
  from what the distance implies) - only a multivariate method can see it;
- ``truth_pattern``: ``code`` breaks its pattern (three upper-case letters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: carrier -> (median delay, spread): "QQ" runs on time, "ZZ" is always late
CARRIERS = {"AA": (0.0, 4.0), "BB": (10.0, 8.0), "QQ": (-2.0, 1.0), "ZZ": (60.0, 30.0)}


def flights_with_anomalies(rows: int = 20_000, seed: int = 7, rate: float = 0.004, null_rate: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    carriers = rng.choice(list(CARRIERS), size=rows)
    centers = np.array([CARRIERS[c][0] for c in carriers])
    spreads = np.array([CARRIERS[c][1] for c in carriers])
    dep_delay = centers + spreads * rng.standard_normal(rows)
    distance = rng.uniform(200, 2500, rows)
    air_time = distance / 8.0 + rng.normal(0, 5, rows)
    code = np.array(["".join(x) for x in rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ"), size=(rows, 3))], dtype=object)

    k = max(int(rows * rate), 1)
    chosen = rng.permutation(rows)
    glob, group, combo, pattern = (np.sort(chosen[i * k : (i + 1) * k]) for i in range(4))
    truth = {name: np.zeros(rows, dtype=bool) for name in ("global", "group", "combo", "pattern")}

    dep_delay[glob] = rng.uniform(900, 1500, k) * rng.choice([1, -1], k, p=[0.9, 0.1])
    truth["global"][glob] = True
    # extreme for the row's own carrier, but inside ZZ's ordinary range (so global stats miss it)
    quiet = [i for i in group if carriers[i] in ("AA", "QQ")]
    group = np.array(quiet, dtype=int)
    dep_delay[group] = rng.uniform(60, 110, group.size)
    truth["group"][group] = True
    # a short hop with a transatlantic air time (or the reverse): each value alone is in range
    short = rng.random(k) < 0.5
    distance[combo] = np.where(short, rng.uniform(200, 400, k), rng.uniform(2200, 2500, k))
    air_time[combo] = np.where(short, rng.uniform(270, 310, k), rng.uniform(25, 50, k))
    truth["combo"][combo] = True
    code[pattern] = rng.choice(["??", "abc1", "A-B", "TOOLONG"], k)
    truth["pattern"][pattern] = True

    frame = pd.DataFrame(
        {
            "carrier": pd.Categorical(carriers),
            "dep_delay": pd.array(np.round(dep_delay, 1), dtype="Float64"),
            "distance": pd.array(np.round(distance), dtype="Int64"),
            "air_time": pd.array(np.round(air_time, 1), dtype="Float64"),
            "code": pd.array(code, dtype="string"),
        }
    )
    # nulls only where nothing was injected: a null must never count as an anomaly
    anomalous = truth["global"] | truth["group"] | truth["combo"] | truth["pattern"]
    nulls = (rng.random(rows) < null_rate) & ~anomalous
    frame.loc[nulls, "dep_delay"] = pd.NA
    frame.loc[(rng.random(rows) < null_rate) & ~anomalous, "code"] = pd.NA
    frame.loc[(rng.random(rows) < null_rate) & ~anomalous, "air_time"] = pd.NA
    for name, mask in truth.items():
        frame[f"truth_{name}"] = mask
    frame["truth_null_delay"] = nulls
    return frame


def recall_precision(flagged: pd.Series | np.ndarray, truth: pd.Series | np.ndarray, injected_any: pd.Series | np.ndarray) -> tuple[float, float]:
    """Recall of ``truth`` among flagged rows; precision = flagged rows that are injected at all."""
    flagged = np.asarray(flagged, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    recall = (flagged & truth).sum() / max(truth.sum(), 1)
    precision = (flagged & np.asarray(injected_any, dtype=bool)).sum() / max(flagged.sum(), 1)
    return float(recall), float(precision)
