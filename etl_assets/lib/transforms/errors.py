"""Errors that stop a transform outright (as opposed to bad rows, which are rejected and counted)."""

from __future__ import annotations


class CleanError(ValueError):
    """The raw frame cannot be cleaned at all (a declared column is missing, a bad default, ...)."""


class AggregateError(ValueError):
    """The aggregate cannot be computed (unknown column, unmatchable join keys, ...)."""
