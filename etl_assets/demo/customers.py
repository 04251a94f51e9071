"""Made-up customer records with near-duplicates and ground truth (fixed seed).

People (first/last name, email, phone, date of birth, company, city) are drawn from the
vocabularies shipped as package data (``data/customers_vocabulary.json``); some get extra records with the errors real customer files have: typos, swapped
name parts, nicknames, accents and case, company abbreviations ("International Business Machines"
/ "IBM Corp"), re-formatted phones, day/month swaps, missing fields. Every record carries the id
of the person it describes in the ground truth (never in the data given to the matcher).

Two profiles make differently generated data sets, so a default threshold can be checked on
more than the data it was chosen on: ``"a"`` (moderate noise) and ``"b"`` (other vocabulary
slice, more missing values, heavier typos, more duplicates per person).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The vocabularies live in package data (``etl_assets/demo/data/customers_vocabulary.json``),
#: not in code; the generator draws from them by position, so editing them changes every
#: generated data set (a test pins the output of fixed seeds).
VOCABULARY_FILE = "customers_vocabulary.json"


def _load_vocabulary() -> dict[str, Any]:
    text = resources.files("etl_assets.demo").joinpath("data", VOCABULARY_FILE).read_text(encoding="utf-8")
    return json.loads(text)


_VOCABULARY = _load_vocabulary()
FIRST: list[str] = _VOCABULARY["first_names"]
NICKNAMES: dict[str, str] = _VOCABULARY["nicknames"]
_SYLLABLES_A: list[str] = _VOCABULARY["surname_syllables"]["starts"]
_SYLLABLES_B: list[str] = _VOCABULARY["surname_syllables"]["middles"]
_SYLLABLES_C: list[str] = _VOCABULARY["surname_syllables"]["endings"]
SURNAMES_REAL: list[str] = _VOCABULARY["surnames"]
COMPANIES: list[tuple[str, list[str]]] = [(c["name"], c["variants"]) for c in _VOCABULARY["companies"]]
CITIES: list[str] = _VOCABULARY["cities"]
DOMAINS: list[str] = _VOCABULARY["email_domains"]

COLUMNS = ["record_id", "first_name", "last_name", "email", "phone", "dob", "company", "city"]


@dataclass(frozen=True)
class Profile:
    duplicate_share: float  # share of people with at least one extra record
    max_extra: int
    missing: float  # chance a duplicate loses each optional field
    typo: float  # chance of a typo per name field of a duplicate
    swap_names: float
    surname_offset: int  # which slice of the surname vocabulary this profile draws from


PROFILES = {
    "a": Profile(duplicate_share=0.3, max_extra=2, missing=0.15, typo=0.35, swap_names=0.08, surname_offset=0),
    "b": Profile(duplicate_share=0.45, max_extra=3, missing=0.2, typo=0.45, swap_names=0.15, surname_offset=1),
}


def _surnames(offset: int) -> list[str]:
    made = [a + b + c for a in _SYLLABLES_A for b in _SYLLABLES_B for c in _SYLLABLES_C]
    made = list(dict.fromkeys(made))
    return SURNAMES_REAL + made[offset::2]


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = rng.integers(0, 4)
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))]
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + letter + text[i:]
    if kind == 2:
        return text[:i] + letter + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def _phone_format(rng: np.random.Generator, digits: str) -> str:
    style = rng.integers(0, 4)
    if style == 0:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if style == 1:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if style == 2:
        return f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}"
    return digits


def _person(rng: np.random.Generator, surnames: list[str]) -> dict[str, object]:
    first = FIRST[int(rng.integers(0, len(FIRST)))]
    last = surnames[int(rng.integers(0, len(surnames)))]
    company = int(rng.integers(0, len(COMPANIES)))
    dob = pd.Timestamp("1940-01-01") + pd.Timedelta(days=int(rng.integers(0, 365 * 65)))
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    email = f"{local}{int(rng.integers(1, 999))}@{DOMAINS[int(rng.integers(0, len(DOMAINS)))]}"
    phone = "".join(str(d) for d in rng.integers(0, 10, size=10))
    phone = str(int(rng.integers(2, 10))) + phone[1:]
    return {
        "first_name": first, "last_name": last, "email": email, "phone": phone, "dob": dob,
        "company": company, "city": CITIES[int(rng.integers(0, len(CITIES)))],
    }


def _render(rng: np.random.Generator, person: dict[str, object], noisy: bool, profile: Profile) -> dict[str, object]:
    first, last = str(person["first_name"]), str(person["last_name"])
    email, phone = str(person["email"]), str(person["phone"])
    dob: pd.Timestamp = person["dob"]  # type: ignore[assignment]
    company_name, variants = COMPANIES[int(person["company"])]  # type: ignore[arg-type]
    company = company_name
    city: str | None = str(person["city"])
    if noisy:
        if first in NICKNAMES and rng.random() < 0.15:
            first = NICKNAMES[first]
        if rng.random() < profile.typo:
            first = _typo(rng, first)
        if rng.random() < profile.typo:
            last = _typo(rng, last)
        if rng.random() < profile.swap_names:
            first, last = last, first
        if rng.random() < 0.2:
            first, last = first.upper(), last.upper()
        if rng.random() < 0.5:
            company = variants[int(rng.integers(0, len(variants)))]
        if rng.random() < 0.1:
            email = _typo(rng, email)
        if rng.random() < 0.1:
            dob = pd.Timestamp(year=dob.year, month=dob.day, day=dob.month) if dob.day <= 12 else dob
        if rng.random() < 0.05:
            phone = phone[:-1] + str((int(phone[-1]) + 1) % 10)
        # life happens: a new email, a move, a new number
        if rng.random() < 0.06:
            email = f"{first}.{last}@{DOMAINS[int(rng.integers(0, len(DOMAINS)))]}".lower().replace(" ", "")
        if rng.random() < 0.05:
            city = CITIES[int(rng.integers(0, len(CITIES)))]
        if rng.random() < 0.04:
            phone = str(int(rng.integers(2, 10))) + "".join(str(d) for d in rng.integers(0, 10, size=9))
    values: dict[str, object] = {
        "first_name": first, "last_name": last, "email": email, "phone": _phone_format(rng, phone),
        "dob": dob.strftime("%Y-%m-%d"), "company": company, "city": city,
    }
    if noisy:
        for column in ("email", "phone", "dob", "company", "city"):
            if rng.random() < profile.missing:
                values[column] = None
    return values


def generate_customers(n_records: int, *, seed: int = 7, profile: str = "a") -> tuple[pd.DataFrame, np.ndarray]:
    """``n_records`` customer records (columns :data:`COLUMNS`) and each record's person id.

    Records are shuffled, so duplicates are not adjacent; ``record_id`` is a unique string.
    """
    prof = PROFILES[profile]
    rng = np.random.default_rng(seed)
    surnames = _surnames(prof.surname_offset)
    rows: list[dict[str, object]] = []
    truth: list[int] = []
    person_id = 0
    while len(rows) < n_records:
        person = _person(rng, surnames)
        extra = int(rng.integers(1, prof.max_extra + 1)) if rng.random() < prof.duplicate_share else 0
        for copy in range(min(1 + extra, n_records - len(rows))):
            rows.append(_render(rng, person, noisy=copy > 0, profile=prof))
            truth.append(person_id)
        person_id += 1
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order])
    frame.insert(0, "record_id", [f"C{k:07d}" for k in range(len(frame))])
    return frame[COLUMNS], np.asarray(truth)[order]


def true_pairs(entity: np.ndarray) -> set[tuple[int, int]]:
    """All pairs of record positions (i < j) describing the same person."""
    pairs: set[tuple[int, int]] = set()
    order = np.argsort(entity, kind="stable")
    sorted_entity = entity[order]
    starts = np.flatnonzero(np.r_[True, sorted_entity[1:] != sorted_entity[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts, ends, strict=True):
        members = sorted(order[s:e].tolist())
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs.add((members[a], members[b]))
    return pairs


def cluster_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Predicted duplicate pairs: all pairs of rows sharing a cluster label."""
    return true_pairs(np.asarray(labels))


