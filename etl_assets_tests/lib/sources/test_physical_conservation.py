"""The physical_conservation verdict: it passes on a real read and fails when rows go missing."""

from __future__ import annotations

from dataclasses import replace

from dagster import AssetKey

from etl_assets.factory.physical_checks import conservation_result
from etl_assets.lib.sources import read_source_physical
from etl_assets.lib.sources.conservation import evaluate_physical, totals_by_partition
from etl_assets.lib.transforms.results import CleanStats
from etl_assets_tests.lib.sources.conftest import make_spec


def _real_read(root, write):
    write(
        "a.csv", 'id,note\n1,"x\ny"\n\n2,b\n3,"c\n'
    )  # a multi-line record, an empty line, a broken one
    write("b.csv", "id,note\n4,d\n")
    return read_source_physical(make_spec(format="csv", path="*.csv"), root, name="src")


def test_a_real_read_is_conserved(root, write):
    read = _real_read(root, write)
    verdict = evaluate_physical(read.physical, len(read.frame))
    assert verdict.applicable and verdict.passed, verdict.description
    assert verdict.metadata["physical_expected_rows"] == 4 == len(read.frame)
    assert verdict.metadata["physical_lines"] == 6 + 2
    assert verdict.metadata["physical_files"] == 2


def test_a_reader_that_emitted_fewer_rows_than_its_bytes_hold_fails(root, write):
    read = _real_read(root, write)
    # what a parser that swallowed a record would have reported: one row fewer than the scan
    first = read.physical[0]
    swallowed = [replace(first, emitted_rows=first.emitted_rows - 1), *read.physical[1:]]
    frame = read.frame.drop(index=read.frame.index[0])
    verdict = evaluate_physical(swallowed, len(frame))
    assert verdict.applicable and not verdict.passed
    assert "a.csv: 6 lines imply 3 rows but 2 were read" in verdict.description
    assert verdict.metadata["files_not_conserved"] == 1
    assert verdict.metadata["files"][0]["file"] == "a.csv"  # problem files listed first


def test_rows_lost_after_the_readers_fail_the_check(root, write):
    read = _real_read(root, write)
    verdict = evaluate_physical(read.physical, len(read.frame) - 1)
    assert not verdict.passed
    assert "the files gave 4 rows but the combined frame has 3" in verdict.description


def test_a_reader_without_physical_counts_is_not_applicable():
    verdict = evaluate_physical([], 10)
    assert not verdict.applicable and verdict.passed
    assert verdict.description.startswith("not applicable")


def test_totals_by_partition(root, write):
    write("p/1.csv", "a\nx\ny\n")
    write("p/2.csv", "a\nz\n")
    spec = make_spec(format="csv", path="p/{partition}.csv", partitioned=True)
    read = read_source_physical(spec, root, name="p", partition_keys=["1", "2"])
    totals = totals_by_partition(read.physical)
    assert totals["1"]["physical_expected_rows"] == 2 and totals["2"]["physical_expected_rows"] == 1
    assert totals["1"]["physical_lines"] == 3


def _stats(rows_in: int) -> CleanStats:
    return CleanStats(
        rows_in=rows_in, rows_out=rows_in - 1, rows_rejected=1, rows_dropped=0, rows_deduplicated=0
    )


def test_clean_conservation_fails_when_rows_in_differ_from_the_physical_count(root, write):
    read = _real_read(root, write)
    physical = evaluate_physical(read.physical, len(read.frame)).metadata["physical_expected_rows"]
    ok = conservation_result("row_conservation", _key(), _stats(len(read.frame)), physical)
    assert ok.passed and "4 rows physically in the raw files" in (ok.description or "")
    lost = conservation_result("row_conservation", _key(), _stats(len(read.frame) - 1), physical)
    assert not lost.passed
    assert "the raw files physically hold 4 rows" in (lost.description or "")
    unknown = conservation_result("row_conservation", _key(), _stats(3), None)
    assert unknown.passed  # no physical count recorded: the after-parse balance alone


def _key() -> AssetKey:
    return AssetKey(["p", "clean", "t"])
