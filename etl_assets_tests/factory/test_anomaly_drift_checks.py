"""Anomaly and schema-drift checks in real materializations on a real Dagster instance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from dagster import AssetKey, DagsterInstance

from etl_assets.cli import main as cli_main
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import SpecError, parse_spec

CLEAN_KEY = AssetKey(["shop", "clean", "items"])
AGG_KEY = AssetKey(["shop", "agg", "totals"])


def spec_text(columns: dict[str, dict], anomalies: dict | None = None, drift: dict | None = None) -> str:
    clean: dict = {"from": "items", "columns": columns}
    if anomalies is not None:
        clean["anomalies"] = anomalies
    if drift is not None:
        clean["schema_drift"] = drift
    return yaml.safe_dump(
        {
            "pipeline": "shop",
            "sources": {"items": {"format": "csv", "path": "landing/items.csv"}},
            "clean": {"items": clean},
            "aggregates": {"totals": {"from": "items", "group_by": ["shelf"], "metrics": {"n": "count()", "qty": "sum(qty)"}}},
        }
    )


V1 = {
    "id": {"type": "int", "required": True},
    "shelf": {"type": "string", "required": True},
    "qty": {"type": "int"},
    "note": {"type": "string"},
}


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    qty = rng.normal(50, 5, 400).round().astype(int)
    qty[[10, 200]] = [900, -700]  # two point outliers
    lines = ["id,shelf,qty,note,comment"] + [f"{i},{'ab'[i % 2]},{q},n{i}," for i, q in enumerate(qty)]
    lines[5] = "4,a,,,"  # a null qty: never an anomaly
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "items.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.fixture
def instance(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    with DagsterInstance.from_config(str(home)) as inst:
        yield inst


def materialize(root: Path, instance: DagsterInstance, text: str):
    defs = build_definitions([parse_spec(text)], root, root / "warehouse")
    return defs.resolve_job_def("shop_job").execute_in_process(instance=instance, raise_on_error=False)


def evaluation(result, key: AssetKey, name: str):
    found = [e for e in result.get_asset_check_evaluations() if e.asset_key == key and e.check_name == name]
    assert len(found) == 1, [(e.asset_key, e.check_name) for e in result.get_asset_check_evaluations()]
    return found[0]


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_anomaly_check_tags_rows_and_reports_top_anomalies(landed: Path, instance: DagsterInstance) -> None:
    anomalies = {"zscore": {"columns": ["qty"], "group_by": ["shelf"], "threshold": 6}, "max_rate": 0.01}
    result = materialize(landed, instance, spec_text(V1, anomalies))
    assert result.success
    check = evaluation(result, CLEAN_KEY, "anomaly_rate")
    assert check.passed and check.severity.value == "WARN"
    meta = check.metadata
    assert meta["anomalies"].value == 2 and meta["rows"].value == 400
    assert meta["anomaly_rate"].value == pytest.approx(0.005)
    top = meta["top_anomalies"].value
    assert [row["id"] for row in top] == [200, 10] or [row["id"] for row in top] == [10, 200]
    assert all("within shelf=" in row["_anomaly_reasons"] for row in top)

    defs = build_definitions([parse_spec(spec_text(V1, anomalies))], landed, landed / "warehouse")
    stored = defs.load_asset_value(CLEAN_KEY, instance=instance)
    assert stored["_is_anomaly"].sum() == 2 and len(stored) == 400  # tagged, nothing filtered
    assert not stored.loc[stored["qty"].isna(), "_is_anomaly"].any()


def test_anomaly_rate_above_threshold_warns_or_blocks_as_the_spec_says(landed: Path, instance: DagsterInstance) -> None:
    warn = {"zscore": {"columns": ["qty"], "threshold": 6}, "max_rate": 0.001}
    result = materialize(landed, instance, spec_text(V1, warn))
    check = evaluation(result, CLEAN_KEY, "anomaly_rate")
    assert not check.passed and check.severity.value == "WARN"
    assert "above the threshold" in check.description
    assert "shop/agg/totals" in materialized(result)  # a warning does not stop downstream

    block = {**warn, "severity": "error", "blocking": True}
    result = materialize(landed, instance, spec_text(V1, block))
    assert not evaluation(result, CLEAN_KEY, "anomaly_rate").passed
    assert "shop/agg/totals" not in materialized(result)


def test_schema_drift_across_materializations(landed: Path, instance: DagsterInstance, tmp_path: Path, capsys) -> None:
    first = materialize(landed, instance, spec_text(V1))
    assert first.success
    check = evaluation(first, CLEAN_KEY, "schema_drift")
    assert check.passed and "nothing to compare" in check.description
    assert evaluation(first, AGG_KEY, "schema_drift").passed
    meta = instance.get_latest_materialization_event(CLEAN_KEY).asset_materialization.metadata
    assert meta["schema/version"].value == 1 and len(meta["schema/fingerprint"].value) == 64
    assert {c["name"]: c["nullable"] for c in meta["schema/columns"].value}["id"] is False

    # unchanged: passes, same version
    again = materialize(landed, instance, spec_text(V1))
    assert "unchanged" in evaluation(again, CLEAN_KEY, "schema_drift").description
    assert instance.get_latest_materialization_event(CLEAN_KEY).asset_materialization.metadata["schema/version"].value == 1

    # compatible: a new nullable column and int -> float (widening)
    compatible = {**V1, "comment": {"type": "string"}, "qty": {"type": "float"}}
    second = materialize(landed, instance, spec_text(compatible))
    check = evaluation(second, CLEAN_KEY, "schema_drift")
    assert check.passed, check.description
    assert "added nullable column 'comment'" in check.description and "widened 'qty' from int64 to float64" in check.description
    assert "shop/agg/totals" in materialized(second)

    # breaking: a removed column, a narrowing change and nullable -> required; blocks downstream
    breaking = {k: v for k, v in compatible.items() if k != "note"}
    breaking["qty"] = {"type": "int"}
    breaking["comment"] = {"type": "string", "nulls": "default", "default": "-"}
    third = materialize(landed, instance, spec_text(breaking))
    check = evaluation(third, CLEAN_KEY, "schema_drift")
    assert not check.passed and check.severity.value == "ERROR"
    for text in ("removed column 'note'", "narrowed 'qty' from float64 to int64", "'comment' went from nullable to required"):
        assert text in check.description
    assert "shop/agg/totals" not in materialized(third)
    assert not third.success

    # the history, from the CLI, on the same instance
    home = Path(instance.root_directory)
    assert cli_main(["schema", "history", "shop/clean/items", "--dagster-home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "3 schema version(s)" in out and "v1" in out and "v3" in out
    assert "BREAKING: removed column 'note'" in out and "compatible: added nullable column 'comment'" in out
    assert cli_main(["schema", "history", "shop/clean/items", "--dagster-home", str(home), "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in versions] == [1, 2, 3]

    # pin version 1 and compare a fresh instance's first run against it
    pinned = tmp_path / "items.schema.json"
    pinned.write_text(json.dumps(versions[0]))
    fresh_home = tmp_path / "fresh"
    fresh_home.mkdir()
    (fresh_home / "dagster.yaml").write_text("")
    with DagsterInstance.from_config(str(fresh_home)) as fresh:
        result = materialize(landed, fresh, spec_text(breaking, drift={"pinned": str(pinned)}))
        check = evaluation(result, CLEAN_KEY, "schema_drift")
        assert not check.passed and "pinned schema" in check.description and "removed column 'note'" in check.description


def test_cli_history_of_an_unknown_asset_and_home(instance: DagsterInstance, tmp_path: Path, capsys) -> None:
    assert cli_main(["schema", "history", "shop/clean/nothing", "--dagster-home", instance.root_directory]) == 0
    assert "no recorded schema" in capsys.readouterr().out
    assert cli_main(["schema", "history", "x", "--dagster-home", str(tmp_path / "nowhere")]) == 1


@pytest.mark.parametrize(
    ("anomalies", "field", "message"),
    [
        ({"zscore": {"columns": ["shelf"]}}, "clean.items.anomalies.zscore.0.columns.0", "'shelf' is string; anomaly scores need a numeric column"),
        ({"zscore": {"columns": ["qtty"]}}, "clean.items.anomalies.zscore.0.columns.0", "unknown column 'qtty'"),
        ({"zscore": {"columns": ["qty"], "group_by": ["shelff"]}}, "clean.items.anomalies.zscore.0.group_by.0", "unknown column 'shelff'"),
        ({"isolation_forest": {"columns": ["qty"], "contamination": 0.9}}, "clean.items.anomalies.isolation_forest.contamination", "(0, 0.5]"),
        ({"zscore": [{"columns": ["qty"]}, {"columns": ["note"]}]}, "clean.items.anomalies.zscore.1.columns.0", "'note' is string"),
        ({"max_rate": 0.1}, "clean.items.anomalies", "at least one method"),
        ({"zscore": {"columns": ["qty"]}, "blocking": True}, "clean.items.anomalies.blocking", "needs severity: error"),
        ({"zscore": {"columns": ["qty"], "treshold": 3}}, "clean.items.anomalies.zscore.0.treshold", "did you mean 'threshold'"),
    ],
)
def test_anomaly_spec_errors_name_file_line_and_field(anomalies: dict, field: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(spec_text(V1, anomalies), file=Path("shop.yaml"))
    text = str(info.value)
    assert f": {field}: " in text and message in text
    assert "shop.yaml:" in text


def test_pattern_columns_need_the_semantic_catalogue_or_a_known_kind() -> None:
    from etl_assets.lib.quality.patterns import known_semantic_kinds

    with pytest.raises(SpecError) as info:
        parse_spec(spec_text(V1, {"pattern_columns": {"note": "no_such_kind"}}))
    text = str(info.value)
    assert "clean.items.anomalies.pattern_columns.note" in text
    if known_semantic_kinds() is None:
        assert "semantic-type catalogue" in text
    else:
        assert "unknown semantic type 'no_such_kind'" in text


def test_breaking_drift_on_a_partitioned_table_stops_its_partitioned_aggregate(tmp_path: Path, shop_spec_text: str, instance: DagsterInstance) -> None:
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from etl_assets_tests.conftest import write_customers, write_orders

    write_customers(tmp_path)
    for day in ("2024-01-01", "2024-01-02"):
        write_orders(tmp_path, day, [("1", "1", "10.0", f"{day}T09:00:00Z"), ("2", "2", "5.5", f"{day}T10:00:00Z")])

    def run(text: str, day: str):
        defs = build_definitions([parse_spec(text)], tmp_path, tmp_path / "warehouse")
        tags = {ASSET_PARTITION_RANGE_START_TAG: day, ASSET_PARTITION_RANGE_END_TAG: day}
        return defs.resolve_job_def("shop_job").execute_in_process(instance=instance, tags=tags, raise_on_error=False)

    orders = AssetKey(["shop", "clean", "orders"])
    assert evaluation(run(shop_spec_text, "2024-01-01"), orders, "schema_drift").passed
    # amount: float -> int is a narrowing change; the daily aggregate of that partition must not run
    narrowed = shop_spec_text.replace("amount: {type: float}", "amount: {type: int}")
    assert narrowed != shop_spec_text
    result = run(narrowed, "2024-01-02")
    check = evaluation(result, orders, "schema_drift")
    assert not check.passed and "narrowed 'amount' from float64 to int64" in check.description
    assert "shop/agg/daily_country" not in materialized(result)
    assert instance.get_latest_materialization_event(orders).asset_materialization.partition == "2024-01-02"


def test_switching_anomaly_tagging_on_is_a_compatible_schema_change(landed: Path, instance: DagsterInstance) -> None:
    assert materialize(landed, instance, spec_text(V1)).success
    result = materialize(landed, instance, spec_text(V1, {"zscore": {"columns": ["qty"]}}))
    check = evaluation(result, CLEAN_KEY, "schema_drift")
    assert check.passed
    for column in ("_anomaly_score", "_is_anomaly", "_anomaly_reasons"):
        assert f"added nullable column '{column}'" in check.description
    assert instance.get_latest_materialization_event(CLEAN_KEY).asset_materialization.metadata["schema/version"].value == 2
