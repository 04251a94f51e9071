"""Date and datetime layouts that inference recognises, checked with the clean step's own parser.

A text column is a date (or datetime) in a layout when every distinct value has the layout's
shape and :func:`etl_assets.lib.transforms.temporal.parse_date` (``parse_datetime``) with that
``format`` accepts every one of them: the draft's ``format:`` then parses the whole file by
construction, not by a second implementation that could disagree.

Day-first and month-first layouts (``DD/MM/YYYY`` against ``MM/DD/YYYY``) are decided by the
values: a day above 12 settles it. When both parse every value the column is *ambiguous*; the
month-first layout is chosen and the draft says so in a comment.

Two-digit years (``01/02/99``, ``31.12.05``, ``Jan 1 99``) follow the pivot of POSIX and of
Python's ``strptime`` ``%y``, which the clean step's parser uses: ``69``-``99`` are 19xx,
``00``-``68`` are 20xx. The pivot is fixed rather than chosen from the values because the draft's
``format:`` must parse the file the same way the clean step will, and ``%y`` has no other pivot.
So the draft says the rule and the years the values are read as (first and last), and warns when
that reading looks wrong: years after the current one (``25/11/63`` read as 2063), or years split
by the pivot into two runs more than 30 years apart (``50`` .. ``99`` and ``00`` .. ``10`` read as
1969-2010 and 2050-2068, where 1950-2010 was likely meant). Four-digit years in the source are
the fix.

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
    (r"\d{1,2}-\d{1,2}-\d{2}", "date", ("%m-%d-%y", "%d-%m-%y")),
    # dotted two-digit dates only with two-digit day and month: ``1.2.10`` is a version number
    (r"\d{2}\.\d{2}\.\d{2}", "date", ("%d.%m.%y",)),
    (r"\d{4}-W\d{2}-[1-7]", "date", ("%G-W%V-%u",)),
    (rf"{_MONTH} \d{{1,2}},? \d{{4}}", "date", ("%b %d %Y", "%b %d, %Y", "%B %d %Y", "%B %d, %Y")),
    (rf"\d{{1,2}} {_MONTH},? \d{{4}}", "date", ("%d %b %Y", "%d %B %Y", "%d %b, %Y", "%d %B, %Y")),
    (rf"{_MONTH} \d{{1,2}},? \d{{2}}", "date", ("%b %d %y", "%b %d, %y", "%B %d %y", "%B %d, %y")),
    (rf"\d{{1,2}} {_MONTH},? \d{{2}}", "date", ("%d %b %y", "%d %B %y", "%d %b, %y", "%d %B, %y")),
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
    #: Two-digit-year layouts: the distinct years the values are read as, ascending.
    years: tuple[int, ...] = ()

    @property
    def note(self) -> str | None:
        notes = []
        if self.ambiguous_with:
            notes.append(
                f"ambiguous: {self.ambiguous_with} also parses every value; check which the source uses"
            )
        if "%y" in self.format:
            notes.append(two_digit_year_note(self.years))
        return "; ".join(notes) or None


#: Two runs of read years further apart than this look like one run cut by the pivot.
PIVOT_GAP_YEARS = 30


def two_digit_year_note(years: tuple[int, ...], current_year: int | None = None) -> str:
    """The pivot rule, the years read, and a warning when the reading looks wrong."""
    import datetime as dt

    note = "two-digit years: 00-68 read as 20xx, 69-99 as 19xx"
    if not years:
        return note
    note += f" (these values: {years[0]}-{years[-1]})"
    current = current_year or dt.date.today().year
    future = [y for y in years if y > current]
    gaps = np.diff(np.asarray(years))
    if future:
        note += f"; CHECK: {len(future)} year(s) after {current}, e.g. {future[0]}, which may be {future[0] - 100}"
    elif gaps.size and int(gaps.max()) > PIVOT_GAP_YEARS:
        cut = int(np.argmax(gaps))
        note += (
            f"; CHECK: no year between {years[cut]} and {years[cut + 1]}: "
            f"{years[cut + 1]}-{years[-1]} may be {years[cut + 1] - 100}-{years[-1] - 100}"
        )
    return note


def read_years(distinct: pd.Series, storage: str, fmt: str) -> tuple[int, ...]:
    """The distinct years the clean step's parser reads ``distinct`` as, with ``fmt``."""
    from etl_assets.lib.spec import ColumnSpec
    from etl_assets.lib.transforms.temporal import parse_date, parse_datetime

    parse = parse_date if storage == "date" else parse_datetime
    result = parse(pa.array(distinct.astype(str).tolist(), type=pa.string()), ColumnSpec(type=storage, format=fmt))  # type: ignore[arg-type]
    return tuple(sorted({v.year for v in result.values.to_pylist() if v is not None}))


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
        years = read_years(distinct, storage, chosen) if "%y" in chosen else ()
        return Layout(storage, chosen, _SEMANTIC.get(chosen, storage), ambiguous, years)
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
