"""Hand-written Dagster objects, one folder per concern (alerts, ...)."""
