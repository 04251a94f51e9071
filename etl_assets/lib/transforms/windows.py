"""Time windows: the period each timestamp falls in, cut in a chosen timezone.

Days, weeks and months are cut on local wall time (a "day" in New York is not a UTC day);
hours are cut on the instant, so DST's repeated hour stays two distinct hours.
"""

from __future__ import annotations

import pandas as pd

from etl_assets.lib.spec import WindowSpec

_STEP = {"hour": pd.DateOffset(hours=1), "day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1)}


def _as_timestamps(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.ArrowDtype):  # date32 from a clean table
        return pd.to_datetime(values.astype("datetime64[s]")).dt.as_unit("us")
    return values


def period_start(values: pd.Series, window: WindowSpec) -> pd.Series:
    """Start of the period containing each value (tz-aware in the window timezone if the input is aware)."""
    stamps = _as_timestamps(values)
    tz = stamps.dt.tz
    if tz is not None and window.timezone is not None:
        stamps = stamps.dt.tz_convert(window.timezone)
        tz = stamps.dt.tz
    if window.every == "hour":
        if tz is None:
            return stamps.dt.floor("h")
        return stamps.dt.tz_convert("UTC").dt.floor("h").dt.tz_convert(tz)
    wall = stamps.dt.tz_localize(None) if tz is not None else stamps
    if window.every == "day":
        start = wall.dt.normalize()
    elif window.every == "week":  # weeks start on Monday
        start = wall.dt.normalize() - pd.to_timedelta(wall.dt.day_of_week, unit="D")
    else:
        start = wall.dt.to_period("M").dt.to_timestamp().dt.as_unit(wall.dt.unit)
    if tz is not None:
        start = start.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    return start


def shift_periods(starts: pd.Series, window: WindowSpec, periods: int) -> pd.Series:
    """Move period starts by ``periods`` steps (on wall time for day/week/month)."""
    if periods == 0:
        return starts
    tz = starts.dt.tz
    if window.every == "hour" or tz is None:
        return starts + _STEP[window.every] * periods
    wall = starts.dt.tz_localize(None) + _STEP[window.every] * periods
    return wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
