"""The alert text: what failed, where, and a link to the run in the UI. Short on purpose: a chat
message someone reads on a phone, with the details one click away."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_ERROR_CHARS = 300
_QUALIFIED = re.compile(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*: )")


@dataclass(frozen=True)
class Alert:
    kind: str  # "run_failure" | "check_failure"
    pipeline: str | None
    asset: str | None
    partition: str | None
    error: str
    run_id: str
    run_url: str

    @property
    def text(self) -> str:
        what = "run failed" if self.kind == "run_failure" else "check failed"
        where = ", ".join(
            part
            for part in (
                f"pipeline {self.pipeline}" if self.pipeline else None,
                f"asset {self.asset}" if self.asset else None,
                f"partition {self.partition}" if self.partition else None,
            )
            if part
        )
        return f"etl_assets {what}: {where or 'run ' + self.run_id[:8]}: {self.error}. Run: {self.run_url}"

    def payload(self) -> dict[str, Any]:
        """JSON body: ``text`` (what Slack-style webhooks show) plus each field on its own."""
        return {"text": self.text, **asdict(self)}


def short_error(message: str | None) -> str:
    """The first line of an error message (``pkg.mod.Error: x`` as ``Error: x``), cut short."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else "unknown error"
    first = _QUALIFIED.sub(r"\1", first)
    return first if len(first) <= _ERROR_CHARS else first[: _ERROR_CHARS - 1] + "…"


def asset_from_step(step_key: str | None) -> str | None:
    """Asset ops are named by their key joined with ``__`` (``shop__clean__orders``)."""
    return step_key.replace("__", "/") if step_key else None


def pipeline_of(asset: str | None, job_name: str | None) -> str | None:
    if asset:
        return asset.split("/", 1)[0]
    if job_name and job_name.endswith("_job"):
        return job_name[: -len("_job")]
    return job_name


def run_url(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"
