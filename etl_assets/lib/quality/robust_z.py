"""Robust z-scores (median / MAD), globally or within groups, vectorised with ``groupby``.

Why median/MAD rather than mean/std: a handful of extreme values (the very thing we look for)
inflate the standard deviation and hide themselves; the median absolute deviation does not move.
``z = 0.6745 * (x - median) / MAD`` makes z comparable to a standard z-score on normal data.
When the MAD is 0 (more than half the values identical) the mean absolute deviation scaled by
1.2533 is used instead (Iglewicz & Hoaglin); when that is 0 too, every value equals the median
and nothing is flagged. Groups with fewer than ``min_group_size`` values use the global
statistics, so a carrier with three flights is not judged on three points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAD_TO_SIGMA = 0.6745
MEAN_AD_TO_SIGMA = 1.2533


def as_float(series: pd.Series) -> np.ndarray:
    """A float64 array with NaN for nulls (nullable ints/floats, Arrow decimals and bools alike)."""
    if isinstance(series.dtype, pd.ArrowDtype):
        # through Arrow: pandas' to_numeric mishandles nullable Arrow decimals
        array = pa.array(series, from_pandas=True)
        return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False).astype("float64", copy=False)
    if not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _z(values: np.ndarray, center: np.ndarray, mad: np.ndarray, mean_ad: np.ndarray) -> np.ndarray:
    dev = values - center
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(mad > 0, MAD_TO_SIGMA * dev / mad, dev / (MEAN_AD_TO_SIGMA * mean_ad))
        # 0/0 (all values equal the median) is not an anomaly; x/0 with x != 0 is infinitely far
        return np.where(np.isfinite(z), z, np.where(np.isnan(values) | (dev == 0), np.nan, np.sign(dev) * np.inf))


def z_against(values: np.ndarray, center: np.ndarray, mad: np.ndarray, mean_ad: np.ndarray) -> np.ndarray:
    """Robust z of ``values`` against given statistics (e.g. a stored reference), element-wise."""
    return _z(values, center, mad, mean_ad)


def robust_z(values: np.ndarray) -> np.ndarray:
    """Robust z of every value against the whole column (NaN stays NaN)."""
    center = np.nanmedian(values) if np.isfinite(values).any() else np.nan
    dev = np.abs(values - center)
    mad = np.nanmedian(dev) if np.isfinite(dev).any() else np.nan
    mean_ad = np.nanmean(dev) if np.isfinite(dev).any() else np.nan
    n = values.shape[0]
    return _z(values, np.full(n, center), np.full(n, mad), np.full(n, mean_ad))


def grouped_robust_z(
    values: pd.DataFrame, keys: Sequence[pd.Series], min_group_size: int
) -> pd.DataFrame:
    """Robust z of each column of ``values`` (float64, NaN for nulls) within the groups of ``keys``.

    Rows of groups with fewer than ``min_group_size`` non-null values get the global z.
    """
    grouped = values.groupby(list(keys), observed=True, dropna=False, sort=False)
    center = grouped.transform("median")
    dev = (values - center).abs()
    dev_grouped = dev.groupby(list(keys), observed=True, dropna=False, sort=False)
    mad = dev_grouped.transform("median")
    mean_ad = dev_grouped.transform("mean")
    count = grouped.transform("count")
    out = {}
    for column in values.columns:
        v = values[column].to_numpy()
        z_group = _z(v, center[column].to_numpy(), mad[column].to_numpy(), mean_ad[column].to_numpy())
        small = count[column].to_numpy() < min_group_size
        if small.any():
            z_group = np.where(small, robust_z(v), z_group)
        out[column] = z_group
    return pd.DataFrame(out, index=values.index)
