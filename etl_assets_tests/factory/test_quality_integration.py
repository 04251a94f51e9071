"""How the quality parts work together in real materializations: the per-row quality score
drives best-row dedup, the default quality_score threshold, and pattern anomalies through the
semantic-type catalogue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance

from etl_assets.factory import build_definitions
from etl_assets.lib.dedup.clean_step import clean_and_deduplicate
from etl_assets.lib.spec import parse_spec

CLEAN = AssetKey(["crm", "clean", "people"])
DUPLICATES = AssetKey(["crm", "duplicates", "people"])

# Checks per row: 5 columns (completeness) + semantic email + age min = 7.
COLUMNS = {
    "id": {"type": "int", "required": True},
    "name": {"type": "string"},
    "email": {"type": "string", "semantic": "email"},
    "age": {"type": "int", "min": 0},
    "city": {"type": "string"},
}
# Ann 1 is complete but has an invalid email and a negative age (5/7 checks pass);
# Ann 2 misses the city only (6/7): the better row is the less complete one.
PEOPLE = """id,name,email,age,city
1,Ann Lee,ann at example,-4,Oslo
2,ann  lee,ann@example.org,41,
3,Bob Ray,bob@example.org,35,Bergen
"""


def spec_text(clean_extra: dict | None = None, quality: dict | None = None, columns: dict | None = None) -> str:
    clean: dict = {"from": "people", "columns": columns or COLUMNS, **(clean_extra or {})}
    if quality is not None:
        clean["quality"] = quality
    return yaml.safe_dump(
        {
            "pipeline": "crm",
            "sources": {"people": {"format": "csv", "path": "landing/people.csv"}},
            "clean": {"people": clean},
        }
    )


BEST_ROW_DEDUP = {
    "dedup": {"keys": ["name"], "normalize": True, "fuzzy": {"fields": {"name": "name"}, "merge": "keep_best_quality"}}
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "people.csv").write_text(PEOPLE)
    return tmp_path


def materialize(root: Path, instance: DagsterInstance, text: str):
    defs = build_definitions([parse_spec(text)], root, root / "warehouse")
    return defs, defs.resolve_job_def("crm_job").execute_in_process(instance=instance, raise_on_error=False)


def checks_of(result) -> dict[str, object]:
    return {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == CLEAN}


def test_keep_best_quality_keeps_the_higher_quality_score_not_the_more_complete_row(root: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        defs, result = materialize(root, instance, spec_text(BEST_ROW_DEDUP))
        assert result.success
        clean = defs.load_asset_value(CLEAN, instance=instance)
        duplicates = defs.load_asset_value(DUPLICATES, instance=instance)
        checks = checks_of(result)
    ann = clean[clean["name"].str.lower().str.contains("ann")]
    assert ann["id"].tolist() == [2]  # completeness alone would keep id 1
    assert ann["_quality_score"].iloc[0] == pytest.approx(6 / 7)
    assert duplicates["id"].tolist() == [1] and duplicates["_quality_score"].iloc[0] == pytest.approx(5 / 7)
    assert list(clean.columns).count("_quality_score") == 1
    # the invalid row went to the duplicates table, so the stored table passes its schema
    assert checks["schema"].passed and checks["row_conservation"].passed  # type: ignore[attr-defined]


def test_plain_api_scores_rows_before_a_best_row_merge() -> None:
    spec = parse_spec(spec_text(BEST_ROW_DEDUP)).clean["people"]
    raw = pd.read_csv(pd.io.common.StringIO(PEOPLE), dtype=str)
    done = clean_and_deduplicate(raw, spec, table="people")
    assert done.result.clean["id"].tolist() == [2, 3]
    assert done.result.clean["_quality_score"].round(4).tolist() == [round(6 / 7, 4), 1.0]


def test_keep_first_does_not_add_a_row_score_before_dedup() -> None:
    extra = {"dedup": {"keys": ["name"], "normalize": True, "fuzzy": {"fields": {"name": "name"}, "merge": "keep_first"}}}
    spec = parse_spec(spec_text(extra)).clean["people"]
    raw = pd.read_csv(pd.io.common.StringIO(PEOPLE), dtype=str)
    done = clean_and_deduplicate(raw, spec, table="people")
    assert done.result.clean["id"].tolist() == [1, 3]
    assert "_quality_score" not in done.result.clean.columns


def test_pattern_anomalies_resolve_semantic_types_in_a_materialization(root: Path) -> None:
    extra = {"anomalies": {"pattern_columns": {"email": "email"}, "max_rate": 0.5}}
    with DagsterInstance.ephemeral() as instance:
        # email is not declared `semantic: email` (which the blocking schema check would enforce):
        # pattern anomalies tag bad values without stopping anything
        columns = {**COLUMNS, "email": {"type": "string"}, "age": {"type": "int"}}
        defs, result = materialize(root, instance, spec_text(extra, columns=columns))
        assert result.success
        clean = defs.load_asset_value(CLEAN, instance=instance).set_index("id")
    check = checks_of(result)["anomaly_rate"]
    assert check.passed  # type: ignore[attr-defined]
    assert check.metadata["anomalies_by_rule"].value == {"pattern:email": 1}  # type: ignore[attr-defined]
    assert clean["_is_anomaly"].tolist() == [True, False, False]
    reason = clean.loc[1, "_anomaly_reasons"]
    assert "not a valid email" in str(reason)
    assert "ann at example" not in str(reason) and "le'" in str(reason)  # PII is masked in reasons
    top = check.metadata["top_anomalies"].value  # type: ignore[attr-defined]
    assert "ann at example" not in str(top) and "id" in str(top)


def test_quality_score_warns_below_the_default_threshold(root: Path) -> None:
    # six declared columns, only the id filled: completeness 16.7, overall (16.7 + 3 x 100) / 4 = 79.2
    (root / "landing" / "people.csv").write_text("id,name,email,age,city,zip\n1,,,,,\n2,,,,,\n")
    columns = {**COLUMNS, "zip": {"type": "string"}}
    with DagsterInstance.ephemeral() as instance:
        defs, result = materialize(root, instance, spec_text(columns=columns))
        spec = next(s for s in defs.resolve_asset_graph().asset_check_keys if s.name == "quality_score")
        check_spec = defs.resolve_asset_graph().get_check_spec(spec)
    assert result.success  # WARN by default: nothing stops
    check = checks_of(result)["quality_score"]
    assert not check.passed and check.severity == AssetCheckSeverity.WARN  # type: ignore[attr-defined]
    assert "79.2 below 80" in check.description  # type: ignore[attr-defined]
    assert check.metadata["min_score"].value == 80.0  # type: ignore[attr-defined]
    assert "at least 80 (WARN" in check_spec.description and not check_spec.blocking


def test_quality_score_threshold_and_severity_from_the_spec(root: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        _, result = materialize(root, instance, spec_text(BEST_ROW_DEDUP, quality={"min_score": 99, "severity": "error"}))
    check = checks_of(result)["quality_score"]
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR  # type: ignore[attr-defined]
    assert not result.success  # ERROR makes it blocking
