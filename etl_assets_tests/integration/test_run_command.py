"""``etl-assets run PIPELINE --from --to``: one run over a partition range, from a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets_tests.conftest import PROJECT_ROOT, SHOP_SPEC, write_customers, write_orders

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, Path]:
    """The shop pipeline with three landed days, an empty instance and a warehouse in tmp."""
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "shop.yaml").write_text(SHOP_SPEC)
    data = tmp_path / "data"
    for n, day in enumerate(DAYS):
        write_orders(
            data,
            day,
            [
                (str(10 * n + 1), "1", "9.5", f"{day}T08:00:00Z"),
                (str(10 * n + 2), "2", "3", f"{day}T09:00:00Z"),
            ],
        )
    write_customers(data)
    home = tmp_path / "home"
    home.mkdir()
    return {"pipelines": pipelines, "data": data, "home": home, "warehouse": tmp_path / "warehouse"}


def etl_assets_run(shop: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_")}
    command = [
        str(BIN / "etl-assets"),
        "run",
        *args,
        "--pipelines",
        str(shop["pipelines"]),
        "--data-root",
        str(shop["data"]),
        "--warehouse",
        str(shop["warehouse"]),
        "--dagster-home",
        str(shop["home"]),
    ]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_materializes_exactly_the_range_in_one_run(shop: dict[str, Path]) -> None:
    result = etl_assets_run(shop, "shop", "--from", "2024-01-01", "--to", "2024-01-02")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "pipeline shop: run " in result.stdout and " succeeded " in result.stdout
    assert "partitions 2024-01-01...2024-01-02 (2)" in result.stdout
    assert (
        "shop/clean/orders" in result.stdout and "4 rows" in result.stdout
    )  # two days x two orders
    assert "Warning" not in result.stderr, (
        result.stderr
    )  # no BetaWarning (or any other) on the terminal
    written = sorted(p.name for p in (shop["warehouse"] / "shop" / "clean" / "orders").iterdir())
    assert written == ["2024-01-01.parquet", "2024-01-02.parquet"]
    assert (
        shop["warehouse"] / "shop" / "clean" / "customers.parquet"
    ).exists()  # unpartitioned: built too
    with DagsterInstance.from_config(str(shop["home"])) as instance:
        runs = instance.get_runs()
    assert len(runs) == 1
    assert runs[0].status == DagsterRunStatus.SUCCESS
    assert runs[0].job_name == "shop_job"
    assert runs[0].tags[ASSET_PARTITION_RANGE_START_TAG] == "2024-01-01"
    assert runs[0].tags[ASSET_PARTITION_RANGE_END_TAG] == "2024-01-02"


def test_run_reports_bad_requests_without_running(shop: dict[str, Path]) -> None:
    unknown = etl_assets_run(shop, "nope")
    assert unknown.returncode == 1
    assert "unknown pipeline 'nope'" in unknown.stderr and "shop" in unknown.stderr

    outside = etl_assets_run(shop, "shop", "--from", "2023-12-31")
    assert outside.returncode == 1
    assert (
        "--from 2023-12-31: not a partition of pipeline 'shop' (daily partitions 2024-01-01...2024-01-10)"
        in outside.stderr
    )

    reversed_range = etl_assets_run(shop, "shop", "--from", "2024-01-03", "--to", "2024-01-02")
    assert reversed_range.returncode == 1
    assert "--from 2024-01-03 is after --to 2024-01-02" in reversed_range.stderr

    with DagsterInstance.from_config(str(shop["home"])) as instance:
        assert instance.get_runs() == []


def test_run_exits_non_zero_when_the_run_fails(shop: dict[str, Path]) -> None:
    # 2024-01-04 never landed: the raw step fails, so does the run, so does the command
    result = etl_assets_run(shop, "shop", "--from", "2024-01-03", "--to", "2024-01-04")

    assert result.returncode == 1, result.stdout[-3000:]
    assert "pipeline shop: run " in result.stdout and "FAILED" in result.stdout
    with DagsterInstance.from_config(str(shop["home"])) as instance:
        assert [run.status for run in instance.get_runs()] == [DagsterRunStatus.FAILURE]
