"""What the columns etl_assets adds to a table mean, for the UI's Columns table.

The names are defined where each column is made (``lib/sources``, ``lib/transforms/rejects``,
``lib/quality``, ``lib/dedup``, ``lib/io/postgres``); this module only documents them and imports
nothing, so the IO managers can describe any stored frame without depending on those layers.
A test keeps the two in step.
"""

from __future__ import annotations

SYSTEM_COLUMN_DESCRIPTIONS: dict[str, str] = {
    "_source_file": "Landing file (or page) the row was read from.",
    "_source_row": "Row number in that file (1 = first data row after the header).",
    "_parse_error": "Why the reader could not split this line into fields (null when it could).",
    "_partition": "Partition key the row belongs to.",
    "_reason_kind": "The row's first problem: parse_error, coercion, category, required, a rule, or dropped.",
    "_reason": "Every problem of the row, naming the column, the value and what was expected.",
    "_quality_score": "Row quality, 0 to 1: the share of the row's checks it passes.",
    "_anomaly_score": "How unusual the row is (higher: more unusual); ranks rows, never filters them.",
    "_is_anomaly": "Whether the anomaly score is past the threshold (tagged, never removed).",
    "_anomaly_reasons": "The columns that make the row unusual, with their values.",
    "_cluster_id": "Duplicate cluster of the row (rows judged the same entity share it).",
    "_cluster_size": "How many input rows the row's duplicate cluster had.",
    "_kept_id": "Key of the row kept in place of this duplicate.",
    "_score": "Match score of this duplicate with the kept row (0 to 1).",
    "_match_kind": "How the duplicate was found: exact key or fuzzy comparison.",
    "_run_id": "Dagster run that wrote the row.",
}
