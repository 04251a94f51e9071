"""Column lineage as a table the open-source Dagster UI shows.

Clean tables and aggregates record ``dagster/column_lineage`` (``TableColumnLineage``), the entry
Dagster's column-level lineage view reads. That view is a Dagster+ feature: the open-source
webserver hides the entry from every metadata table, so a user of ``dagster dev`` would never see
it. The same lineage is therefore also recorded as ``column_lineage``, a Markdown table with one
row per column and a link to each upstream asset's page, so the lineage can be followed in the UI
from an aggregate's metric back to the raw source column.
"""

from __future__ import annotations

from dagster import MetadataValue, TableColumnLineage
from dagster._core.definitions.metadata.metadata_value import MarkdownMetadataValue

LINEAGE_TABLE_KEY = "column_lineage"


def lineage_table(lineage: TableColumnLineage) -> MarkdownMetadataValue:
    """``| column | from |`` rows, ``from`` as ``upstream_column in [asset/key](/assets/asset/key)``
    (the column first: the UI's metadata column is narrow and clips the end)."""
    rows = ["| column | from |", "|---|---|"]
    for column, deps in lineage.deps_by_column.items():
        sources = ", ".join(
            f"`{dep.column_name}` in [{dep.asset_key.to_user_string()}](/assets/{dep.asset_key.to_user_string()})"
            for dep in deps
        )
        rows.append(f"| `{column}` | {sources} |")
    return MetadataValue.md("\n".join(rows))
