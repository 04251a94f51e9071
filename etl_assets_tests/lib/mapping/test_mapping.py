"""Schema mapping on pairs of schemas with known correct mappings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.mapping import map_columns, propose_mapping, read_sidecar, tokens, write_sidecar
from etl_assets.lib.spec.models import ColumnSpec


def _targets(**types: str) -> dict[str, ColumnSpec]:
    return {name: ColumnSpec(type=t) for name, t in types.items()}  # type: ignore[arg-type]


rng = np.random.default_rng(0)
N = 50
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [f"C{i:05d}" for i in range(N)],
        "first_name": rng.choice(["Ann", "Bob", "Cy", "Dee"], N),
        "last_name": rng.choice(["Lee", "Ray", "Moss", "Vance"], N),
        "email": [f"user{i}@example.org" for i in range(N)],
        "phone": [f"555-01{i:02d}" for i in range(N)],
        "dob": pd.date_range("1970-01-01", periods=N, freq="37D").strftime("%Y-%m-%d"),
        "city": rng.choice(["Oslo", "Lima", "Kyiv"], N),
    }
)
CUSTOMER_TARGETS = _targets(customer_id="string", first_name="string", last_name="string", email="string",
                            phone="string", dob="date", city="string")
ORDERS = pd.DataFrame(
    {
        "order_id": np.arange(N),
        "amount": rng.uniform(1, 100, N).round(2),
        "quantity": rng.integers(1, 9, N),
        "placed_at": pd.date_range("2024-01-01", periods=N, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
        "status": rng.choice(["new", "paid", "shipped"], N),
    }
).astype(str)
ORDER_TARGETS = _targets(order_id="int", amount="float", quantity="int", placed_at="datetime", status="category")

# (source frame with renamed columns, targets, known mapping source -> target)
CASES = [
    (CUSTOMERS, CUSTOMER_TARGETS, {"cust_no": "customer_id", "fname": "first_name", "lname": "last_name",
                                   "e_mail": "email", "tel": "phone", "birth_date": "dob", "town": "city"}),
    (CUSTOMERS, CUSTOMER_TARGETS, {"CustomerID": "customer_id", "GivenName": "first_name", "FamilyName": "last_name",
                                   "EmailAddress": "email", "PhoneNumber": "phone", "DateOfBirth": "dob", "City": "city"}),
    (CUSTOMERS, CUSTOMER_TARGETS, {"ClientKey": "customer_id", "Forename": "first_name", "Surname": "last_name",
                                   "mail": "email", "mobile": "phone", "born": "dob", "municipality": "city"}),
    (ORDERS, ORDER_TARGETS, {"OrderNo": "order_id", "amt": "amount", "qty": "quantity", "PlacedTimestamp": "placed_at",
                             "order_status": "status"}),
    (ORDERS, ORDER_TARGETS, {"ORDER_NUMBER": "order_id", "total_amount": "amount", "units": "quantity",
                             "placed": "placed_at", "state": "status"}),
]


def test_tokens_expand_abbreviations() -> None:
    assert tokens("cust_no") == ["customer", "id"]
    assert tokens("DateOfBirth") == tokens("dob") == ["birth", "date"]
    assert tokens("e_mail") == tokens("EmailAddress") == ["email"]


def test_top_proposal_accuracy_on_known_schema_pairs() -> None:
    right = total = 0
    for frame, targets, known in CASES:
        source = frame.rename(columns={t: s for s, t in known.items()})
        proposals = {p.target: p for p in propose_mapping(source, targets)}
        for s, t in known.items():
            total += 1
            right += proposals[t].source == s
    accuracy = right / total
    assert accuracy >= 0.9, f"top-proposal accuracy {accuracy:.2f} ({right}/{total})"


def test_values_break_ties_that_names_cannot() -> None:
    # meaningless names: only the values (against the target's previous data) tell them apart
    source = CUSTOMERS[["email", "dob", "city"]].rename(columns={"email": "col_a", "dob": "col_b", "city": "col_c"})
    targets = {"email": CUSTOMER_TARGETS["email"], "dob": CUSTOMER_TARGETS["dob"], "city": CUSTOMER_TARGETS["city"]}
    previous = CUSTOMERS.iloc[::-1].reset_index(drop=True)
    proposals = {p.target: p.source for p in propose_mapping(source, targets, previous=previous)}
    assert proposals == {"email": "col_a", "dob": "col_b", "city": "col_c"}


def test_confident_mappings_apply_and_low_confidence_do_not() -> None:
    source = CUSTOMERS.rename(columns={"first_name": "fname", "email": "zz_9"})
    outcome = map_columns(source, CUSTOMER_TARGETS, threshold=0.8)
    assert outcome.automatic["fname"].target == "first_name"
    assert [p.target for p in outcome.unresolved] == ["email"]
    assert outcome.unresolved[0].confidence < 0.8
    assert not outcome.ok
    # the unresolved target exists (empty) so rows can still be accounted for; zz_9 is untouched
    assert outcome.frame["email"].isna().all() and "zz_9" in outcome.frame
    accepted = map_columns(source, CUSTOMER_TARGETS, accepted={"zz_9": "email"}, threshold=0.8)
    assert accepted.ok and accepted.frame["email"].tolist() == CUSTOMERS["email"].tolist()
    with pytest.raises(ValueError, match="unknown target column"):
        map_columns(source, CUSTOMER_TARGETS, accepted={"zz_9": "mail"})


def test_sidecar_round_trip(tmp_path: Path) -> None:
    spec = tmp_path / "shop.yaml"
    write_sidecar(spec, "customers", "crm", {"fname": "first_name"})
    write_sidecar(spec, "customers", "crm", {"tel": "phone"})
    assert read_sidecar(spec) == {"customers": {"crm": {"fname": "first_name", "tel": "phone"}}}
    assert (tmp_path / "mappings" / "shop.yaml").exists()
