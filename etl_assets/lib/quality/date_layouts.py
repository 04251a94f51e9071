"""Date and datetime layouts that inference recognises, checked with the clean step's own parser.

A text column is a date (or datetime) in a layout when every distinct value has the layout's
shape and :func:`etl_assets.lib.transforms.temporal.parse_date` (``parse_datetime``) with that
``format`` accepts every one of them: the draft's ``format:`` then parses the whole file by
construction, not by a second implementation that could disagree.

Day-first and month-first layouts (``DD/MM/YYYY`` against ``MM/DD/YYYY``) are decided by the
values: a day above 12 settles it. When both parse every value the column is *ambiguous*; the
month-first layout is chosen and the draft says so in a comment. Two-digit years follow POSIX
(``00``-``68`` are 20xx), which the draft also says.

Integer columns are epoch seconds or milliseconds only with a name hint (``epoch``, ``unix``,
``timestamp``, ``ts``, ``created_at``...) and values in 1973-2100: plain counts look the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from etl_assets.lib.quality.name_tokens import any_hint

#: (shape regex, storage, formats tried in order; two formats = a day/month-order pair)
_MONTH = r"[A-Za-z]{3,9}\.?"
LAYOUTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (r"\d{4}/\d{1,2}/\d{1,2}", "date", ("%Y/%m/%d",)),
    (r"\d{4}\.\d{1,2}\.\d{1,2}", "date", ("%Y.%m.%d",)),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", "date", ("%d.%m.%Y",)),
    (r"\d{1,2}/\d{1,2}/\d{4}", "date", ("%m/%d/%Y", "%d/%m/%Y")),
    (r"\d{1,2}-\d{1,2}-\d{4}", "date", ("%m-%d-%Y", "%d-%m-%Y")),
    (r"\d{1,2}/\d{1,2}/\d{2}", "date", ("%m/%d/%y", "%d/%m/%y")),
    (r"\d{4}-W\d{2}-[1-7]", "date", ("%G-W%V-%u",)),
    (rf"{_MONTH} \d{{1,2}},? \d{{4}}", "date", ("%b %d %Y", "%b %d, %Y", "%B %d %Y", "%B %d, %Y")),
    (rf"\d{{1,2}} {_MONTH},? \d{{4}}", "date", ("%d %b %Y", "%d %B %Y", "%d %b, %Y", "%d %B, %Y")),
    (rf"{_MONTH}-\d{{1,2}}-\d{{4}}", "date", ("%b-%d-%Y", "%B-%d-%Y")),
    (rf"\d{{1,2}}-{_MONTH}-\d{{2,4}}", "date", ("%d-%b-%Y", "%d-%b-%y", "%d-%B-%Y")),
    (
        r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}(:\d{2})?",
        "datetime",
        ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"),
    ),
    (
        r"\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{2}(:\d{2})?",
        "datetime",
        ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M"),
    ),
    (
        r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}",
        "datetime",
        ("%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S"),
    ),
    (r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}", "datetime", ("%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M")),
)
#: ``YYYYMMDD`` written as a number: only with a date name hint (any 8-digit id has this shape).
COMPACT = (r"(1[89]|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", "date", ("%Y%m%d",))
DATE_HINTS = ("date", "day", "dt", "dob")
EPOCH_HINTS = ("epoch", "unix", "timestamp", "ts", "time", "datetime", "at")
_EPOCH_RANGE = {"s": (1e8, 4.1e9), "ms": (1e11, 4.1e12)}
_SEMANTIC = {"%m/%d/%Y": "date_us", "%d/%m/%Y": "date_eu", "%d.%m.%Y": "date_eu"}


@dataclass(frozen=True)
class Layout:
    """A recognised layout: spec type, strftime format, semantic type, and a note for the draft."""

    storage: str
    format: str
    semantic: str
    #: Set when the values do not decide between day-first and month-first.
    ambiguous_with: str | None = None

    @property
    def note(self) -> str | None:
        notes = []
        if self.ambiguous_with:
            notes.append(
                f"ambiguous: {self.ambiguous_with} also parses every value; check which the source uses"
            )
        if "%y" in self.format:
            notes.append("two-digit years: 00-68 read as 20xx, 69-99 as 19xx")
        return "; ".join(notes) or None


def parses_all(values: pd.Series, storage: str, fmt: str) -> bool:
    """Whether the clean step parses every one of ``values`` as ``storage`` with ``fmt``."""
    from etl_assets.lib.spec import ColumnSpec
    from etl_assets.lib.transforms.temporal import parse_date, parse_datetime

    parse = parse_date if storage == "date" else parse_datetime
    result = parse(
        pa.array(values.astype(str).tolist(), type=pa.string()),
        ColumnSpec(type=storage, format=fmt),
    )  # type: ignore[arg-type]
    return not result.failures and result.values.null_count == 0


def detect_layout(distinct: pd.Series, name: str) -> Layout | None:
    """The layout every one of the ``distinct`` (stripped, non-empty) text values is written in."""
    if len(distinct) == 0:
        return None
    layouts = list(LAYOUTS)
    if any_hint(name, DATE_HINTS):
        layouts.append(COMPACT)
    head = distinct.iloc[:200]  # most columns fail every shape on their first values: cheap reject
    for shape, storage, formats in layouts:
        if not bool(head.str.fullmatch(shape).fillna(False).all()):
            continue
        if not bool(distinct.str.fullmatch(shape).fillna(False).all()):
            continue
        passing = [fmt for fmt in formats if parses_all(distinct, storage, fmt)]
        if not passing:
            continue
        ambiguous = passing[1] if _swapped(formats) and len(passing) == 2 else None
        chosen = passing[0]
        return Layout(storage, chosen, _SEMANTIC.get(chosen, storage), ambiguous)
    return None


def _swapped(formats: tuple[str, ...]) -> bool:
    """Whether the two formats differ only by the order of day and month."""
    return (
        len(formats) == 2
        and formats[0].replace("%m", "@").replace("%d", "%m").replace("@", "%d") == formats[1]
    )


@dataclass(frozen=True)
class Epoch:
    unit: str
    first: str
    last: str


def detect_epoch(numbers: pd.Series, name: str) -> Epoch | None:
    """Epoch seconds or milliseconds: an integer column with a time-like name whose values all
    fall in 1973-2100 in one of the units."""
    if len(numbers) == 0 or not any_hint(name, EPOCH_HINTS):
        return None
    values = pd.to_numeric(numbers, errors="coerce").astype("float64")
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    for unit, (start, end) in _EPOCH_RANGE.items():
        if start <= low and high <= end:
            stamps = pd.to_datetime([low, high], unit=unit)
            return Epoch(unit, stamps[0].isoformat(), stamps[1].isoformat())
    return None
