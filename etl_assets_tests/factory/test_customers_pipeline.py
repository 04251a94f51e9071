"""The customers demo pipeline end to end: two systems mapped to one schema, fuzzy dedup with an
embedding field, the duplicates asset, row conservation and the mapping check; schema drift
fixed with ``etl-assets mapping accept``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from etl_assets.cli import main
from etl_assets.demo.customers import cluster_pairs, land_customers, precision_recall, true_pairs
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import load_spec
from etl_assets_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.xdist_group("embedding_model")

CLEAN = AssetKey(["customers", "clean", "customers"])
DUPLICATES = AssetKey(["customers", "duplicates", "customers"])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))  # the embedding cache lives beside it
    (tmp_path / "pipelines").mkdir()
    shutil.copy(PROJECT_ROOT / "pipelines" / "customers.yaml", tmp_path / "pipelines" / "customers.yaml")
    land_customers(tmp_path / "data", n_records=800)
    return tmp_path


def _run(project: Path, instance: DagsterInstance):
    spec = load_spec(project / "pipelines" / "customers.yaml")
    defs = build_definitions([spec], project / "data", project / "data" / "warehouse")
    result = defs.resolve_job_def("customers_job").execute_in_process(instance=instance, raise_on_error=False)
    return defs, result


def test_two_systems_mapped_and_deduplicated(project: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        defs, result = _run(project, instance)
        assert result.success
        checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
        assert all(checks.values()), [k for k, passed in checks.items() if not passed]
        assert {
            ("customers/clean/customers", "row_conservation"),
            ("customers/clean/customers", "mapping"),
            ("customers/clean/customers", "schema"),
            ("customers/clean/customers", "schema_drift"),
            ("customers/clean/customers", "quality_score"),
            ("customers/clean/customers", "anomaly_rate"),  # e-mail pattern anomalies
        } <= set(checks)
        clean = defs.load_asset_value(CLEAN, instance=instance)
        duplicates = defs.load_asset_value(DUPLICATES, instance=instance)
        metadata = instance.get_latest_materialization_event(CLEAN).asset_materialization.metadata  # type: ignore[union-attr]

    landed = project / "data" / "landing" / "customers"
    crm, shop = pd.read_csv(landed / "crm.csv"), pd.read_csv(landed / "shop.csv")
    truth = pd.read_csv(landed / "truth.csv").set_index("record_id")["person_id"]
    # nothing lost: output + duplicates == input (no row is rejected in this data)
    assert sorted([*clean["customer_id"], *duplicates["customer_id"]]) == sorted([*crm["cust_no"], *shop["CustomerID"]])
    assert set(duplicates["_kept_id"]) <= set(clean["customer_id"])
    assert {"_cluster_id", "_cluster_size", "_quality_score", "_is_anomaly"} <= set(clean.columns)
    # field_wise picks the survivor by the per-row quality score computed before dedup
    assert "_quality_score" in duplicates.columns
    assert metadata["dedup_rows_removed"].value == len(duplicates)
    assert {"dedup_score_histogram", "dedup_borderline_pairs", "mapping_applied", "embedding_cache"} <= set(metadata)
    applied = metadata["mapping_applied"].value
    assert applied["shop"]["GivenName"]["target"] == "first_name"
    assert applied["crm"]["cust_no"]["target"] == "customer_id"

    # ground truth: predicted pairs (kept row + its duplicates) against the generator's persons
    ids = [*clean["customer_id"], *duplicates["customer_id"]]
    cluster = [*clean["customer_id"], *duplicates["_kept_id"]]
    position = {record: k for k, record in enumerate(ids)}
    labels = pd.factorize(pd.Series([position[c] for c in cluster]))[0]
    precision, recall, _ = precision_recall(cluster_pairs(np.asarray(labels)), true_pairs(truth.loc[ids].to_numpy()))
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_renamed_column_fails_the_mapping_check_until_accepted(project: Path) -> None:
    shop_file = project / "data" / "landing" / "customers" / "shop.csv"
    shop = pd.read_csv(shop_file, dtype=str)
    shop.rename(columns={"EmailAddress": "col_x"}).to_csv(shop_file, index=False)  # schema drift
    with DagsterInstance.ephemeral() as instance:
        _, result = _run(project, instance)
        mapping = next(c for c in result.get_asset_check_evaluations() if c.check_name == "mapping")
        assert not mapping.passed
        proposals = mapping.metadata["proposals"].value
        assert proposals["shop"][0]["target"] == "email" and proposals["shop"][0]["source"] == "col_x"
        assert proposals["shop"][0]["confidence"] < 0.75  # low confidence: not applied automatically
        # the blocking check stops the aggregate downstream
        assert not any(e.asset_key == AssetKey(["customers", "agg", "by_company"]) for e in [
            ev.event_specific_data.materialization for ev in result.get_asset_materialization_events()
        ])

    spec_file = project / "pipelines" / "customers.yaml"
    assert main(["mapping", "accept", str(spec_file), "customers", "--source", "shop", "--data-root", str(project / "data")]) == 0
    sidecar = (project / "pipelines" / "mappings" / "customers.yaml").read_text()
    assert "col_x: email" in sidecar
    assert load_spec(spec_file).clean["customers"].mapping.accepted["shop"]["col_x"] == "email"  # type: ignore[union-attr]
    with DagsterInstance.ephemeral() as instance:
        _, result = _run(project, instance)
        assert result.success
        assert all(c.passed for c in result.get_asset_check_evaluations())


def test_labelled_pairs_file_fits_the_weights(project: Path) -> None:
    """``labels:`` in the spec: a CSV of labelled pairs under the data root replaces EM."""
    spec_file = project / "pipelines" / "customers.yaml"
    text = spec_file.read_text().replace("company: embedding ", "company: token_set ")
    spec_file.write_text(text.replace("        id_column: customer_id", "        id_column: customer_id\n        labels: labels/pairs.csv"))
    (project / "data" / "labels").mkdir()
    (project / "data" / "labels" / "pairs.csv").write_text("left,right\n0,1\n")  # no 'match' column
    with DagsterInstance.ephemeral() as instance:
        _, result = _run(project, instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "labels/pairs.csv" in str(failure.event_specific_data) and "match" in str(failure.event_specific_data)

    # a labelled sample by customer id: same person (true) and other people (false)
    truth = pd.read_csv(project / "data" / "landing" / "customers" / "truth.csv")
    same = truth[truth.duplicated("person_id", keep=False)].groupby("person_id")["record_id"].agg(list)
    positives = [(ids[0], ids[1], True) for ids in same.head(60)]
    shuffled = truth.sample(frac=1.0, random_state=0)["record_id"].tolist()
    negatives = [(a, b, False) for a, b in zip(shuffled[:200], shuffled[200:400], strict=True)]
    pd.DataFrame(positives + negatives, columns=["left", "right", "match"]).to_csv(project / "data" / "labels" / "pairs.csv", index=False)
    with DagsterInstance.ephemeral() as instance:
        defs, result = _run(project, instance)
        assert result.success
        clean = defs.load_asset_value(CLEAN, instance=instance)
        duplicates = defs.load_asset_value(DUPLICATES, instance=instance)
    person = truth.set_index("record_id")["person_id"]
    kept_person = person.loc[duplicates["_kept_id"]].to_numpy()
    assert (person.loc[duplicates["customer_id"]].to_numpy() == kept_person).mean() >= 0.95
    assert len(clean) + len(duplicates) == len(truth)
    assert len(duplicates) >= 0.9 * (len(truth) - truth["person_id"].nunique())
