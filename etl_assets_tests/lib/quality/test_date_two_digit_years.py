"""Two-digit years in date inference: the layouts found, the pivot said, suspicious readings warned.

The pivot is POSIX's (strptime ``%y``: 69-99 -> 19xx, 00-68 -> 20xx), the one the clean step's
parser applies, so the draft's ``format:`` reads every value as the clean step will.
"""

from __future__ import annotations

import pandas as pd
import pytest

from etl_assets.lib.quality.date_layouts import detect_layout, parses_all, two_digit_year_note


@pytest.mark.parametrize(
    ("values", "fmt", "years"),
    [
        (["31.12.05", "01.01.99", "15.06.68"], "%d.%m.%y", (1999, 2005, 2068)),
        (["Jan 1 99", "Feb 12 03", "Dec 31 69"], "%b %d %y", (1969, 1999, 2003)),
        (["1 Jan 99", "12 Feb 03"], "%d %b %y", (1999, 2003)),
        (["12-31-99", "01-02-00"], "%m-%d-%y", (1999, 2000)),
        (["31/12/99", "01/02/00"], "%d/%m/%y", (1999, 2000)),
    ],
)
def test_two_digit_year_layouts_parse_every_value(values: list[str], fmt: str, years: tuple[int, ...]) -> None:
    layout = detect_layout(pd.Series(values), "when")
    assert layout is not None and layout.format == fmt
    assert parses_all(pd.Series(values), "date", fmt)
    assert layout.years == years
    assert layout.note is not None and "00-68 read as 20xx, 69-99 as 19xx" in layout.note
    assert f"{years[0]}-{years[-1]}" in layout.note


def test_dotted_version_numbers_are_not_dates() -> None:
    assert detect_layout(pd.Series(["1.2.10", "1.3.11"]), "version") is None


def test_a_reading_in_the_future_is_flagged() -> None:
    """A 1963 birth date written 25/11/63 reads as 2063: the draft says to check it."""
    layout = detect_layout(pd.Series(["25/11/63", "01/12/70"]), "date")
    assert layout is not None and layout.years == (1970, 2063)
    assert "CHECK" in two_digit_year_note(layout.years, current_year=2026)
    assert "may be 1963" in two_digit_year_note(layout.years, current_year=2026)


def test_years_cut_in_two_by_the_pivot_are_flagged() -> None:
    # 70..75 and 10..20: read 1970-1975 and 2010-2020, 35 years apart
    note = two_digit_year_note((1970, 1975, 2010, 2020), current_year=2026)
    assert "CHECK: no year between 1975 and 2010" in note
    # a contiguous reading gets no warning
    assert "CHECK" not in two_digit_year_note((1995, 1999, 2000, 2005), current_year=2026)
