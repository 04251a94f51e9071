"""Time windows: which period (hour, day, week, month) each timestamp falls in, and where periods start.

Periods are numbered with plain int64s so that a rolling window is integer arithmetic
(period p covers p-N+1 ... p) and grouping on them is cheap; starts are computed only for the
(few) output rows.

* Days, weeks (starting Monday) and months are cut on wall time in the window's timezone (a day
  in New York is not a UTC day); a start that falls in a daylight-saving gap moves forward to the
  first existing instant, an ambiguous one takes its first occurrence.
* Hours are cut on the instant (offset by the zone's sub-hour part, e.g. +05:30), so the hour
  repeated when clocks go back stays two distinct hours.
* Naive timestamps (and dates) are taken as wall time already in the window's timezone, and
  window bounds stay naive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from etl_assets.lib.spec import WindowSpec
from etl_assets.lib.transforms.errors import AggregateError

HOUR = 3_600_000_000
DAY = 24 * HOUR
#: 1970-01-01 was a Thursday: day -3 is the Monday that starts week 0.
_MONDAY_SHIFT = 3


class WindowError(AggregateError):
    pass


@dataclass(frozen=True)
class Periods:
    """The period number of every row, and what is needed to turn numbers back into starts."""

    index: np.ndarray  # int64; meaningless where not valid
    valid: np.ndarray  # False where the timestamp is null
    every: str
    #: Zone the bounds are expressed in; None for naive input.
    timezone: str | None

    def starts(self, index: np.ndarray) -> pd.Series:
        """The start of each given period (datetime64[us], tz-aware in ``timezone`` if set)."""
        return period_starts(np.asarray(index, dtype=np.int64), self.every, self.timezone)


def _microseconds(values: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    """The column as datetime64[us] (tz-aware or naive), and its own zone."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype):
        arrow = dtype.pyarrow_dtype
        if pa.types.is_date(arrow):
            array = pa.array(values.array).cast(pa.date32()).cast(pa.timestamp("us"))
            return pd.Series(array.to_pandas(), index=values.index), None
        if pa.types.is_timestamp(arrow):
            target = f"datetime64[us, {arrow.tz}]" if arrow.tz else "datetime64[us]"
            values = values.astype(target)
            dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return values.dt.as_unit("us"), str(dtype.tz)
    if pd.api.types.is_datetime64_dtype(dtype):
        return values.dt.as_unit("us"), None
    raise WindowError(f"window column {column!r} must be a date or datetime column, not {dtype}")


def _ints(values: pd.Series) -> np.ndarray:
    """datetime64[us] (naive) values as int64 microseconds (NaT as int64 min)."""
    return values.to_numpy(dtype="datetime64[us]").view(np.int64)


def periods(values: pd.Series, window: WindowSpec) -> Periods:
    stamps, own_zone = _microseconds(values, window.column)
    valid = stamps.notna().to_numpy()
    if own_zone is None:
        wall = _ints(stamps)
        instant = wall
        zone = None
    else:
        zone = window.timezone or own_zone
        instant = _ints(stamps.dt.tz_convert("UTC").dt.tz_localize(None))
        wall = _ints(stamps.dt.tz_convert(zone).dt.tz_localize(None))
    wall = np.where(valid, wall, 0)
    if window.every == "hour":
        if zone is None:
            index = wall // HOUR
        else:
            instant = np.where(valid, instant, 0)
            phase = (wall - instant) % HOUR
            index = (instant + phase) // HOUR
    elif window.every == "day":
        index = wall // DAY
    elif window.every == "week":
        index = (wall // DAY + _MONDAY_SHIFT) // 7
    else:
        index = wall.view("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    return Periods(index=index.astype(np.int64), valid=valid, every=window.every, timezone=zone)


def period_starts(index: np.ndarray, every: str, timezone: str | None) -> pd.Series:
    if every == "hour" and timezone is not None:
        utc = index * HOUR
        local = pd.DatetimeIndex(utc.view("datetime64[us]")).tz_localize("UTC").tz_convert(timezone)
        phase = (_ints(pd.Series(local.tz_localize(None))) - utc) % HOUR
        start = pd.DatetimeIndex((utc - phase).view("datetime64[us]")).tz_localize("UTC").tz_convert(timezone)
        return pd.Series(start)
    if every == "hour":
        wall = index * HOUR
    elif every == "day":
        wall = index * DAY
    elif every == "week":
        wall = (index * 7 - _MONDAY_SHIFT) * DAY
    else:
        wall = index.astype("datetime64[M]").astype("datetime64[us]").view(np.int64)
    starts = pd.DatetimeIndex(wall.view("datetime64[us]"))
    if timezone is not None:
        starts = starts.tz_localize(timezone, ambiguous=np.ones(len(starts), dtype=bool), nonexistent="shift_forward")
    return pd.Series(starts)
