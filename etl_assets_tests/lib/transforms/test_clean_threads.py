"""The clean step's threads and the shortcuts added with them give what the serial, full paths give.

Columns are parsed and converted in a thread pool (``clean_table(threads=...)``); booleans are
parsed per distinct value; trimming is skipped when no value has a space at an edge; ``nunique``
of ints counts by direct addressing. Each is compared here with the path it replaces, on inputs
where the two could differ if the shortcut were wrong.
"""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms import aggregate, clean_table
from etl_assets.lib.transforms.arrays import ArrowColumns, replace_empty_with_null
from etl_assets.lib.transforms.coerce import _bool_values, parse_bool
from etl_assets.lib.transforms.strings import normalise, trim
from etl_assets.lib.transforms.threads import ColumnJobs, default_threads
from etl_assets_tests.lib.transforms.helpers import agg_spec, clean_spec

aggregate_module = importlib.import_module("etl_assets.lib.transforms.aggregate")

COLUMNS = {
    "id": {"type": "int", "required": True},
    "user": {"type": "int", "nulls": "reject"},
    "amount": {"type": "float"},
    "qty": {"type": "int", "nulls": "drop"},
    "member": {"type": "bool"},
    "at": {"type": "datetime", "timezone": "UTC"},
    "day": {"type": "date", "nulls": "default", "default": "2024-01-01"},
    "tier": {"type": "category", "categories": ["gold", "silver"]},
    "shop": {"type": "category"},
    "note": {"type": "string"},
    "renamed": {"type": "decimal", "precision": 6, "scale": 2, "source": "price"},
}


