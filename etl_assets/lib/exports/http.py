"""Batched POSTs of a table's rows to an ingestion endpoint (a Deep Lynx-style import API).

Rows are sent in batches of ``batch_size`` as a JSON array (or ``{records_field: [...]}``),
through the same :class:`~etl_assets.lib.sources.http.HttpClient` as the sources: rate limit,
retries with backoff and ``Retry-After``, circuit breaker.

Exactly-once delivery relies on an idempotency key per batch, sent as the ``Idempotency-Key``
header: a hash of ``namespace`` (asset key and partition), the batch's position and its bytes.
When a POST was applied but its reply was lost (the connection dropped), the retry carries the
same key and the server answers "already have it" instead of applying the batch twice. The key
depends only on the data, so a rerun of the whole step (Dagster ``RetryPolicy``) re-sends the
same keys too. A server that signals duplicates with a status (``409 Conflict`` by default,
``duplicate_statuses``) has the batch counted as delivered.

A batch that fails (a 4xx, or a transient failure that outlasted the retries) does not stop the
others; the :class:`LoadReport` lists each batch with its outcome, and
:meth:`LoadReport.raise_for_failures` turns failures into one :class:`ExportError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from etl_assets.lib.sources.http.client import HttpClient
from etl_assets.lib.sources.http.errors import HttpError, TransientHttpError

IDEMPOTENCY_HEADER = "Idempotency-Key"
Outcome = Literal["sent", "duplicate", "failed"]


@dataclass(frozen=True)
class BatchResult:
    index: int  # 0-based batch number
    first_row: int  # 0-based position of its first row in the table
    rows: int
    key: str
    outcome: Outcome
    http_status: int | None = None
    error: str | None = None
    transient: bool = False  # for failures: would a later retry have a chance?


@dataclass
class LoadReport:
    url: str
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def failed(self) -> list[BatchResult]:
        return [b for b in self.batches if b.outcome == "failed"]

    @property
    def rows_delivered(self) -> int:
        return sum(b.rows for b in self.batches if b.outcome != "failed")

    @property
    def rows_failed(self) -> int:
        return sum(b.rows for b in self.failed)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_metadata(self) -> dict[str, Any]:
        return {
            "export_url": self.url,
            "batches": len(self.batches),
            "batches_sent": sum(b.outcome == "sent" for b in self.batches),
            "batches_duplicate": sum(b.outcome == "duplicate" for b in self.batches),
            "batches_failed": len(self.failed),
            "rows_delivered": self.rows_delivered,
            "rows_failed": self.rows_failed,
        }

    def failure_summary(self, limit: int = 5) -> str:
        lines = [
            f"batch {b.index} (rows {b.first_row}-{b.first_row + b.rows - 1}): {b.error}"
            for b in self.failed[:limit]
        ]
        more = len(self.failed) - limit
        return "; ".join(lines) + (f"; (+{more} more)" if more > 0 else "")

    def raise_for_failures(self) -> None:
        if self.failed:
            raise ExportError(self)


class ExportError(RuntimeError):
    """Some batches were not delivered; ``report`` says which and why."""

    def __init__(self, report: LoadReport):
        self.report = report
        self.transient = all(b.transient for b in report.failed)
        super().__init__(
            f"{len(report.failed)} of {len(report.batches)} batch(es) to {report.url} failed "
            f"({report.rows_failed} rows): {report.failure_summary()}"
        )


def batch_key(namespace: str, index: int, payload: bytes) -> str:
    """The idempotency key of one batch: stable for the same data, distinct across batches."""
    digest = hashlib.sha256()
    for part in (namespace.encode("utf-8"), str(index).encode("ascii"), payload):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:40]


def _is_date_column(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_date(dtype.pyarrow_dtype)
    if not pd.api.types.is_object_dtype(dtype):
        return False
    values = series.dropna()
    return len(values) > 0 and all(
        isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in values
    )


def _iso_instant(stamp: pd.Timestamp) -> str:
    text = stamp.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _json_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with dates and zoned timestamps as the strings the payload promises
    (``to_json`` alone sends dates as midnight datetimes and converts every instant to UTC)."""
    out = frame.copy()  # copy-on-write: cheap, and the caller's frame is left alone
    for position, (_, series) in enumerate(frame.items()):
        if _is_date_column(series):
            values = [None if pd.isna(v) else v.isoformat() for v in series]
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            values = [None if pd.isna(v) else _iso_instant(v) for v in series]
        else:
            continue
        out.isetitem(position, pd.Series(values, index=series.index, dtype=object))
    return out


def batch_payload(frame: pd.DataFrame, records_field: str | None) -> bytes:
    """Rows as JSON records: nulls as null; dates as ``YYYY-MM-DD``; timestamps in ISO 8601
    with microseconds and their own UTC offset (``2024-01-01T10:00:00.000000+02:00``; a zero
    offset as ``Z``); naive timestamps without an offset, as stored."""
    records = _json_ready(frame).to_json(
        orient="records", date_format="iso", date_unit="us", force_ascii=False
    )
    text = records if records_field is None else f'{{"{records_field}": {records}}}'
    return text.encode("utf-8")


def post_rows(
    frame: pd.DataFrame,
    url: str,
    client: HttpClient,
    *,
    batch_size: int = 500,
    namespace: str = "",
    headers: Mapping[str, str] | None = None,
    records_field: str | None = None,
    duplicate_statuses: tuple[int, ...] = (409,),
    auth: Mapping[str, str] | None = None,
) -> LoadReport:
    """POST ``frame`` in batches (see the module docstring); never raises for a failed batch.

    ``auth``: credential headers, stripped from any redirect that leaves ``url``'s origin."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    report = LoadReport(url=url)
    base_headers = {"Content-Type": "application/json", **(headers or {})}
    for index, start in enumerate(range(0, len(frame), batch_size)):
        part = frame.iloc[start : start + batch_size]
        payload = batch_payload(part, records_field)
        key = batch_key(namespace, index, payload)
        request_headers = {**base_headers, IDEMPOTENCY_HEADER: key}
        try:
            response = client.request("POST", url, headers=request_headers, data=payload, auth=auth)
        except HttpError as error:
            if error.status in duplicate_statuses:
                report.batches.append(
                    BatchResult(index, start, len(part), key, "duplicate", error.status)
                )
                continue
            report.batches.append(
                BatchResult(
                    index,
                    start,
                    len(part),
                    key,
                    "failed",
                    error.status,
                    str(error),
                    transient=isinstance(error, TransientHttpError),
                )
            )
            continue
        report.batches.append(
            BatchResult(index, start, len(part), key, "sent", response.status_code)
        )
    return report
