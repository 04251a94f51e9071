"""``AlertWebhook``: where alerts are posted (a chat or incident webhook), as resource config.

The URL usually embeds a secret token, so it comes from an ``EnvVar`` and is never logged:
log lines and errors name the webhook by its host only (its full URL, path and query are
redacted from the client's warnings; the error raised carries no exception text). Posting uses the project's HTTP client
(retries with backoff on 429/5xx/timeouts, circuit breaker), so a flaky webhook does not lose
an alert: when it still fails, the sensor tick fails and Dagster evaluates it again.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from etl_assets.defs.alerts.message import Alert
from etl_assets.lib.sources.http import ClientSettings, HttpClient, HttpError, RetrySettings


def secret_parts(url: str) -> list[str]:
    """The parts of ``url`` that may hold its token, longest first: the URL itself, its path
    with the query, the query, the path. Error texts from urllib3 embed only the path."""
    parts = urlsplit(url)
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    candidates = [url, path_query, parts.query, parts.path]
    return sorted({c for c in candidates if c and c != "/"}, key=len, reverse=True)


def redact(text: str, url: str, shown: str) -> str:
    """``text`` with every secret-bearing part of ``url`` replaced by ``shown`` (the host)."""
    for secret in secret_parts(url):
        text = text.replace(secret, shown)
    return text


class _Redacting:
    """The client's retry warnings, with the webhook URL (or its path, or its query)
    replaced by its host."""

    def __init__(self, secret: str, shown: str):
        self._secret = secret
        self._shown = shown
        self._log = logging.getLogger(__name__)

    def warning(self, message: str) -> None:
        self._log.warning(redact(message, self._secret, self._shown))


class AlertWebhook(ConfigurableResource):
    url: str = Field(description="Webhook URL (EnvVar: it usually contains a token).")
    ui_base_url: str = Field(
        default="http://127.0.0.1:3000", description="Dagster UI, for run links."
    )
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    backoff_base_s: float = Field(default=1.0, ge=0)

    _client: HttpClient | None = PrivateAttr(default=None)

    @property
    def shown(self) -> str:
        """The webhook as it may appear in logs: scheme and host, no path (where tokens live)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}"

    def client(self) -> HttpClient:
        if self._client is None:
            retry = RetrySettings(
                max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s, backoff_max_s=30
            )
            self._client = HttpClient(
                ClientSettings(timeout_s=self.timeout_s, retry=retry),
                log=_Redacting(self.url, self.shown),
            )
        return self._client

    def post(self, alert: Alert) -> None:
        body = json.dumps(alert.payload(), ensure_ascii=False).encode("utf-8")
        failure: HttpError | None = None
        try:
            self.client().request(
                "POST", self.url, headers={"Content-Type": "application/json"}, data=body
            )
        except HttpError as error:
            failure = error
        if failure is not None:
            # raised outside the except block, so the client's error (its message holds the
            # URL) is neither the cause nor the context: only the host-only form is shown
            raise RuntimeError(
                f"alert webhook {self.shown} did not accept the alert ({type(failure).__name__}, "
                f"HTTP {failure.status or '-'}, {failure.attempts} attempt(s))"
            )
