"""etl_assets: declare ETL pipelines in YAML; get Dagster assets, IO managers and checks.

``etl_assets.PipelineComponent`` is the Dagster Component (``type:`` of a ``defs.yaml``). It is
imported on first access, so ``import etl_assets.lib...`` stays free of the Component machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_assets.component import PipelineComponent

__all__ = ["PipelineComponent"]


def __getattr__(name: str) -> Any:
    if name == "PipelineComponent":
        from etl_assets.component import PipelineComponent

        return PipelineComponent
    raise AttributeError(f"module 'etl_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
