"""A demo-sized instance served by a real dagster-webserver, and a headless browser to look at it.

The shipped pipelines run for real first, in this process, into a temporary DAGSTER_HOME: flights
for two days (every layer: raw, clean, rejected, agg, with their checks) and customers (mapping and
fuzzy dedup). Then a gRPC code server and ``dagster-webserver`` start on that instance, on
127.0.0.1 and free ports, as in the README's "Running it in production on one machine", and are
stopped by PID at the end (``Deployment.stop``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import Definitions
from playwright.sync_api import Browser, Page, expect

from etl_assets.demo.customers import land_customers
from etl_assets.demo.nycflights import land_nycflights
from etl_assets.demo.runner import run_pipeline
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import PipelineSpec, load_specs
from etl_assets_tests.browser.ui import TIMEOUT_MS, VIEWPORT, Screenshots, chromium
from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.servers.dagster_deployment import Deployment

#: Demo-sized: two days of flights build every layer (one run each, as the schedule would).
FLIGHT_DAYS = ("2013-01-01", "2013-01-02")


@dataclass
class DemoUI:
    base: str
    deployment: Deployment
    data_root: Path
    specs: dict[str, PipelineSpec]
    defs: Definitions


@pytest.fixture(scope="module")
def demo_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoUI]:
    tmp = tmp_path_factory.mktemp("ui_demo")
    data = tmp / "data"
    land_nycflights(data)
    land_customers(data)
    specs = {s.pipeline: s for s in load_specs([PROJECT_ROOT / "pipelines"])}
    assert {"flights", "customers"} <= set(specs), sorted(specs)
    env = {
        "ETL_ASSETS_PIPELINES": str(PROJECT_ROOT / "pipelines"),
        "ETL_ASSETS_DATA_ROOT": str(data),
    }
    deployment = Deployment.prepare(tmp / "home", PROJECT_ROOT / "dagster.yaml", env)
    try:
        defs = build_definitions(list(specs.values()), data, data / "warehouse")
        # a run per day, as the schedule does: the plots get a point per run. DAGSTER_HOME is
        # set as for a run the code server launches (the embedding cache goes there, not to cwd)
        with pytest.MonkeyPatch.context() as env_patch:
            env_patch.setenv("DAGSTER_HOME", str(deployment.home))
            runs = [
                run_pipeline(defs, specs["flights"], deployment.instance, day, day)
                for day in FLIGHT_DAYS
            ]
            runs.append(run_pipeline(defs, specs["customers"], deployment.instance))
        assert all(run.success for run in runs), runs
        deployment.start_code_server()
        deployment.wait_for_code_server()
        port = deployment.start_webserver()
        deployment.assert_location_loaded()
        # The UI greets a first visit on 127.0.0.1 with a "Join the Dagster community" dialog
        # over every page; mark it seen on the instance, as its "Skip" button does.
        assert deployment.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True
        yield DemoUI(f"http://127.0.0.1:{port}", deployment, data, specs, defs)
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def browser(demo_ui: DemoUI) -> Iterator[Browser]:
    # after demo_ui: the pipelines run in this process before Playwright starts its event loop
    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots(tmp_path_factory.mktemp("screenshots"))
