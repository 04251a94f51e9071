"""The benchmark input: a 1M-row, 12-column CSV with mixed types, ~2% nulls, ~1% duplicate rows.

Fixed seed, so every run and every machine measures the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

COLUMNS = [
    "event_id", "user_id", "country", "device", "amount", "quantity",
    "discount", "is_member", "event_time", "event_date", "category", "comment",
]


def generate(rows: int = 1_000_000, seed: int = 20130101) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unique_rows = rows - rows // 100
    frame = pd.DataFrame(
        {
            "event_id": np.arange(1, unique_rows + 1, dtype=np.int64),
            "user_id": rng.integers(1, 50_000, unique_rows),
            "country": rng.choice(["DE", "FR", "NL", "US", "GB", "ES", "IT", "PL"], unique_rows),
            "device": rng.choice(["ios", "android", "web", "tv"], unique_rows),
            "amount": np.round(rng.gamma(2.0, 30.0, unique_rows), 2),
            "quantity": rng.integers(1, 20, unique_rows),
            "discount": np.round(rng.uniform(0, 0.5, unique_rows), 3),
            "is_member": rng.choice(["true", "false"], unique_rows),
            "event_time": (pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 86400, unique_rows), unit="s"))
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "event_date": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, unique_rows), unit="D")).strftime("%Y-%m-%d"),
            "category": rng.choice([f"cat_{i:02d}" for i in range(40)], unique_rows),
            "comment": rng.choice(["", "gift", "first order, via app", 'said "great"', "retour", "ok"], unique_rows),
        }
    )
    text = frame.astype(str)
    nullable = ["user_id", "country", "amount", "quantity", "discount", "is_member", "category", "comment"]
    for column in nullable:
        mask = rng.random(unique_rows) < 0.02
        text.loc[mask, column] = ""
    duplicates = text.iloc[rng.choice(unique_rows, rows - unique_rows, replace=False)]
    return pd.concat([text, duplicates], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def write_csv(path: Path, rows: int = 1_000_000) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(generate(rows), preserve_index=False)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp)
    tmp.replace(path)
    return path
