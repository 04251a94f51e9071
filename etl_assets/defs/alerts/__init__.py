"""Alerts to a webhook: failed runs and failed asset checks (see ``sensors.py``).

:func:`alert_definitions` returns the two sensors and the ``alert_webhook`` resource; the code
location includes them only when a webhook is configured (``ETL_ASSETS_ALERT_WEBHOOK``).
"""

from __future__ import annotations

from dagster import Definitions, EnvVar

from etl_assets.defs.alerts.message import Alert
from etl_assets.defs.alerts.sensors import (
    CHECK_FAILURE_SENSOR,
    RUN_FAILURE_SENSOR,
    build_check_failure_sensor,
    build_run_failure_sensor,
    run_failure_alert,
)
from etl_assets.defs.alerts.webhook import AlertWebhook

WEBHOOK_ENV = "ETL_ASSETS_ALERT_WEBHOOK"


def alert_definitions(webhook: AlertWebhook | None = None) -> Definitions:
    """The alert sensors with their webhook (default: URL from ``$ETL_ASSETS_ALERT_WEBHOOK``)."""
    return Definitions(
        sensors=[build_run_failure_sensor(), build_check_failure_sensor()],
        resources={"alert_webhook": webhook or AlertWebhook(url=EnvVar(WEBHOOK_ENV))},
    )


__all__ = [
    "CHECK_FAILURE_SENSOR",
    "RUN_FAILURE_SENSOR",
    "WEBHOOK_ENV",
    "Alert",
    "AlertWebhook",
    "alert_definitions",
    "build_check_failure_sensor",
    "build_run_failure_sensor",
    "run_failure_alert",
]
