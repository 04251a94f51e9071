"""Semantic type inference: the rules of ``inference.py`` against a scikit-learn classifier.

    .venv/bin/python benchmarks/eval_inference_synthetic.py

(The real-data evaluation is benchmarks/eval_inference.py.)

Labelled columns come from the seeded generator of the tests (16 semantic types, 0-10% invalid
values, with their own names or anonymised as c0, c1, ...) plus columns with no semantic type
(words, codes, small and large integers, temperature-like and price-like floats, person names).
Features for the classifier: the share of values each validator accepts, the storage type and
which types the column name hints at - the same evidence the rules use. The classifier is a
RandomForest trained on seeds 0-4 and tested on seeds 5-9; the rules are tested on 5-9 too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score

from etl_assets.lib.quality.inference import _hinted, _semantic, _storage
from etl_assets.lib.quality.semantic import SEMANTIC_TYPES, valid_mask
from etl_assets_tests.lib.quality.datagen import SEMANTIC_COLUMNS, semantic_table

KINDS = list(SEMANTIC_TYPES)
STORAGES = ["int", "float", "bool", "date", "datetime", "string"]
ROWS = 400


def negatives(seed: int) -> dict[str, pd.Series]:
    rng = np.random.default_rng(seed)
    return {
        "city": pd.Series(rng.choice(["Paris", "Lima", "Oslo", "New York", "Rome"], ROWS)),
        "code": pd.Series([f"AB{i:04d}" for i in rng.integers(0, 9999, ROWS)]),
        "count": pd.Series(rng.integers(0, 60, ROWS)).astype(str),
        "flight": pd.Series(rng.integers(1, 9999, ROWS)).astype(str),
        "temp": pd.Series(rng.normal(15, 12, ROWS).round(1)).astype(str),
        "price_index": pd.Series(rng.uniform(0, 1000, ROWS).round(3)).astype(str),
        "big": pd.Series(rng.integers(10**9, 10**12, ROWS)).astype(str),
        "first_name": pd.Series(rng.choice(["Ada", "Alan", "Grace", "Edsger"], ROWS)),
    }


def _kind_of_negative(name: str, anonymous: bool) -> str:
    """The "negatives" predate the place, person and code types: a named city or first-name
    column is one of those now, and AB1234 codes are codes even without a name."""
    if name == "code":
        return "code"
    if not anonymous and name in ("city", "first_name"):
        return {"city": "city", "first_name": "person_name"}[name]
    return "none"


def columns(seed: int) -> list[tuple[str, pd.Series, str]]:
    out: list[tuple[str, pd.Series, str]] = []
    for rate in (0.0, 0.02, 0.05, 0.1):
        for anonymous in (False, True):
            data = semantic_table(ROWS, seed=seed * 100 + int(rate * 100), invalid_rate=rate, anonymous=anonymous)
            out += [(name, data.frame[name], kind) for name, (kind, _) in data.truth.items()]
    for anonymous in (False, True):
        for i, (name, values) in enumerate(negatives(seed).items()):
            out.append((f"n{i}" if anonymous else name, values, _kind_of_negative(name, anonymous)))
    return out


def shifted(seed: int) -> list[tuple[str, pd.Series, str]]:
    """Test-only columns whose number formats the generator never produced: does a method
    generalise beyond the training distribution?"""
    rng = np.random.default_rng(seed)
    return [
        ("s0", pd.Series(rng.uniform(-40, 40, ROWS).round(5)).astype(str), "none"),  # temperature, 5 decimals
        ("s1", pd.Series(rng.uniform(-89, 89, ROWS).round(2)).astype(str), "latitude"),  # latitude, 2 decimals
        ("s2", pd.Series(rng.uniform(-179, 179, ROWS).round(1)).astype(str), "longitude"),
        ("lat", pd.Series(rng.uniform(-89, 89, ROWS).round(2)).astype(str), "latitude"),
        ("temp", pd.Series(rng.uniform(-40, 40, ROWS).round(5)).astype(str), "none"),
    ]


def features(name: str, values: pd.Series) -> np.ndarray:
    storage = _storage(values)[0]
    text = values.astype("string[pyarrow]").str.strip()
    shares = [float(valid_mask(text, k).mean()) for k in KINDS]
    hints = [float(_hinted(name, k)) for k in KINDS]
    return np.array([*shares, *hints, *(float(storage == s) for s in STORAGES)])


def rules(name: str, values: pd.Series) -> str:
    storage = _storage(values)[0]
    typed = pd.to_numeric(values) if storage in ("int", "float") else values.astype("string[pyarrow]").str.strip()
    return _semantic(name, typed, storage)[0] or "none"


def main() -> None:
    train = [c for seed in range(5) for c in columns(seed)]
    test = [c for seed in range(5, 10) for c in columns(seed)]
    x_train = np.array([features(n, v) for n, v, _ in train])
    y_train = [k for _, _, k in train]
    x_test = np.array([features(n, v) for n, v, _ in test])
    y_test = np.array([k for _, _, k in test])
    model = RandomForestClassifier(n_estimators=300, random_state=0).fit(x_train, y_train)
    predicted = {"rules": np.array([rules(n, v) for n, v, _ in test]), "random_forest": model.predict(x_test)}
    anonymous = np.array([n.startswith(("c", "n")) and n[1:].isdigit() for n, _, _ in test])
    print(f"{len(train)} training and {len(test)} test columns, {ROWS} rows each\n")
    print(f"{'method':14s} {'accuracy':>9s} {'named':>7s} {'anonym.':>8s} {'macro F1':>9s}")
    for method, guess in predicted.items():
        print(f"{method:14s} {accuracy_score(y_test, guess):9.4f} {accuracy_score(y_test[~anonymous], guess[~anonymous]):7.4f}"
              f" {accuracy_score(y_test[anonymous], guess[anonymous]):8.4f} {f1_score(y_test, guess, average='macro'):9.4f}")
    shift = [c for seed in range(5, 10) for c in shifted(seed)]
    y_shift = np.array([k for _, _, k in shift])
    x_shift = np.array([features(n, v) for n, v, _ in shift])
    print(f"\nshifted number formats ({len(shift)} test-only columns, e.g. 5-decimal temperatures, 2-decimal latitudes):")
    print(f"  rules {accuracy_score(y_shift, [rules(n, v) for n, v, _ in shift]):.4f}"
          f"   random_forest {accuracy_score(y_shift, model.predict(x_shift)):.4f}")
    print("\nper type accuracy (rules / random forest), anonymous columns in brackets:")
    for kind in [*SEMANTIC_COLUMNS, "city", "person_name", "code", "none"]:
        row = y_test == kind
        cells = []
        for method in predicted:
            guess = predicted[method]
            named, anon = row & ~anonymous, row & anonymous
            share = [f"{(guess[part] == kind).mean():.2f}" if part.any() else "  - " for part in (named, anon)]
            cells.append(f"{share[0]} [{share[1]}]")
        print(f"  {kind:16s} {cells[0]:>14s} / {cells[1]:>14s}")


if __name__ == "__main__":
    main()
