"""The spec's anomalies block -> AnomalyConfig, and the semantic-type lookup for pattern columns."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest
import yaml

from etl_assets.lib.quality.anomaly import FLAG_COLUMN, REASONS_COLUMN, tag_anomalies
from etl_assets.lib.quality.anomaly_spec import anomaly_config
from etl_assets.lib.quality.patterns import SEMANTIC_MODULE, SemanticCatalogueMissing, semantic_rule
from etl_assets.lib.spec import SpecError, parse_spec

SPEC = {
    "pipeline": "crm",
    "sources": {"people": {"format": "csv", "path": "people.csv"}},
    "clean": {
        "people": {
            "from": "people",
            "columns": {"email": {"type": "string"}, "age": {"type": "int"}, "team": {"type": "string"}},
            "anomalies": {
                "zscore": {"columns": ["age"], "group_by": ["team"], "threshold": 5},
                "isolation_forest": {"columns": ["age"], "contamination": "auto", "sample_size": 1000},
                "pattern_columns": {"email": "email"},
            },
        }
    },
}


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """A stand-in for Part A's semantic module with the same interface; records its calls."""
    calls: list[tuple[int, str]] = []
    module = types.ModuleType(SEMANTIC_MODULE)
    module.SEMANTIC_TYPES = {"email": object(), "uuid": object()}  # type: ignore[attr-defined]

    def valid_mask(values: pd.Series, kind: str) -> pd.Series:
        calls.append((len(values), kind))
        return values.str.contains("@", regex=False)

    module.valid_mask = valid_mask  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, SEMANTIC_MODULE, module)
    return calls


def test_spec_block_becomes_a_config_that_tags(catalogue: list[tuple[int, str]]) -> None:
    spec = parse_spec(yaml.safe_dump(SPEC))
    config = anomaly_config(spec.clean["people"].anomalies)  # type: ignore[arg-type]
    assert config.zscore_configs[0].group_by == ("team",) and config.zscore_configs[0].threshold == 5
    assert config.isolation_forest is not None and config.isolation_forest.contamination == "auto"
    frame = pd.DataFrame(
        {
            "email": pd.array(["a@x.org", "not-an-email", None, "b@y.org"], dtype="string"),
            "age": pd.array([30, 31, 29, 30], dtype="Int64"),
            "team": ["t"] * 4,
        }
    )
    tagged = tag_anomalies(frame, config).frame
    assert catalogue == [(4, "email")]
    assert tagged.loc[1, FLAG_COLUMN] and "email='not-an-email': not a valid email" in tagged.loc[1, REASONS_COLUMN]
    assert "email" not in str(tagged.loc[2, REASONS_COLUMN])  # a null email is not a pattern anomaly


def test_unknown_semantic_kind_is_a_spec_error(catalogue: list[tuple[int, str]]) -> None:
    data = yaml.safe_load(yaml.safe_dump(SPEC))
    data["clean"]["people"]["anomalies"]["pattern_columns"] = {"email": "emial"}
    with pytest.raises(SpecError, match=r"clean\.people\.anomalies\.pattern_columns\.email: unknown semantic type 'emial'; expected one of: email, uuid"):
        parse_spec(yaml.safe_dump(data))
    with pytest.raises(KeyError, match="emial"):
        semantic_rule("emial")


def test_missing_catalogue_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, SEMANTIC_MODULE, None)  # import fails as if not installed
    with pytest.raises(SemanticCatalogueMissing, match=r"need etl_assets\.lib\.quality\.semantic"):
        semantic_rule("email")
    with pytest.raises(SpecError, match="semantic-type catalogue"):
        parse_spec(yaml.safe_dump(SPEC))


def _partitioned(anomalies: dict, partitioned: bool = True) -> str:
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["partitions"] = {"type": "daily", "start": "2024-01-01"}
    spec["sources"]["people"] = {"format": "csv", "path": "people/{partition}.csv" if partitioned else "people.csv", "partitioned": partitioned}
    spec["clean"]["people"]["anomalies"] = {"zscore": {"columns": ["age"]}, **anomalies}
    return yaml.safe_dump(spec)


def test_reference_defaults_to_per_partition_and_reads_a_yaml_date_window() -> None:
    assert parse_spec(_partitioned({})).clean["people"].anomalies.reference == "per_partition"
    text = _partitioned({}).replace("zscore:", "reference: {window: {start: 2024-01-01, end: 2024-01-31}}\n      zscore:", 1)
    window = parse_spec(text).clean["people"].anomalies.reference.window
    assert (window.start, window.end) == ("2024-01-01", "2024-01-31")


@pytest.mark.parametrize(
    ("anomalies", "partitioned", "message"),
    [
        ({"reference": {"window": {"start": "2024-01-01", "end": "2024-01-31"}}}, False, "a reference window needs a partitioned table"),
        ({"reference": {"window": {"start": "2024-02-01", "end": "2024-01-31"}}}, True, "start '2024-02-01' is after end '2024-01-31'"),
        ({"reference": "per_run"}, True, "per_partition"),
        ({"reference": {"window": {"start": "2024-01-01"}}}, True, "end"),
    ],
)
def test_reference_errors_name_the_field(anomalies: dict, partitioned: bool, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_partitioned(anomalies, partitioned), file="crm.yaml")
    assert "clean.people.anomalies.reference" in str(info.value) and message in str(info.value)
