"""Snapshot of what the shipped pipelines generate, so an accidental change fails loudly.

After an intended change, regenerate with:
    ETL_ASSETS_UPDATE_SNAPSHOTS=1 .venv/bin/pytest etl_assets_tests/test_asset_graph_snapshot.py
and review the diff of the snapshot file in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster import Definitions

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import load_specs
from etl_assets_tests.conftest import PROJECT_ROOT

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def describe(defs: Definitions) -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "partitioned": node.partitions_def is not None,
            "kinds": sorted(node.kinds),
            "checks": sorted(c.name for c in node.check_keys),
        }
    repo = defs.get_repository_def()
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": {s.name: s.cron_schedule for s in repo.schedule_defs},
        "sensors": {
            s.name: sorted(k.to_user_string() for t in s.targets for k in t.resolvable_to_job.selection.resolve(graph))
            for s in repo.sensor_defs
        },
    }


def test_asset_graph_matches_snapshot(tmp_path: Path) -> None:
    defs = build_definitions(load_specs([PROJECT_ROOT / "pipelines"]), tmp_path)
    current = describe(defs)
    if os.environ.get("ETL_ASSETS_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, f"asset graph changed; if intended, regenerate {SNAPSHOT.name} (see module docstring)"
