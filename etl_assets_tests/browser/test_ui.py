"""The Dagster UI shows what etl_assets records, checked in headless Chromium (issue 14, items 3-4).

Each test opens the real webserver of ``demo_ui`` (conftest) and waits on content GraphQL loads.
Expected values come from the spec and the landed files, not from the UI or the run.
"""

from __future__ import annotations

import json
import re
from functools import partial

import pandas as pd
import pytest
from dagster._core.scheduler.instigation import InstigatorStatus
from playwright.sync_api import Page, expect

from etl_assets_tests.browser.conftest import FLIGHT_DAYS, DemoUI
from etl_assets_tests.browser.ui import Screenshots, asset_url, lineage_url
from etl_assets_tests.servers.dagster_deployment import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("daemon")]

LAYERS = ("raw", "clean", "rejected", "agg")


def layer_tables(demo_ui: DemoUI, pipeline: str, layer: str) -> set[str]:
    spec = demo_ui.specs[pipeline]
    return {
        "raw": set(spec.sources),
        "clean": set(spec.clean),
        "rejected": set(spec.clean),
        "agg": set(spec.aggregates),
    }[layer]


def test_asset_graph_shows_every_layer(
    page: Page, demo_ui: DemoUI, screenshots: Screenshots
) -> None:
    page.goto(f"{demo_ui.base}/asset-groups")
    for pipeline in ("flights", "customers"):  # one group per pipeline
        expect(page.get_by_text(pipeline, exact=True).first).to_be_visible()
    for layer in LAYERS:
        page.goto(lineage_url(demo_ui.base, f'key:"flights/{layer}/*"'))
        expected = layer_tables(demo_ui, "flights", layer)
        assert _graph_nodes(page, len(expected)) == sorted(expected), layer
    # one table through every layer: raw -> clean (+ rejected) -> an aggregate
    layers = ("raw/flights", "clean/flights", "rejected/flights", "agg/carrier_daily_delays")
    page.goto(lineage_url(demo_ui.base, " or ".join(f'key:"flights/{key}"' for key in layers)))
    assert _graph_nodes(page, 4) == ["carrier_daily_delays", "flights", "flights", "flights"]
    screenshots.take(page, "lineage")


def _graph_nodes(page: Page, count: int) -> list[str]:
    """Once the graph draws ``count`` nodes: the names the sidebar lists for them, sorted.

    A node's name is only drawn at a readable zoom (a small graph); the sidebar always lists it.
    """
    expect(page.locator("svg foreignObject")).to_have_count(count)
    names = page.locator("[data-index] [title]")  # the sidebar's rows
    expect(names).to_have_count(count)
    return sorted(n.get_attribute("title") or "" for n in names.all())


def test_asset_page_shows_row_count_and_column_schema(
    page: Page, demo_ui: DemoUI, screenshots: Screenshots
) -> None:
    page.goto(asset_url(demo_ui.base, "flights/clean/flights"))
    status = page.get_by_text("Latest materialization", exact=True).locator("xpath=..")
    expect(status).to_contain_text(re.compile(r"2013-01-0\d"))
    partition = re.search(r"2013-01-0\d", status.inner_text()).group(0)  # type: ignore[union-attr]
    assert partition in FLIGHT_DAYS
    landed = pd.read_csv(demo_ui.data_root / "landing" / "flights" / f"{partition}.csv")
    row_count = page.get_by_text("Row count", exact=True).locator("xpath=..")
    # no flight of these days is rejected or a duplicate (test_flights_demo): every landed row
    expect(row_count).to_have_text(re.compile(rf"^Row count\s*{len(landed):,}$"))
    columns = page.get_by_role("table").filter(has_text="Column name")
    for column in demo_ui.specs["flights"].clean["flights"].columns:
        expect(
            columns.get_by_role("row").filter(has=page.get_by_text(column, exact=True))
        ).to_have_count(1)
    # declared types reach the schema: a float, a category and a timezone-aware timestamp
    for column, dtype in {
        "dep_delay": "float64",
        "carrier": "category",
        "time_hour": "timestamp[us, tz=UTC]",
    }.items():
        expect(
            columns.get_by_role("row").filter(has=page.get_by_text(column, exact=True))
        ).to_contain_text(dtype)
    screenshots.take(page, "asset-overview")


