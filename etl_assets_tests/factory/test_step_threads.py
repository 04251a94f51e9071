"""Threaded libraries get the step's share of the CPUs: all of them when the run's steps run one
after the other, a ``1/max_concurrent`` share when they run side by side, so parallel steps do not
oversubscribe the cores (DuckDB in the aggregate step, the clean step's column pool)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from etl_assets.factory import build_definitions
from etl_assets.factory.step_threads import available_cpus, step_threads
from etl_assets.lib.spec import parse_spec
from etl_assets.lib.transforms import clean as clean_module
from etl_assets.lib.transforms.threads import ColumnJobs
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders


def _spec(executor: str):
    return parse_spec(SHOP_SPEC.replace("pipeline: shop\n", f"pipeline: shop\nexecutor: {executor}\n"))


def test_share_of_the_cpus_by_executor() -> None:
    cpus = available_cpus()
    assert step_threads(_spec("in_process")) == cpus
    assert step_threads(_spec("{type: multiprocess}")) == 1  # one step per CPU
    assert step_threads(_spec(f"{{type: multiprocess, max_concurrent: {cpus}}}")) == 1
    assert step_threads(_spec("{type: multiprocess, max_concurrent: 1}")) == cpus
    assert step_threads(_spec(f"{{type: multiprocess, max_concurrent: {2 * cpus}}}")) == 1


@pytest.mark.skipif(available_cpus() < 2, reason="one CPU: every share is 1")
@pytest.mark.parametrize(("executor", "share"), [("in_process", "all"), ("{type: multiprocess}", "one")])
def test_the_clean_step_runs_its_column_pool_on_the_steps_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str, share: str
) -> None:
    """The real clean step runs; the pool records the thread count it was given."""
    given: list[int] = []

    class RecordingJobs(ColumnJobs):
        def __init__(self, threads: int | None = None) -> None:
            super().__init__(threads)
            given.append(self.threads)

    monkeypatch.setattr(clean_module, "ColumnJobs", RecordingJobs)
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", [("1", "1", "2.5", "2024-01-01T08:00:00Z")])
    defs = build_definitions([_spec(executor)], tmp_path, tmp_path / "warehouse")
    job = defs.resolve_job_def("shop_job")
    with DagsterInstance.ephemeral() as instance:  # steps in this process, whatever the spec says
        assert job.execute_in_process(instance=instance, partition_key="2024-01-01").success
    assert given and set(given) == {available_cpus() if share == "all" else 1}
