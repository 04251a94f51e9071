"""The semantic type catalogue: every validator accepts valid values and rejects broken ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.quality.semantic import SEMANTIC_TYPES, valid_mask
from etl_assets_tests.lib.quality.datagen import INVALID, SEMANTIC_COLUMNS, semantic_table


def test_catalogue_covers_the_issue_and_flags_pii() -> None:
    assert set(SEMANTIC_COLUMNS) <= set(SEMANTIC_TYPES)
    pii = {name for name, t in SEMANTIC_TYPES.items() if t.pii}
    assert {"email", "phone", "ssn", "credit_card", "ip_address"} <= pii
    assert not {"uuid", "country_code", "latitude", "date"} & pii


@pytest.mark.parametrize("kind", sorted(SEMANTIC_TYPES))
def test_example_valid_and_known_invalid(kind: str) -> None:
    values = pd.Series([SEMANTIC_TYPES[kind].example, *INVALID[kind], None], dtype="str")
    got = valid_mask(values, kind).tolist()
    assert got == [True, *[False] * len(INVALID[kind]), True], (kind, got)


def test_generated_values_match_ground_truth_exactly() -> None:
    data = semantic_table(n=3000, seed=3)
    for column, (kind, bad) in data.truth.items():
        mask = valid_mask(data.frame[column], kind).to_numpy()
        # every injected value is caught (recall 1) and no valid one is flagged (precision 1)
        assert np.array_equal(~mask, bad), (kind, int((~mask & ~bad).sum()), int((mask & bad).sum()))


def test_numeric_inputs() -> None:
    assert valid_mask(pd.Series([40.6, -91.0, np.nan]), "latitude").tolist() == [True, False, True]
    assert valid_mask(pd.Series([-179.5, 180.5]), "longitude").tolist() == [True, False]
    assert valid_mask(pd.Series([12.5, 12.345, 3.0]), "currency_amount").tolist() == [True, False, True]
    assert valid_mask(pd.Series([10001, 12, 99950], dtype="Int64"), "postal_code").tolist() == [True, False, True]
    assert valid_mask(pd.Series(pd.to_datetime(["2020-01-01", None])), "date").tolist() == [True, True]


def test_luhn_checksum() -> None:
    cards = pd.Series(["4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005", "5555555555554444", "5555555555554445"])
    assert valid_mask(cards, "credit_card").tolist() == [True, True, True, True, False]


def test_unknown_kind_names_the_catalogue() -> None:
    with pytest.raises(KeyError, match=r"unknown semantic type 'zip'.*postal_code"):
        valid_mask(pd.Series(["1"]), "zip")


def test_api_contract_for_pattern_anomalies() -> None:
    """Anomaly tagging imports ``valid_mask`` and ``SEMANTIC_TYPES``: a bool Series aligned with
    the input's index (any index), nulls valid."""
    values = pd.Series(["a@example.org", None, "nope"], index=[10, 20, 30], dtype="str")
    mask = valid_mask(values, "email")
    assert mask.dtype == bool and mask.index.tolist() == [10, 20, 30] and mask.tolist() == [True, True, False]
    assert all(isinstance(name, str) and t.name == name for name, t in SEMANTIC_TYPES.items())
    assert valid_mask(pd.Series([], dtype="str"), "uuid").tolist() == []


def test_internationalised_email_local_parts_are_valid() -> None:
    values = pd.Series(["josé.ramos@example.org", "øyvind@mail.net", "zoë@x.io", "a b@x.org", "josé@exampleorg"], dtype="str")
    assert valid_mask(values, "email").tolist() == [True, True, True, False, False]
