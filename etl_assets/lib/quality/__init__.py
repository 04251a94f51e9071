"""Data quality building blocks: anomaly tagging, schema registry and drift (and, from Part A, schemas and scores)."""
