"""``HttpClientResource``: the HTTP client settings of a code location, as resource config.

Timeouts, retries, backoff, rate limit and circuit breaker defaults for every ``format: http``
source and HTTP loader (a spec's own ``retry`` / ``rate_limit`` win for its source). Tests set
``backoff_base_s`` small so fault injection stays fast. One client (session, breakers) per
resource instance, so a run's requests share the connection pool and the circuit state.
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from etl_assets.lib.sources.http.client import ClientSettings, HttpClient
from etl_assets.lib.sources.http.retry import RetrySettings


class HttpClientResource(ConfigurableResource):
    timeout_s: float = Field(
        default=30.0, gt=0, description="Per-request timeout (connect and read)."
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Attempts per request, the first included."
    )
    backoff_base_s: float = Field(
        default=0.5, ge=0, description="First retry's delay; doubles each retry."
    )
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_retry_after_s: float = Field(
        default=120.0, ge=0, description="Longest Retry-After waited for."
    )
    rate_per_s: float | None = Field(
        default=None, gt=0, description="Token bucket rate; None: unlimited."
    )
    burst: int = Field(default=1, ge=1)
    breaker_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open the circuit."
    )
    breaker_reset_s: float = Field(
        default=30.0, ge=0, description="How long an open circuit refuses requests."
    )

    _client: HttpClient | None = PrivateAttr(default=None)

    def settings(self) -> ClientSettings:
        return ClientSettings(
            timeout_s=self.timeout_s,
            retry=RetrySettings(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                backoff_max_s=self.backoff_max_s,
                max_retry_after_s=self.max_retry_after_s,
            ),
            rate_per_s=self.rate_per_s,
            burst=self.burst,
            breaker_threshold=self.breaker_threshold,
            breaker_reset_s=self.breaker_reset_s,
        )

    def get_client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(self.settings())
        return self._client
