"""``dg scaffold defs etl_assets.PipelineComponent NAME``: a pipeline that runs as scaffolded.

Writes ``defs.yaml`` (``spec: pipeline.yaml``), a starter ``pipeline.yaml`` named after the
folder (CSV orders -> clean orders + rejected rows -> revenue per status, stored as Parquet) and,
if the project has no such file yet, a five-row sample ``data/landing/<name>/orders.csv`` so
``dg launch --assets '*'`` materializes every layer straight away.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dagster.components import Scaffolder, ScaffoldRequest, scaffold_component

STARTER_SPEC = """\
# An etl_assets pipeline spec (see the etl_assets README, "Writing a pipeline").
pipeline: {name}                       # asset keys are [{name}, layer, table]
storage: {{default: parquet}}
sources:
  orders:                              # -> {name}/raw/orders
    format: csv
    path: landing/{name}/orders.csv      # under the data root (default: data/ of the project)
clean:
  orders:                              # -> {name}/clean/orders and {name}/rejected/orders
    from: orders
    columns:
      order_id: {{type: int, required: true}}
      status:   {{type: string, case: lower}}
      amount:   {{type: float}}
    dedup: {{keys: [order_id]}}
aggregates:
  revenue_by_status:                   # -> {name}/agg/revenue_by_status
    from: orders
    group_by: [status]
    metrics: {{orders: count(), revenue: sum(amount)}}
"""

SAMPLE_ORDERS = (
    "order_id,status,amount\n1,Paid,10.5\n2,paid,4.0\n2,paid,4.0\n3,New,7.25\nx4,new,1.0\n"
)


def pipeline_name(folder: Path) -> str:
    """The folder's name as a pipeline name (letters, digits, underscores)."""
    name = re.sub(r"\W+", "_", folder.name).strip("_").lower()
    return name if name and not name[0].isdigit() else f"pipeline_{name}"


class PipelineComponentScaffolder(Scaffolder):
    def scaffold(self, request: ScaffoldRequest[Any]) -> None:
        name = pipeline_name(request.target_path)
        scaffold_component(request, {"spec": "pipeline.yaml"})
        spec_path = request.target_path / "pipeline.yaml"
        if not spec_path.exists():
            spec_path.write_text(STARTER_SPEC.format(name=name), encoding="utf-8")
        if request.project_root is not None:
            sample = request.project_root / "data" / "landing" / name / "orders.csv"
            if not sample.exists():
                sample.parent.mkdir(parents=True, exist_ok=True)
                sample.write_text(SAMPLE_ORDERS, encoding="utf-8")
