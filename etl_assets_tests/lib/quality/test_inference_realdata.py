"""Inference on real public files (benchmarks/realdata): date layouts, the name-token rule,
category decisions, key evidence, and a drafted spec that cleans its own file with no rejects."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from etl_assets.cli import main
from etl_assets.factory import build_pipeline_definitions, build_resources
from etl_assets.lib.quality.date_layouts import parses_all
from etl_assets.lib.quality.inference import ColumnProfile, infer_files
from etl_assets.lib.quality.name_tokens import hint_matches, name_tokens
from etl_assets.lib.spec import load_spec

REALDATA = Path(__file__).resolve().parents[3] / "benchmarks" / "realdata"


def _load_extract() -> ModuleType:
    """benchmarks/realdata/extract.py under a name of its own (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("realdata_extract", REALDATA / "extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


_extract = _load_extract()
FILES, HELD_OUT, extract = _extract.FILES, _extract.HELD_OUT, _extract.extract


@pytest.fixture(scope="module")
def real_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("realdata")
    extract(root / "files")
    return root


def profile(root: Path, name: str) -> dict[str, ColumnProfile]:
    report, _ = infer_files([root / "files" / name], root)
    return {c.name: c for c in report.tables[0].columns}


def infer_values(tmp_path: Path, columns: dict[str, list[object]]) -> dict[str, ColumnProfile]:
    pd.DataFrame(columns).to_csv(tmp_path / "t.csv", index=False)
    report, _ = infer_files([tmp_path / "t.csv"])
    return {c.name: c for c in report.tables[0].columns}


# --------------------------------------------------------------------------- the truth set


def test_truth_set_covers_every_column_of_every_file(real_root: Path) -> None:
    truth = list(csv.DictReader((REALDATA / "truth.csv").open(encoding="utf-8")))
    files = {f.name for f in FILES}
    assert len(files) >= 25 and len(truth) >= 250
    assert {Path(f).suffix for f in files} >= {".csv", ".json", ".jsonl"}
    for file in FILES:
        report, _ = infer_files([real_root / "files" / file.name], real_root)
        columns = [c.name for c in report.tables[0].columns]
        assert columns == [r["column"] for r in truth if r["file"] == file.name], file.name
    assert {r["file"] for r in truth if r["split"] == "held-out"} == HELD_OUT
    assert len(HELD_OUT) * 3 >= len(files) - 1
    assert all(
        r["storage"] in {"int", "float", "bool", "string", "category", "date", "datetime"}
        for r in truth
    )


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("values", "storage", "fmt", "ambiguous"),
    [
        (["2012/01/01", "2012/12/31", "2013/2/3"], "date", "%Y/%m/%d", None),
        (["31.01.2013", "01.02.2013", "29.02.2016"], "date", "%d.%m.%Y", None),
        (["12/31/2020", "01/02/2021"], "date", "%m/%d/%Y", None),
        (["31/12/2020", "01/02/2021"], "date", "%d/%m/%Y", None),
        (["01/02/2020", "03/04/2020"], "date", "%m/%d/%Y", "%d/%m/%Y"),
        (["Jan 1 2000", "Feb 29 2000", "Dec 31 1999"], "date", "%b %d %Y", None),
        (["1 January 2000", "29 February 2000"], "date", "%d %B %Y", None),
        (["2020-W05-3", "2021-W52-7"], "date", "%G-W%V-%u", None),
        (["2012/01/01 10:30:00", "2012/01/02 23:59:59"], "datetime", "%Y/%m/%d %H:%M:%S", None),
    ],
)
def test_date_layouts_and_their_format_parse_every_value(
    tmp_path: Path, values: list[str], storage: str, fmt: str, ambiguous: str | None
) -> None:
    column = infer_values(tmp_path, {"when": values})["when"]
    assert (column.storage_type, column.format) == (storage, fmt)
    assert parses_all(pd.Series(values), storage, fmt)
    assert (
        (column.note is not None and f"ambiguous: {ambiguous}" in column.note)
        if ambiguous
        else "ambiguous" not in (column.note or "")
    )


def test_an_impossible_day_is_not_a_date(tmp_path: Path) -> None:
    # 02/30 parses in neither order: the column stays text instead of a format that rejects rows
    assert (
        infer_values(tmp_path, {"when": ["02/30/2020", "01/02/2020"]})["when"].storage_type
        == "string"
    )


def test_real_date_layouts(real_root: Path) -> None:
    baboon = profile(real_root, "baboon.csv")["date"]  # 25/11/63: day first, two-digit year
    assert (baboon.storage_type, baboon.format) == ("date", "%d/%m/%y") and "two-digit years" in (
        baboon.note or ""
    )
    # the study is from the 1960s: POSIX reads 63 as 2063, and the draft says to check it
    assert "CHECK" in (baboon.note or "") and "2063" in (baboon.note or "")
    elec = profile(real_root, "elec_equip.csv")["DATE"]  # Jan-1-1995
    assert (elec.storage_type, elec.format) == ("date", "%b-%d-%Y")
    co2 = profile(real_root, "co2.csv")["date"]  # 19580329, named "date"
    assert (co2.storage_type, co2.format) == ("date", "%Y%m%d")
    weather = profile(real_root, "nyc_weather.csv")["time_hour"]
    assert (weather.storage_type, weather.timezone_aware) == ("datetime", True)


def test_eight_digit_numbers_need_a_date_name(tmp_path: Path) -> None:
    columns = infer_values(
        tmp_path, {"date": [19580329, 19580405], "account": [19580329, 19580405]}
    )
    assert columns["date"].format == "%Y%m%d" and columns["account"].storage_type == "int"


def test_epoch_seconds_and_milliseconds_need_a_name_hint(tmp_path: Path) -> None:
    columns = infer_values(
        tmp_path,
        {
            "created_ts": [1356998400, 1388534400],
            "event_time": [1356998400000, 1356998460000],
            "population": [1356998400, 1388534400],
        },
    )
    assert columns["created_ts"].note.startswith(
        "epoch seconds: 2013-01-01T00:00:00 .. 2014-01-01T00:00:00"
    )
    assert columns["event_time"].note.startswith(
        "epoch milliseconds: 2013-01-01T00:00:00 .. 2013-01-01T00:01:00"
    )
    assert columns["population"].note is None and columns["population"].storage_type == "int"
    assert (columns["created_ts"].storage_type, columns["created_ts"].format) == ("datetime", "epoch_s")
    assert (columns["event_time"].storage_type, columns["event_time"].format) == ("datetime", "epoch_ms")


# --------------------------------------------------------------------------- name tokens


def test_name_hints_match_whole_tokens_only(tmp_path: Path) -> None:
    assert name_tokens("Miles_per_Gallon") == ("miles", "per", "gallon")
    assert name_tokens("startDate") == ("start", "date") and name_tokens("Rev.per.mile") == (
        "rev",
        "per",
        "mile",
    )
    assert name_tokens("sal87") == ("sal", "87") and name_tokens("Individual ID") == (
        "individual",
        "id",
    )
    assert not hint_matches("Miles_per_Gallon", "lon") and hint_matches("pickup lon", "lon")
    assert hint_matches("firstname", "first_name") and hint_matches("createdAt", "_at")
    values = [17.0, 23.5, 31.2, 14.8, 26.1, 19.9, 35.4, 28.7, 22.2, 16.3]
    columns = infer_values(
        tmp_path, {"Miles_per_Gallon": values, "lon": values, "Latitude.deg": values}
    )
    assert columns["Miles_per_Gallon"].semantic is None
    assert columns["lon"].semantic == "longitude" and columns["Latitude.deg"].semantic == "latitude"


def test_mpg_city_is_a_number_not_a_city(real_root: Path) -> None:
    cars = profile(real_root, "cars93.json")
    assert cars["MPG.city"].storage_type == "int" and cars["MPG.city"].semantic is None
    assert cars["Cylinders"].semantic is None  # "4", "6", "rotary": not latitudes


# --------------------------------------------------------------------------- categories


def test_category_decisions_on_real_files(real_root: Path) -> None:
    penguins = profile(real_root, "penguins.csv")
    assert penguins["species"].storage_type == "category" and penguins["species"].categories == [
        "Adelie",
        "Chinstrap",
        "Gentoo",
    ]
    assert penguins["sex"].categories == ["female", "male"]
    raw = profile(real_root, "penguins_raw.csv")
    assert raw["Comments"].storage_type == "string"  # free text: sentences
    assert raw["Individual ID"].storage_type == "string"  # an identifier, however repeated
    assert raw["Clutch Completion"].storage_type == "bool"  # Yes / No
    fertility = profile(real_root, "fertility.csv")
    assert (
        fertility["Indicator Name"].storage_type == "category"
    )  # a long label repeated on every row
    airlines = profile(real_root, "nyc_airlines.csv")
    assert airlines["name"].storage_type == "string"  # 16 values, all different: not labels
    baseball = profile(real_root, "baseball.jsonl")
    assert (
        baseball["name1"].storage_type == "string" and baseball["team86"].storage_type == "category"
    )


def test_category_needs_repeats_and_rows(tmp_path: Path) -> None:
    columns = infer_values(
        tmp_path,
        {
            "kind": ["rain", "snow", "sun", "rain"] * 5,
            "few": ["a", "b", "c", "a", "b"] + ["a"] * 15,
            "unique_words": [f"w{i}" for i in range(20)],
            "user_id": ["u1", "u2"] * 10,
            "email": ["a@example.org", "b@example.org"] * 10,
        },
    )
    assert columns["kind"].storage_type == "category" and columns["kind"].categories == [
        "rain",
        "snow",
        "sun",
    ]
    assert columns["few"].storage_type == "category"
    assert {columns[c].storage_type for c in ("unique_words", "user_id", "email")} == {"string"}


# --------------------------------------------------------------------------- place, person, code kinds


def test_new_semantic_kinds_on_real_files(real_root: Path) -> None:
    assert profile(real_root, "fertility.csv")["Country Code"].semantic == "country_alpha3"
    assert profile(real_root, "fertility.csv")["Country Name"].semantic == "country_name"
    assert profile(real_root, "cigarette.csv")["state"].semantic == "state_code"
    assert profile(real_root, "produc.jsonl")["state"].semantic == "state_name"  # ALABAMA
    assert profile(real_root, "china_smoking.csv")["Location"].semantic == "city"
    assert profile(real_root, "nyc_airports.json")["faa"].semantic == "code"
    greene = profile(real_root, "greene.csv")
    assert greene["nation"].semantic == "country_name"  # Sri.Lanka, El.Salvador


def test_person_names_addresses_and_tickers_need_their_evidence(tmp_path: Path) -> None:
    columns = infer_values(
        tmp_path,
        {
            "first_name": ["Ada", "Alan", "Grace", "Edsger"] * 3,
            "name": ["Lansdowne Airport", "Moton Field", "Schaumburg Regional", "Randall Airport"]
            * 3,
            "home": [
                "221B Baker Street",
                "12 Main St., Apt 4",
                "1600 Pennsylvania Ave NW",
                "5 Rue de la Paix Ave",
            ]
            * 3,
            "ticker": ["AAPL", "MSFT", "BRK.B", "GOOG"] * 3,
            "word": ["AAPL", "MSFT", "IBM", "GOOG"] * 3,
        },
    )
    assert columns["first_name"].semantic == "person_name" and columns["first_name"].pii
    assert (
        columns["name"].semantic is None
    )  # "name" alone: airports, companies and people look alike
    assert columns["home"].semantic == "street_address" and columns["home"].pii
    assert columns["ticker"].semantic == "ticker" and columns["word"].semantic != "ticker"


# --------------------------------------------------------------------------- keys


def draft_for(tmp_path: Path, frame: pd.DataFrame) -> str:
    frame.to_csv(tmp_path / "plants.csv", index=False)
    report, frames = infer_files([tmp_path / "plants.csv"])
    return report.to_yaml("keys", frames)


def test_keys_need_identifier_evidence(tmp_path: Path) -> None:
    rows = 40
    frame = pd.DataFrame(
        {
            "plant_id": [f"P{i:03d}" for i in range(rows)],
            "first_name": [f"Name{chr(65 + i % 26)}{i}" for i in range(rows)],
            "net_generation": [1000 + 7 * i for i in range(rows)],
            "capacity": [10.5 + i for i in range(rows)],
        }
    )
    draft = draft_for(tmp_path, frame)
    lines = {
        line.split(":")[0].strip(): line for line in draft.splitlines() if line.startswith("      ")
    }
    declared = {name: line.split("#")[0] for name, line in lines.items()}
    assert "unique: true" in declared["plant_id"]
    assert (
        "unique" not in lines["net_generation"] and "candidate key" not in lines["net_generation"]
    )  # a measurement
    assert "unique" not in lines["capacity"]
    assert (
        "unique" not in declared["first_name"] and "candidate key" in lines["first_name"]
    )  # for review only


def test_a_combination_key_is_a_comment_unless_every_column_is_an_identifier(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {
            "station": ["a", "b", "c", "d"] * 6,
            "sensor": ["x", "y", "z"] * 8,
            "reading_day": [f"d{i // 12}" for i in range(24)],
        }
    )
    draft = draft_for(tmp_path, frame)
    assert "dedup:" not in draft and "# candidate dedup keys" in draft
    coded = pd.DataFrame(
        {"site_code": ["A1", "B2", "C3", "D4"] * 6, "sensor_id": [f"S{i // 4}" for i in range(24)]}
    )
    dedup = [
        line
        for line in draft_for(tmp_path, coded).splitlines()
        if line.strip().startswith("dedup:")
    ]
    assert len(dedup) == 1 and "site_code" in dedup[0] and "sensor_id" in dedup[0]


def test_real_keys(real_root: Path) -> None:
    report, _ = infer_files(
        [real_root / "files" / n for n in ("nyc_airports.json", "forbes2000.csv", "midwest.csv")],
        real_root,
    )
    keys = {t.name: t.keys for t in report.tables}
    assert keys["nyc_airports"] == [["faa"]] and keys["midwest"] == [["PID"]]
    assert keys["forbes2000"] == []  # rank and company name are unique, but neither says identifier


# --------------------------------------------------------------------------- end to end

E2E_FILES = (
    "baboon.csv",
    "elec_equip.csv",
    "co2.csv",
    "penguins.csv",
    "penguins_raw.csv",
    "nyc_airports.json",
    "iraq_vote.json",
    "cars93.json",
    "statecrime.csv",
    "education.csv",
)


def test_drafted_spec_cleans_the_real_files_without_rejects(
    real_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = real_root / "draft.yaml"
    paths = [str(real_root / "files" / name) for name in E2E_FILES]
    assert (
        main(
            ["infer", *paths, "--data-root", str(real_root), "--out", str(draft), "--name", "real"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["validate", str(draft)]) == 0
    spec = load_spec(draft)
    assert spec.clean["baboon"].columns["date"].format == "%d/%m/%y"
    assert spec.clean["penguins"].columns["species"].type == "category"
    assert spec.clean["statecrime"].columns["state"].semantic == "state_name"
    defs = build_pipeline_definitions(spec)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            list(defs.assets or []), resources=build_resources(real_root), instance=instance
        )
    assert result.success
    rejected = {
        e.asset_key.to_user_string(): e.materialization.metadata["rows_rejected"].value
        for e in result.get_asset_materialization_events()
        if "/rejected/" in e.asset_key.to_user_string()
        and "rows_rejected" in e.materialization.metadata
    }
    assert len(rejected) == len(E2E_FILES) and set(rejected.values()) == {0}, rejected
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert all(
        passed for (_, name), passed in checks.items() if name in ("schema", "row_conservation")
    ), checks