def dirty_frame(rows: int, seed: int) -> pd.DataFrame:
    """A raw frame with bad values in most typed columns, missing required values, duplicate
    keys, a partition and an undeclared column: every kind of problem on overlapping rows."""
    rng = np.random.default_rng(seed)

    def pick(good: list[str], bad: list[str], p_bad: float = 0.08, p_null: float = 0.03) -> list[str | None]:
        values: list[str | None] = list(rng.choice(good, rows))
        draw = rng.random(rows)
        for i in np.flatnonzero(draw < p_bad):
            values[i] = str(rng.choice(bad))
        for i in np.flatnonzero(draw > 1 - p_null):
            values[i] = None
        return values

    ids = [str(v) for v in rng.integers(0, rows // 2, rows)]
    frame = pd.DataFrame(
        {
            "id": pd.array(pick(ids, ["x1", "1.5", ""], 0.03), dtype="str"),
            "user": pd.array(pick([str(v) for v in range(50)], ["12a", " 7 ", "+3", "3.0"]), dtype="str"),
            "amount": pd.array(pick(["1.5", "-0.25", "10", "1e3"], ["1,5", "abc", " 2.5"]), dtype="str"),
            "qty": pd.array(pick(["1", "2", "30"], ["n/a", "2.5"]), dtype="str"),
            "member": pd.array(pick(["true", "false", "Yes", " n ", "0"], ["maybe", "2"]), dtype="str"),
            "at": pd.array(pick(["2024-03-01T10:00:00Z", "2024-03-01 10:00:00", "2024-03-01T10:00:00+02:00"], ["2024-02-30T10:00:00Z", "soon"]), dtype="str"),
            "day": pd.array(pick(["2024-03-01", "2024-12-31"], ["2024-13-01", "yesterday"]), dtype="str"),
            "tier": pd.array(pick(["gold", "silver", " gold"], ["bronze"]), dtype="str"),
            "shop": pd.array(pick(["b", "a", " c", "a "], ["a"], 0.0), dtype="str"),
            "note": pd.array(pick(["", "ok", " spaced ", "caf\u00e9", "tab\t"], ["x"], 0.0), dtype="str"),
            "price": pd.array(pick(["1.25", "100", "0.5"], ["1.234", "12345678"]), dtype="str"),
            "extra": pd.array([f"e{i}" for i in range(rows)], dtype="str"),
        }
    )
    frame["_source_file"] = pd.array(["in.csv"] * rows, dtype="str")
    frame["_source_row"] = np.arange(1, rows + 1, dtype="int64")
    frame["_partition"] = pd.array(rng.choice(["2024-01-01", "2024-01-02"], rows), dtype="str")
    return frame


@pytest.mark.parametrize("seed", [1, 2])
def test_threaded_clean_equals_serial_frame_for_frame(seed: int) -> None:
    frame = dirty_frame(3000, seed)
    spec = clean_spec(COLUMNS, dedup={"keys": ["id"], "keep": "first"}, keep_undeclared=True)
    serial = clean_table(frame, spec, table="t", threads=1)
    kinds = set(serial.rejected["_reason_kind"])
    assert {"coercion", "category", "required"} <= kinds and serial.stats.rows_dropped > 0
    assert serial.stats.rows_deduplicated > 0 and serial.stats.conserved()
    assert (serial.rejected["_reason"].str.count("; ") > 0).any()  # rows with several problems
    for threads in (2, 3, 8):
        threaded = clean_table(frame, spec, table="t", threads=threads)
        pdt.assert_frame_equal(threaded.clean, serial.clean, check_exact=True)
        pdt.assert_frame_equal(threaded.rejected, serial.rejected, check_exact=True)
        assert threaded.stats == serial.stats
        assert list(threaded.stats.rejected_by_reason) == list(serial.stats.rejected_by_reason)


def test_threaded_clean_raises_the_error_the_serial_run_raises() -> None:
    frame = dirty_frame(200, 3)
    columns = {**COLUMNS, "user": {"type": "int", "nulls": "default", "default": "not a number"}}
    messages = set()
    for threads in (1, 2):
        with pytest.raises(Exception) as raised:
            clean_table(frame, clean_spec(columns), table="t", threads=threads)
        messages.add((type(raised.value), str(raised.value)))
    assert len(messages) == 1 and "'user'" in next(iter(messages))[1]


def test_default_threads_follow_arrow_and_are_capped() -> None:
    before = pa.cpu_count()
    try:
        pa.set_cpu_count(1)
        assert default_threads() == 1 and ColumnJobs().threads == 1
        pa.set_cpu_count(64)
        assert default_threads() == 4
    finally:
        pa.set_cpu_count(before)


def test_column_jobs_keep_input_order_and_serial_submit_defers_errors() -> None:
    with ColumnJobs(3) as jobs:
        assert list(jobs.map(lambda i: i * i, range(50))) == [i * i for i in range(50)]
        started: list[int] = []
        gate = threading.Event()

        def job(i: int) -> int:
            started.append(i)
            gate.wait(5)
            return -i

        results = jobs.map(job, range(6), cost=lambda i: i)  # dearest (last) first
        for _ in range(500):  # the three threads take the three dearest jobs and wait at the gate
            if len(started) == 3:
                break
            threading.Event().wait(0.01)
        assert sorted(started) == [3, 4, 5]
        gate.set()
        assert list(results) == [0, -1, -2, -3, -4, -5]
    with ColumnJobs(1) as jobs:
        future = jobs.submit(lambda: 1 // 0)
        with pytest.raises(ZeroDivisionError):
            future.result()


def test_arrow_columns_convert_each_column_once_across_threads() -> None:
    frame = pd.DataFrame({"a": pd.array([str(i) for i in range(10_000)], dtype="str")})
    arrays = ArrowColumns(frame)
    barrier = threading.Barrier(4)
    found: list[pa.Array] = []

    def read() -> None:
        barrier.wait()
        found.append(arrays.column("a"))

    workers = [threading.Thread(target=read) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(found) == 4 and all(array is found[0] for array in found)


# --------------------------------------------------------------------------- bool per distinct value


def test_bool_per_distinct_value_equals_the_row_by_row_parse() -> None:
    rng = np.random.default_rng(7)
    pool = ["true", "FALSE", " yes", "No ", "1", "0", "t", "F", "", "  ", "maybe", "2", "ja", None]
    text = pa.array(list(rng.choice(np.array(pool, dtype=object), 5000)), type=pa.large_string())
    spec = ColumnSpec.model_validate({"type": "bool"})
    whole = _bool_values(text, spec)  # every row parsed, as before
    distinct = parse_bool(text, spec)
    assert distinct.values.equals(whole.values)
    assert [(f.message, f.mask.tolist()) for f in distinct.failures] == [(f.message, f.mask.tolist()) for f in whole.failures]
    assert distinct.failures and distinct.values.null_count > 0


@pytest.mark.parametrize(
    ("pool", "words"),
    [
        (["true", "FALSE", "True", "1", "0", "tRuE", None], {}),  # Arrow's cast takes every value
        (["true", "FALSE", "1", "0", None, " yes"], {}),  # one it refuses: the per-value parse
        (["true", "1", "false"], {"true_values": ["yes"], "false_values": ["no"]}),  # Arrow's words mean nothing here
        (["1", "0", "TRUE"], {"true_values": ["true", "0"], "false_values": ["false", "1"]}),  # ... or the opposite
        (["true", "0", "false"], {"true_values": ["true", "1", "0"], "false_values": ["false", "0"]}),  # "0" in both: true
    ],
)
def test_bool_cast_of_clean_text_equals_the_row_by_row_parse(pool: list[str | None], words: dict[str, list[str]]) -> None:
    rng = np.random.default_rng(3)
    text = pa.array(list(rng.choice(np.array(pool, dtype=object), 3000)), type=pa.large_string())
    spec = ColumnSpec.model_validate({"type": "bool", **words})
    whole = _bool_values(text, spec)
    parsed = parse_bool(text, spec)
    assert parsed.values.equals(whole.values)
    assert [(f.message, f.mask.tolist()) for f in parsed.failures] == [(f.message, f.mask.tolist()) for f in whole.failures]


# --------------------------------------------------------------------------- trim skipped when it changes nothing


EDGE_VALUES = ["a", "", " a", "a ", "\ta", "a\n", "\x0ba", "a\x0c", "\ra", " ", "a b", "\x1ca", "a\x1f", "x", None]


@pytest.mark.parametrize("values", [["a", "b c", "", None], EDGE_VALUES, ["caf\u00e9 ", "\u00a0x", "y"], ["x"] * 3 + [" "]])
@pytest.mark.parametrize("sliced", [False, True])
def test_trim_equals_the_trim_kernels(values: list[str | None], sliced: bool) -> None:
    array = pa.array(["  pad  ", *values, " pad"], type=pa.large_string())
    if sliced:
        array = array.slice(1, len(values))
    spec = ColumnSpec.model_validate({"type": "string"})
    ascii_only = all(v is None or v.isascii() for v in values)
    kernel = pc.ascii_trim_whitespace if ascii_only else pc.utf8_trim_whitespace
    expected = replace_empty_with_null(kernel(array))
    assert trim(array, spec).to_pylist() == expected.to_pylist()
    assert normalise(array, spec).to_pylist() == expected.to_pylist()
    untrimmed = ColumnSpec.model_validate({"type": "string", "trim": False})
    assert trim(array, untrimmed).to_pylist() == replace_empty_with_null(array).to_pylist()


def test_trim_of_each_single_edge_byte() -> None:
    spec = ColumnSpec.model_validate({"type": "string"})
    for code in range(128):
        for value in (chr(code) + "v", "v" + chr(code)):
            array = pa.array(["a", value, "b"], type=pa.large_string())
            expected = replace_empty_with_null(pc.ascii_trim_whitespace(array)).to_pylist()
            assert trim(array, spec).to_pylist() == expected, repr(value)


# --------------------------------------------------------------------------- nunique of ints


def _nunique_frame(rows: int, seed: int, span: int, dtype: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "k": pd.array(rng.choice(np.array(["a", "b", None, "c"], dtype=object), rows), dtype="str"),
            "c": pd.Categorical(rng.choice(["x", "y"], rows), categories=["x", "y", "unused"]),
            "v": pd.array(rng.integers(-span, span, rows), dtype=dtype),
        }
    )
    if dtype == "Int64":
        frame.loc[rng.random(rows) < 0.1, "v"] = None
    return frame


@pytest.mark.parametrize("dtype", ["Int64", "int64", "int32", "uint16"])
@pytest.mark.parametrize("observed", [True, False])
def test_dense_nunique_equals_pandas(dtype: str, observed: bool) -> None:
    frame = _nunique_frame(4000, 5, 300, "Int64" if dtype == "Int64" else "int64")
    if dtype != "Int64":
        frame["v"] = (frame["v"] + (300 if dtype == "uint16" else 0)).astype(dtype)
    grouped = frame.groupby(["k", "c"], observed=observed, dropna=False, sort=True)["v"]
    dense = aggregate_module._dense_nunique(grouped)
    assert dense is not None  # the fast path ran
    pdt.assert_series_equal(dense, grouped.nunique(dropna=True).astype("int64"), check_names=False)


def test_dense_nunique_falls_back_for_wide_ranges_floats_and_all_null() -> None:
    frame = _nunique_frame(500, 6, 10**12, "Int64")
    grouped = frame.groupby(["k"], dropna=False, sort=True)["v"]
    assert aggregate_module._dense_nunique(grouped) is None
    floats = frame.assign(v=frame["v"].astype("float64"))
    assert aggregate_module._dense_nunique(floats.groupby(["k"], dropna=False)["v"]) is None
    nulls = frame.assign(v=pd.array([None] * len(frame), dtype="Int64"))
    counted = aggregate_module._dense_nunique(nulls.groupby(["k"], dropna=False, sort=True)["v"])
    assert counted is not None and counted.tolist() == [0] * 4


def test_aggregate_nunique_with_and_without_groups() -> None:
    frame = _nunique_frame(3000, 8, 50, "Int64")
    specs = [
        agg_spec(group_by=["k", "c"], metrics={"u": "nunique(v)", "n": "count()"}),
        agg_spec(metrics={"u": "nunique(v)"}),
    ]
    for spec in specs:
        out = aggregate(frame, spec).frame
        keys = [c for c in out.columns if c in ("k", "c")]
        expected = frame.groupby(keys, observed=True, dropna=False, sort=True)["v"].nunique() if keys else pd.Series([frame["v"].nunique()])
        assert out["u"].tolist() == expected.tolist()
        assert str(out["u"].dtype) == "int64"