def test_checks_tab_shows_conservation_passed_and_a_failure_sample(
    page: Page, demo_ui: DemoUI, screenshots: Screenshots
) -> None:
    page.goto(asset_url(demo_ui.base, "flights/clean/flights", view="checks"))
    page.get_by_text("row_conservation", exact=True).first.click()  # the check in the list
    expect(page).to_have_url(re.compile("checkDetail=row_conservation"))
    expect(
        page.get_by_text("rows in = rows out + rows rejected + duplicates removed")
    ).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    screenshots.take(page, "checks-conservation")

    # The real data has tail numbers and airports missing from the dimension tables: the
    # `references` check warns (WARN severity) and records a sample of the orphan values.
    page.get_by_text("references", exact=True).first.click()
    expect(page).to_have_url(re.compile("checkDetail=references"))
    expect(
        page.get_by_text("every referenced value exists in the referenced clean table")
    ).to_be_visible()
    expect(page.get_by_text("Failed", exact=True)).to_have_count(2)  # in the list and as the result
    sample_row = page.get_by_role("row").filter(has_text="orphan_values_sample")
    sample_row.get_by_text("[Show JSON]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("tailnum")
    text = dialog.inner_text()
    sample = json.loads(text[text.index("{") : text.rindex("}") + 1])
    screenshots.take(page, "checks-failure-sample")

    landing = demo_ui.data_root / "landing"
    flights = pd.read_csv(landing / "flights" / f"{FLIGHT_DAYS[-1]}.csv")  # the latest run's day
    planes = set(pd.read_csv(landing / "planes.csv")["tailnum"].str.upper())
    airports = set(pd.read_csv(landing / "airports.csv", keep_default_na=False)["faa"].str.upper())
    orphan_tails = set(flights["tailnum"].dropna().str.upper()) - planes
    orphan_dests = set(flights["dest"].str.upper()) - airports
    assert sample["tailnum"] and set(sample["tailnum"]) <= orphan_tails
    assert set(sample["dest"]) == orphan_dests  # four of them: all fit in the sample


def test_plots_tab_shows_the_quality_score(
    page: Page, demo_ui: DemoUI, screenshots: Screenshots
) -> None:
    page.goto(asset_url(demo_ui.base, "flights/clean/flights"))
    plots = page.get_by_role("button", name="Plots")
    plots.click()
    # one point per materialization event (per partition of the run)
    page.get_by_role("button", name="Events").click()
    title = page.get_by_text("quality/score", exact=True)
    expect(title).to_be_visible()
    card = title.locator("xpath=../..")  # the plot card: its title above a chart canvas
    expect(card.get_by_role("img").and_(card.locator("canvas"))).to_be_visible()
    title.scroll_into_view_if_needed()
    screenshots.take(page, "plots-quality-score")


def _is_running(demo_ui: DemoUI, kind: str, name: str) -> bool:
    return _state(demo_ui, kind, name) == InstigatorStatus.RUNNING


def _state(demo_ui: DemoUI, kind: str, name: str) -> InstigatorStatus | None:
    deployment = demo_ui.deployment
    instigator = deployment.sensor(name) if kind == "sensors" else deployment.schedule(name)
    state = deployment.instance.get_instigator_state(
        instigator.get_remote_origin_id(), instigator.selector_id
    )
    return state.status if state is not None else None


def test_sensor_and_schedule_appear_and_switch_on_from_the_ui(
    page: Page, demo_ui: DemoUI, screenshots: Screenshots
) -> None:
    sensors = sorted(s.name for s in demo_ui.defs.sensors if s.name.startswith("flights_"))
    schedules = sorted(s.name for s in demo_ui.defs.schedules if s.name.startswith("flights_"))
    assert "flights_flights_landing" in sensors and schedules == ["flights_schedule"]
    page.goto(f"{demo_ui.base}/automation")
    for name in [*sensors, *schedules]:
        expect(page.get_by_text(name, exact=True)).to_be_visible()

    for kind, name in (("sensors", "flights_flights_landing"), ("schedules", "flights_schedule")):
        assert _state(demo_ui, kind, name) != InstigatorStatus.RUNNING
        page.goto(f"{demo_ui.base}/locations/etl_assets/{kind}/{name}")
        toggle = page.get_by_role("checkbox")
        expect(toggle).not_to_be_checked()
        # the switch is drawn over a visually hidden checkbox: click its label, as a user does
        page.locator("label").filter(has=toggle).click()
        expect(toggle).to_be_checked()
        # the UI's toggle wrote the instigator state on the instance the daemon reads
        wait_for(f"{name} running on the instance", partial(_is_running, demo_ui, kind, name))
    page.goto(f"{demo_ui.base}/automation")
    expect(page.get_by_role("checkbox", checked=True)).to_have_count(2)
    screenshots.take(page, "automation-on")


def test_column_lineage_of_a_metric_leads_back_to_its_raw_column(
    page: Page, demo_ui: DemoUI, screenshots: Screenshots
) -> None:
    """Item 4. Dagster's own column lineage view is a Dagster+ feature, and the open-source UI
    hides ``dagster/column_lineage``; the same lineage shows as the ``column_lineage`` table
    (factory/lineage_metadata.py), whose links lead from a metric back to the raw column."""
    spec = demo_ui.specs["flights"]
    metric = spec.aggregates["carrier_daily_delays"].parsed_metrics["mean_dep_delay"]
    clean_column = metric.column
    raw_column = spec.clean["flights"].columns[clean_column].source or clean_column
    hops = [
        (
            "flights/agg/carrier_daily_delays",
            "mean_dep_delay",
            "flights/clean/flights",
            clean_column,
        ),
        ("flights/clean/flights", clean_column, "flights/raw/flights", raw_column),
    ]
    page.goto(asset_url(demo_ui.base, hops[0][0]))
    for number, (key, column, upstream_key, upstream_column) in enumerate(hops):
        # what Dagster+ would draw, as the webserver serves it
        assert _column_deps(demo_ui, key, column) == [(upstream_key, upstream_column)]
        entry = page.get_by_role("row").filter(has=page.get_by_text("column_lineage", exact=True))
        expect(entry).to_be_visible()
        table = entry
        if entry.get_by_text("[Show Markdown]").count():  # a long table opens in a dialog
            entry.get_by_text("[Show Markdown]").click()
            table = page.get_by_role("dialog")
        # the row of the Markdown table whose first cell is the column
        first_cell = table.locator("td:first-child", has_text=re.compile(f"^{column}$"))
        row = first_cell.locator("xpath=..")
        expect(row).to_have_count(1)
        expect(row.locator("td").last).to_have_text(f"{upstream_column} in {upstream_key}")
        row.scroll_into_view_if_needed()
        screenshots.take(page, f"column-lineage-{number + 1}")
        row.get_by_role("link", name=upstream_key, exact=True).click()
        expect(page).to_have_url(re.compile(f"/assets/{upstream_key}$"))
    # the raw table has the column (its schema as read from the landed file)
    columns = page.get_by_role("table").filter(has_text="Column name")
    expect(
        columns.get_by_role("row").filter(has=page.get_by_text(raw_column, exact=True))
    ).to_have_count(1)


def _column_deps(demo_ui: DemoUI, key: str, column: str) -> list[tuple[str, str]]:
    """``dagster/column_lineage`` of the latest materialization, as the webserver serves it."""
    data = demo_ui.deployment.graphql(
        """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
            assetMaterializations(limit: 1) { metadataEntries { label
              ... on TableColumnLineageMetadataEntry { lineage { columnName
                columnDeps { assetKey { path } columnName } } } } } } } }""",
        {"k": {"path": key.split("/")}},
    )
    entries = data["assetNodeOrError"]["assetMaterializations"][0]["metadataEntries"]
    (lineage,) = [e["lineage"] for e in entries if e["label"] == "dagster/column_lineage"]
    (deps,) = [c["columnDeps"] for c in lineage if c["columnName"] == column]
    return [("/".join(d["assetKey"]["path"]), d["columnName"]) for d in deps]