def precision_recall(predicted: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --------------------------------------------------------------------------- demo landing

#: The two made-up source systems: their column names for the common fields.
CRM_COLUMNS = {
    "record_id": "cust_no", "first_name": "fname", "last_name": "lname", "email": "e_mail", "phone": "tel",
    "dob": "birth_date", "company": "employer", "city": "town",
}
SHOP_COLUMNS = {
    "record_id": "CustomerID", "first_name": "GivenName", "last_name": "FamilyName", "email": "EmailAddress",
    "phone": "PhoneNumber", "dob": "DateOfBirth", "company": "CompanyName", "city": "City",
}


def land_customers(data_root: str | Path, *, n_records: int = 3000, seed: int = 7, force: bool = False) -> Path:
    """Write ``landing/customers/{crm,shop}.csv`` and ``truth.csv`` under ``data_root``.

    Records of one person may land in both systems, so the cross-system duplicates are only
    found after both are mapped to one schema. Existing files are left alone unless ``force``.
    """
    folder = Path(data_root) / "landing" / "customers"
    crm_path, shop_path, truth_path = folder / "crm.csv", folder / "shop.csv", folder / "truth.csv"
    if not force and crm_path.exists() and shop_path.exists() and truth_path.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    records, entity = generate_customers(n_records, seed=seed)
    in_shop = np.random.default_rng(seed + 1).random(len(records)) < 0.4
    crm = records[~in_shop].rename(columns=CRM_COLUMNS)
    shop = records[in_shop].rename(columns=SHOP_COLUMNS)
    shop["DateOfBirth"] = pd.to_datetime(shop["DateOfBirth"]).dt.strftime("%Y-%m-%d")
    crm.to_csv(crm_path, index=False)
    shop.to_csv(shop_path, index=False)
    pd.DataFrame({"record_id": records["record_id"], "person_id": entity}).to_csv(truth_path, index=False)
    return folder


#: The fuzzy dedup settings the demo, tests and benchmark use for these records (the same as
#: ``pipelines/customers.yaml``): a combined name field (swap-proof), email, phone, date of birth,
#: city and company; five blocking rules and two sorted neighbourhoods.
PERSON_FUZZY: dict[str, object] = {
    "fields": {
        "full_name": {"compare": "name", "columns": ["first_name", "last_name"]},
        "email": "email",
        "phone": "phone",
        "dob": "date",
        "city": "exact",
        "company": "token_set",
    },
    "blocking": [["email"], ["phone(phone)"], ["metaphone(full_name)"], ["dob"], ["soundex(first_name)", "year(dob)"]],
    "neighbourhood": [{"fields": ["email"], "window": 4}, {"fields": ["last_name", "first_name"], "window": 4}],
    "max_block_size": 30,
}


def exact_variants(n_records: int, *, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Records whose duplicates differ only in case, spacing, punctuation and unicode form (the
    exact normalised-key case)."""
    rng = np.random.default_rng(seed)
    base, _ = generate_customers(n_records, seed=seed)
    base = base.dropna(subset=["email"])
    base = base[~base["email"].str.lower().duplicated()].reset_index(drop=True)
    rows, entity = [], []
    for k, row in enumerate(base.itertuples(index=False)):
        copies = 1 + (int(rng.integers(1, 3)) if rng.random() < 0.3 else 0)
        for c in range(copies):
            first, last, email = row.first_name, row.last_name, row.email
            if c:
                style = int(rng.integers(0, 4))
                first = [first.upper(), f"  {first} ", first.lower(), first + "."][style]
                last = [last.upper(), last.replace("'", ""), f"{last},", f"{last}  "][int(rng.integers(0, 4))]
                email = email.upper() if rng.random() < 0.5 else f" {email}"
            rows.append({"first_name": first, "last_name": last, "email": email, "city": row.city})
            entity.append(k)
    order = rng.permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order]), np.asarray(entity)[order]
