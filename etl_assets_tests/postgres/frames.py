"""A frame with one column of every dtype the Postgres IO manager stores."""

from __future__ import annotations

import decimal

import pandas as pd
import pyarrow as pa


def mixed_frame(n: int = 6, partition: str | None = None) -> pd.DataFrame:
    ids = list(range(n))
    frame = pd.DataFrame(
        {
            "id": pd.array(ids, dtype="int64"),
            "small": pd.array([i % 100 if i % 3 else None for i in ids], dtype="Int32"),
            "big": pd.array([10**12 + i if i % 4 else None for i in ids], dtype="Int64"),
            "ratio": [i / 7 if i % 5 else float("nan") for i in ids],
            "price": pd.array(
                [decimal.Decimal(f"{i}.{i % 100:02d}") if i % 2 else None for i in ids],
                dtype=pd.ArrowDtype(pa.decimal128(12, 2)),
            ),
            "flag": pd.array([bool(i % 2) if i % 3 else None for i in ids], dtype="boolean"),
            "name": pd.array(
                [f"name {i} 'quoted'; é" if i % 4 else None for i in ids], dtype="str"
            ),
            "kind": pd.Categorical(
                [["a", "b", "c"][i % 3] if i % 5 else None for i in ids],
                categories=["a", "b", "c", "unused"],
            ),
            "day": pd.array(
                [pd.Timestamp("2024-01-01") + pd.Timedelta(days=i) for i in ids],
                dtype="datetime64[s]",
            ).astype("datetime64[s]"),
            "at_utc": pd.to_datetime([f"2024-01-01 00:00:{i % 60:02d}" for i in ids])
            .tz_localize("UTC")
            .as_unit("us"),
            "at_local": pd.to_datetime([f"2024-01-01 10:00:{i % 60:02d}" for i in ids])
            .tz_localize("America/New_York")
            .as_unit("us"),
            "naive": pd.to_datetime([f"2024-02-01 12:00:{i % 60:02d}" for i in ids]).as_unit("us"),
        }
    )
    frame["date_only"] = pd.array(
        [pd.Timestamp("2024-03-01").date()] * n, dtype=pd.ArrowDtype(pa.date32())
    )
    frame = frame.drop(columns=["day"])
    if partition is not None:
        frame["_partition"] = pd.array([partition] * n, dtype="str")
    return frame
