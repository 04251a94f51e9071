"""Text and JSON reports of an asset's schema history (``etl-assets schema history``)."""

from __future__ import annotations

import datetime as dt
import json

from etl_assets.lib.quality.drift import compare_schemas
from etl_assets.lib.quality.registry import RecordedVersion


def history_json(history: list[RecordedVersion]) -> str:
    return json.dumps(
        [
            {
                "version": v.version,
                "fingerprint": v.fingerprint,
                "run_id": v.run_id,
                "timestamp": v.timestamp,
                "partition": v.partition,
                "columns": v.schema.to_json(),
            }
            for v in history
        ],
        indent=1,
    )


def history_text(asset: str, history: list[RecordedVersion]) -> str:
    if not history:
        return f"{asset}: no recorded schema (never materialized with schema metadata on this instance)"
    lines = [f"{asset}: {len(history)} schema version(s)"]
    previous: RecordedVersion | None = None
    for v in history:
        when = dt.datetime.fromtimestamp(v.timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if v.timestamp else "?"
        lines.append(
            f"  v{v.version}  {v.fingerprint[:12]}  {when}  run {v.run_id}  {len(v.schema.columns)} columns"
        )
        if previous is None:
            lines.append("      " + ", ".join(f"{c.name}:{c.type}{'' if c.nullable else ' NOT NULL'}" for c in v.schema.columns))
        else:
            for change in compare_schemas(previous.schema, v.schema).changes:
                lines.append(f"      {'BREAKING' if change.breaking else 'compatible'}: {change}")
        previous = v
    return "\n".join(lines)
