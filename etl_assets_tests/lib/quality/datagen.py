"""Seeded test data with ground truth for the quality tests and benchmarks.

``semantic_table(n, seed)`` returns one text column per semantic type (named after the type,
or anonymised as ``c0``, ``c1``, ... with ``anonymous=True``) with a known share of injected
invalid values, and ``truth[column]`` = (semantic type, bool mask of injected invalid rows).

``orders_and_customers(n, seed)`` returns two related tables with injected rule violations,
orphan references and duplicate keys, and the rows of each injection.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl_assets.lib.quality.semantic import COUNTRY_CODES

SEMANTIC_COLUMNS = (
    "email", "phone", "url", "ip_address", "uuid", "postal_code", "country_code", "currency_amount",
    "date", "date_us", "date_eu", "datetime", "latitude", "longitude", "ssn", "credit_card",
)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def _valid(kind: str, n: int, rng: np.random.Generator) -> list[str]:
    ints = rng.integers
    days = pd.Timestamp("2000-01-01") + pd.to_timedelta(ints(0, 9000, n), unit="D")
    if kind == "email":
        return [f"user{i}.x{ints(0, 99)}@mail{ints(0, 50)}.example.{['com', 'org', 'net'][i % 3]}" for i in range(n)]
    if kind == "phone":
        return [f"+1 {ints(200, 999)}-{ints(200, 999)}-{ints(0, 9999):04d}" if i % 2 else f"+4420{ints(10**7, 10**8)}" for i in range(n)]
    if kind == "url":
        return [f"https://www.site{ints(0, 999)}.com/p/{i}?q={ints(0, 9)}" for i in range(n)]
    if kind == "ip_address":
        return [".".join(str(x) for x in ints(0, 256, 4)) if i % 5 else "2001:db8::" + format(int(ints(1, 65535)), "x") for i in range(n)]
    if kind == "uuid":
        return [str(uuid.UUID(int=int(ints(0, 2**62)) << 64 | int(ints(0, 2**62)), version=4)) for _ in range(n)]
    if kind == "postal_code":
        return [f"{ints(501, 99950):05d}" if i % 3 else f"{ints(501, 99950):05d}-{ints(0, 9999):04d}" for i in range(n)]
    if kind == "country_code":
        codes = sorted(COUNTRY_CODES)
        return [codes[j] for j in ints(0, len(codes), n)]
    if kind == "currency_amount":
        return [f"${ints(0, 99999):,}.{ints(0, 100):02d}" for _ in range(n)]
    if kind == "date":
        return list(days.strftime("%Y-%m-%d"))
    if kind == "date_us":
        return list(days.strftime("%m/%d/%Y"))
    if kind == "date_eu":
        return list(days.strftime("%d.%m.%Y"))
    if kind == "datetime":
        stamps = days + pd.to_timedelta(ints(0, 86400, n), unit="s")
        return list(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if kind == "latitude":
        return [f"{x:.5f}" for x in rng.uniform(-89.9, 89.9, n)]
    if kind == "longitude":  # mostly beyond +-90, as real longitudes are
        return [f"{x:.5f}" for x in rng.uniform(-179.9, 179.9, n)]
    if kind == "ssn":
        return [f"{ints(1, 666):03d}-{ints(1, 100):02d}-{ints(1, 10000):04d}" for _ in range(n)]
    if kind == "credit_card":
        out = []
        for _ in range(n):
            body = "4" + "".join(str(d) for d in ints(0, 10, 14))
            out.append(body + _luhn_digit(body))
        return out
    raise KeyError(kind)


#: One typical broken value per type (shape right where possible, content wrong).
INVALID = {
    "email": ["user.example.com", "a@b", "x@@y.org"],
    "phone": ["12345", "phone", "+0 000"],
    "url": ["htp:/broken", "www.no-scheme.com", "https://"],
    "ip_address": ["999.1.1.1", "1.2.3", "2001:db8:::1:"],
    "uuid": ["1234-5678", "0b6f5e0e3c1f4b8e9a511f6d2a7c9e10", "zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz"],
    "postal_code": ["1234", "ABCDE", "123456"],
    "country_code": ["XX", "ZZ", "USA"],
    "currency_amount": ["12.345", "1,23,4.00", "ten"],
    "date": ["2013-02-30", "2013-13-01", "2013/01/01"],
    "date_us": ["13/45/2013", "02/30/2013", "2013-01-31"],
    "date_eu": ["32.01.2013", "31.13.2013", "2013-01-31"],
    "datetime": ["2013-13-01T00:00:00Z", "2013-01-01T25:00:00Z", "yesterday"],
    "latitude": ["95.0", "-91.5", "north"],
    "longitude": ["190.0", "-180.5", "east"],
    "ssn": ["000-12-3456", "666-12-3456", "123-00-4567"],
    "credit_card": ["4111111111111112", "1234", "4111-1111-1111"],
    # from the real-data truth set (benchmarks/realdata): "Netherlands/ United Kingdom" is Forbes 2000
    "country_name": ["Atlantis", "Netherlands/ United Kingdom", "US"],
    "country_alpha3": ["XXX", "US", "Lanka"],
    "state_code": ["XX", "Other", "NEW"],
    "state_name": ["Atlantis", "New Yorkshire", "NY"],
    "city": ["12 Main", "R2-D2", "#1"],
    "person_name": ["R2D2", "john@example.org", "42"],
    "street_address": ["Main Street", "221B", "Baker Street 221B"],
    "code": ["4", "Mon", "a-b"],
    "ticker": ["apple", "TOOLONG", "BRK.BBB"],
}


@dataclass
class Generated:
    frame: pd.DataFrame
    #: column -> (semantic type, mask of injected invalid rows)
    truth: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)


def semantic_table(n: int = 2000, seed: int = 7, invalid_rate: float = 0.05, anonymous: bool = False,
                   kinds: tuple[str, ...] = SEMANTIC_COLUMNS) -> Generated:
    rng = np.random.default_rng(seed)
    data: dict[str, list[str]] = {}
    truth: dict[str, tuple[str, np.ndarray]] = {}
    for i, kind in enumerate(kinds):
        values = _valid(kind, n, rng)
        bad = rng.random(n) < invalid_rate
        choices = INVALID[kind]
        for j in np.flatnonzero(bad):
            values[j] = choices[int(rng.integers(0, len(choices)))]
        name = f"c{i}" if anonymous else kind
        data[name] = values
        truth[name] = (kind, bad)
    return Generated(pd.DataFrame(data, dtype="str"), truth)


@dataclass
class Related:
    customers: pd.DataFrame
    orders: pd.DataFrame
    #: injection -> row positions in ``orders`` (or ``customers`` for ``duplicate_customer``)
    injected: dict[str, np.ndarray]


def orders_and_customers(n: int = 1000, seed: int = 11) -> Related:
    """Orders referencing customers, as raw text (what lands), with known defects."""
    rng = np.random.default_rng(seed)
    customers_n = max(n // 10, 10)
    customers = pd.DataFrame({
        "customer_id": [str(i) for i in range(1, customers_n + 1)],
        "email": _valid("email", customers_n, rng),
        "country": [c for c in rng.choice(["US", "DE", "FR", "NL"], customers_n)],
    })
    orders = pd.DataFrame({
        "order_id": [str(i) for i in range(1, n + 1)],
        "customer_id": [str(x) for x in rng.integers(1, customers_n + 1, n)],
        "amount": [f"{x:.2f}" for x in rng.uniform(1, 500, n)],
        "status": rng.choice(["new", "paid", "shipped"], n).tolist(),
        "placed": list((pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")).strftime("%Y-%m-%d")),
        "email": _valid("email", n, rng),
    })
    orders["shipped"] = list((pd.to_datetime(orders["placed"]) + pd.to_timedelta(rng.integers(0, 10, n), unit="D")).dt.strftime("%Y-%m-%d"))
    positions = rng.permutation(n)
    k = max(n // 50, 2)
    injected = {
        "amount_below_min": positions[:k],
        "status_not_allowed": positions[k:2 * k],
        "email_invalid": positions[2 * k:3 * k],
        "orphan_customer": positions[3 * k:4 * k],
        "shipped_before_placed": positions[4 * k:5 * k],
        "duplicate_order_id": positions[5 * k:6 * k],
    }
    orders.loc[injected["amount_below_min"], "amount"] = "-5.00"
    orders.loc[injected["status_not_allowed"], "status"] = "lost"
    orders.loc[injected["email_invalid"], "email"] = "not-an-email"
    orders.loc[injected["orphan_customer"], "customer_id"] = str(customers_n + 1000)
    orders.loc[injected["shipped_before_placed"], "shipped"] = "2023-12-01"
    # each of these rows takes the order_id of the row just before it in the permutation
    dup_targets = positions[6 * k:7 * k]
    orders.loc[injected["duplicate_order_id"], "order_id"] = orders.loc[dup_targets, "order_id"].to_numpy()
    injected["duplicate_order_id_pairs"] = np.concatenate([injected["duplicate_order_id"], dup_targets])
    return Related(customers=customers, orders=orders, injected=injected)


ORDERS_SPEC = """pipeline: shop
sources:
  orders: {format: csv, path: landing/orders.csv}
  customers: {format: csv, path: landing/customers.csv}
clean:
  customers:
    from: customers
    columns:
      customer_id: {type: int, required: true, unique: true}
      email: {type: string, semantic: email}
      country: {type: string, semantic: country_code, allowed: [US, DE, FR, NL]}
  orders:
    from: orders
    columns:
      order_id: {type: int, required: true, unique: true}
      customer_id: {type: int, required: true, references: customers.customer_id}
      amount: {type: float, min: 0}
      status: {type: category, allowed: [new, paid, shipped]}
      placed: {type: date}
      shipped: {type: date}
      email: {type: string, semantic: email}
    rules: ["shipped >= placed"]
"""
