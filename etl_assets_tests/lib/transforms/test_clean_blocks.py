"""A long column is parsed block by block (:mod:`etl_assets.lib.transforms.blocks`); the clean
step's output must be what parsing each column whole gives, frame for frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pytest

from etl_assets.lib.transforms import blocks, clean_table
from etl_assets.lib.transforms.arrays import block_slices, take_from_chunks
from etl_assets_tests.lib.transforms.helpers import clean_spec
from etl_assets_tests.lib.transforms.test_clean_threads import COLUMNS, dirty_frame


def _chunked_like_the_csv_reader(frame: pd.DataFrame, chunk_rows: int) -> pd.DataFrame:
    """Every text column as an Arrow-backed ``str`` column of ``chunk_rows``-row chunks."""
    chunked = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype != "str":
            chunked[name] = column
            continue
        whole = pa.array(column.array, from_pandas=True)
        whole = whole.combine_chunks() if isinstance(whole, pa.ChunkedArray) else whole
        pieces = [whole.slice(start, chunk_rows) for start in range(0, len(whole), chunk_rows)]
        chunked[name] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(pieces, whole.type)), dtype="str")
    return pd.DataFrame(chunked)


@pytest.mark.parametrize(("seed", "block_rows"), [(1, 700), (2, 1024), (3, 2999)])
def test_clean_in_blocks_equals_the_whole_column_parse(seed: int, block_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = dirty_frame(6000, seed)
    # categories found in the data that first appear in a late block, and a block of only nulls
    frame.loc[5000:, "shop"] = "0 first in sort order"
    frame.loc[1400:2200, "amount"] = None
    frame = _chunked_like_the_csv_reader(frame, 333)
    spec = clean_spec(COLUMNS, dedup={"keys": ["id"], "keep": "first"}, keep_undeclared=True)
    whole = clean_table(frame, spec, table="t")
    monkeypatch.setattr(blocks, "BLOCK_ROWS", block_rows)
    in_blocks = clean_table(frame, spec, table="t")
    assert whole.stats.rows_rejected > 0 and whole.stats.rows_deduplicated > 0
    assert whole.clean["shop"].cat.categories[0] == "0 first in sort order"
    pdt.assert_frame_equal(in_blocks.clean, whole.clean, check_exact=True)
    pdt.assert_frame_equal(in_blocks.rejected, whole.rejected, check_exact=True)
    assert in_blocks.stats == whole.stats


def test_blocks_cover_the_column_in_order() -> None:
    column = pa.chunked_array([pa.array(range(start, start + 10)) for start in range(0, 95, 10)] + [pa.array(range(100, 105))])
    parts = list(block_slices(column, 32))
    assert [len(part) for part in parts] == [32, 32, 32, 9]
    assert all(isinstance(part, pa.Array) for part in parts)
    assert pa.concat_arrays(parts).to_pylist() == column.to_pylist()
    assert np.array_equal(next(block_slices(column, 1000)).to_numpy(), column.to_numpy())


@pytest.mark.parametrize("order", ["sorted", "shuffled", "empty", "repeated"])
def test_take_from_chunks_equals_arrows_take(order: str) -> None:
    rng = np.random.default_rng(5)
    values = [None if i % 7 == 0 else f"v{i}" for i in range(1000)]
    column = pa.chunked_array([pa.array(values[start : start + 37], pa.large_string()) for start in range(0, 1000, 37)])
    positions = {
        "sorted": np.sort(rng.choice(1000, 120, replace=False)),
        "shuffled": rng.choice(1000, 120, replace=False),
        "empty": np.zeros(0, dtype=np.int64),
        "repeated": np.array([999, 0, 36, 37, 37, 999, 500]),
    }[order].astype(np.int64)
    taken = take_from_chunks(column, positions)
    assert isinstance(taken, pa.Array) and taken.type == column.type
    assert taken.to_pylist() == column.take(pa.array(positions)).to_pylist()
