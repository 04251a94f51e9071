"""Schema inference against seeded ground truth; the draft spec validates and materializes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from etl_assets.cli import main
from etl_assets.factory import build_pipeline_definitions, build_resources
from etl_assets.lib.quality.inference import infer_files
from etl_assets.lib.quality.semantic import SEMANTIC_TYPES
from etl_assets.lib.spec import load_spec
from etl_assets_tests.lib.quality.datagen import orders_and_customers, semantic_table


def infer_frame(tmp_path: Path, frame: pd.DataFrame, name: str = "people.csv"):
    frame.to_csv(tmp_path / name, index=False)
    report, _ = infer_files([tmp_path / name])
    return {c.name: c for c in report.tables[0].columns}


@pytest.mark.parametrize(("anonymous", "rate"), [(False, 0.0), (False, 0.05), (True, 0.05)])
def test_semantic_type_per_column_matches_truth(tmp_path: Path, anonymous: bool, rate: float) -> None:
    data = semantic_table(n=2000, seed=5, anonymous=anonymous, invalid_rate=rate)
    columns = infer_frame(tmp_path, data.frame)
    for name, (kind, bad) in data.truth.items():
        got = columns[name]
        assert got.semantic == kind, (name, kind, got.semantic, got.candidates)
        assert got.confidence == pytest.approx(1 - bad.mean(), abs=1e-3) or got.storage_type in ("int", "float")
        assert got.pii == SEMANTIC_TYPES[kind].pii


def test_plain_numbers_need_a_name_to_be_coordinates(tmp_path: Path) -> None:
    # without invalid values lat/lon are plain floats: any float column in [-90, 90] would
    # pass, so only the name can tell (documented limitation, measured in benchmarks/)
    data = semantic_table(n=500, seed=2, anonymous=True, invalid_rate=0.0, kinds=("latitude", "longitude"))
    columns = infer_frame(tmp_path, data.frame)
    assert columns["c0"].storage_type == "float" and columns["c0"].semantic is None
    named = semantic_table(n=500, seed=2, invalid_rate=0.0, kinds=("latitude", "longitude"))
    columns = infer_frame(tmp_path, named.frame, "named.csv")
    assert columns["latitude"].semantic == "latitude" and columns["latitude"].confidence == pytest.approx(0.8)
    assert columns["longitude"].semantic == "longitude"


def test_columns_without_a_semantic_type_get_none(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "city": rng.choice(["Paris", "Lima", "Oslo", "New York"], 500),
        "flight": rng.integers(1, 9999, 500),
        "temp": rng.normal(15, 10, 500).round(1),
        "code": [f"AB{i:03d}" for i in range(500)],
        "first_name": rng.choice(["Ada", "Alan", "Grace"], 500),
    })
    columns = infer_frame(tmp_path, frame)
    # the catalogue has place, person and code types now: named columns get them; plain numbers none
    assert {name: c.semantic for name, c in columns.items()} == {
        "city": "city", "flight": None, "temp": None, "code": "code", "first_name": "person_name"}
    assert [name for name, c in columns.items() if c.pii] == ["first_name"]
    anonymous = infer_frame(tmp_path, frame.set_axis(["c0", "c1", "c2", "c3", "c4"], axis=1), "anon.csv")
    assert {name: c.semantic for name, c in anonymous.items()} == {"c0": None, "c1": None, "c2": None, "c3": "code", "c4": None}
    assert columns["flight"].storage_type == "int" and columns["temp"].storage_type == "float"
    assert columns["code"].storage_type == "string" and columns["code"].nulls == 0


def test_storage_types_nulls_and_leading_zeros(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "zip": ["01234", "10001", "02139", None],
        "n": ["1", "2", None, "4"],
        "x": ["1.5", "2", "3e2", "4"],
        "flag": ["true", "False", "TRUE", "false"],
        "day": ["2024-01-31", "2024-02-29", None, "2024-03-01"],
        "us": ["01/31/2024", "12/01/2024", "02/29/2024", "03/01/2024"],
        "at": ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+02:00", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"],
    })
    columns = infer_frame(tmp_path, frame)
    types = {n: (c.storage_type, c.format, c.timezone_aware) for n, c in columns.items()}
    assert types == {
        "zip": ("string", None, False), "n": ("int", None, False), "x": ("float", None, False),
        "flag": ("bool", None, False), "day": ("date", None, False), "us": ("date", "%m/%d/%Y", False),
        "at": ("datetime", None, True),
    }
    assert columns["zip"].semantic == "postal_code" and columns["zip"].nulls == 1
    assert columns["n"].null_fraction == 0.25


@pytest.fixture
def related_files(tmp_path: Path) -> tuple[Path, int]:
    data = orders_and_customers(n=1000, seed=11)
    orders = data.orders.copy()
    orders["order_id"] = [str(i) for i in range(1, len(orders) + 1)]  # keep the key unique here
    landing = tmp_path / "landing"
    landing.mkdir()
    orders.to_csv(landing / "orders.csv", index=False)
    data.customers.to_csv(landing / "customers.csv", index=False)
    return tmp_path, len(data.injected["orphan_customer"])


def test_keys_and_foreign_keys(related_files: tuple[Path, int]) -> None:
    root, orphans = related_files
    report, _ = infer_files([root / "landing"], root)
    tables = {t.name: t for t in report.tables}
    assert ["customer_id"] in tables["customers"].primary_keys
    assert ["order_id"] in tables["orders"].primary_keys
    fks = [(f.table, f.column, f.ref_table, f.ref_column) for f in report.foreign_keys]
    assert fks == [("orders", "customer_id", "customers", "customer_id")]
    fk = report.foreign_keys[0]
    assert fk.orphan_rows == orphans and fk.coverage == pytest.approx(1 - orphans / 1000)


def test_composite_key_is_found(tmp_path: Path) -> None:
    frame = pd.DataFrame({"station": ["a", "a", "b", "b"], "hour": [1, 2, 1, 2], "temp": [1.0, 2.0, 3.0, 1.0]})
    frame.to_csv(tmp_path / "w.csv", index=False)
    report, _ = infer_files([tmp_path / "w.csv"])
    assert report.tables[0].primary_keys == [["station", "hour"]]


def test_cli_draft_validates_and_materializes(related_files: tuple[Path, int], capsys: pytest.CaptureFixture[str]) -> None:
    root, orphans = related_files
    draft = root / "draft.yaml"
    assert main(["infer", str(root / "landing"), "--data-root", str(root), "--out", str(draft), "--name", "shop"]) == 0
    printed = capsys.readouterr().out
    assert "orders.customer_id -> customers.customer_id" in printed and "candidate keys: (order_id)" in printed
    assert main(["validate", str(draft)]) == 0
    spec = load_spec(draft)
    orders = spec.clean["orders"].columns
    assert orders["customer_id"].references == "customers.customer_id"
    assert orders["order_id"].unique and orders["order_id"].required
    assert spec.clean["customers"].columns["email"].semantic == "email"
    assert orders["email"].semantic is None  # 2% injected invalid e-mails: only suggested in a comment
    assert "semantic: email (confidence 0.98; not every value is valid)" in draft.read_text()
    assert orders["placed"].type == "date" and orders["amount"].semantic == "currency_amount"
    defs = build_pipeline_definitions(spec)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(list(defs.assets or []), resources=build_resources(root), instance=instance)
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("shop/clean/orders", "schema")].passed
    assert checks[("shop/clean/orders", "references")].metadata["orphans/customer_id"].value == orphans


def test_cli_reports_a_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["infer", str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv: no such file or folder" in capsys.readouterr().err


def test_nycflights_dimension_files(tmp_path: Path) -> None:
    import shutil

    from etl_assets.demo.nycflights import package_data_dir

    for name in ("airlines.csv", "airports.csv", "planes.csv", "weather.csv"):
        shutil.copy(package_data_dir() / name, tmp_path / name)
    report, frames = infer_files([tmp_path])
    tables = {t.name: t for t in report.tables}
    assert tables["airports"].primary_keys == [["faa"]] and tables["planes"].primary_keys == [["tailnum"]]
    assert tables["weather"].primary_keys == [["time_hour", "origin"]]
    assert tables["airports"].column("lat").semantic == "latitude"
    assert tables["weather"].column("time_hour").storage_type == "datetime"
    assert [(f.table, f.column, f.ref_table, f.ref_column, f.coverage) for f in report.foreign_keys] == [
        ("weather", "origin", "airports", "faa", 1.0)
    ]
    draft = tmp_path / "draft.yaml"
    draft.write_text(report.to_yaml("nyc", frames))
    assert main(["validate", str(draft)]) == 0


def test_parquet_and_json_lines_files(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "id": np.arange(1, 101),
        "score": np.linspace(0, 1, 100),
        "email": [f"u{i}@example.org" for i in range(100)],
        "at": pd.date_range("2024-01-01", periods=100, freq="h", tz="UTC"),
    })
    frame.to_parquet(tmp_path / "events.parquet")
    frame.drop(columns=["at"]).to_json(tmp_path / "people.jsonl", orient="records", lines=True)
    report, frames = infer_files([tmp_path / "events.parquet", tmp_path / "people.jsonl"])
    tables = {t.name: t for t in report.tables}
    assert tables["events"].format == "parquet" and tables["people"].format == "jsonl"
    for table in tables.values():
        assert table.column("id").storage_type == "int" and table.column("score").storage_type == "float"
        assert table.column("email").semantic == "email" and table.column("email").pii
        assert table.primary_keys[0] == ["id"]
    assert tables["events"].column("at").storage_type == "datetime" and tables["events"].column("at").timezone_aware
    draft = tmp_path / "draft.yaml"
    draft.write_text(report.to_yaml("events", frames))
    spec = load_spec(draft)
    defs = build_pipeline_definitions(spec)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(list(defs.assets or []), resources=build_resources(tmp_path), instance=instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
