"""Remote storage failures split into "retry" and "stop" for Dagster's retry policy.

On S3 a write or read can fail for reasons a retry fixes (a dropped connection, a 503 slow-down;
s3fs already retried those a few times) and for reasons it cannot (access denied, a bucket that
does not exist, a partition that was never written). The second kind is raised as
``Failure(allow_retries=False)`` so a step ``RetryPolicy`` does not rerun it; the first kind
propagates unchanged and is retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from dagster import Failure, InputContext, OutputContext

from etl_assets.lib.io.managers import FrameIOManager

#: s3fs maps 403 (AccessDenied, bad keys) to PermissionError and NoSuchBucket/NoSuchKey to
#: FileNotFoundError (terminal for writes: the bucket is missing).
TERMINAL_STORAGE_ERRORS: tuple[type[BaseException], ...] = (PermissionError, FileNotFoundError)


@contextmanager
def classified_storage_errors(
    what: str, terminal: tuple[type[BaseException], ...] = TERMINAL_STORAGE_ERRORS
) -> Iterator[None]:
    try:
        yield
    except terminal as error:
        raise Failure(
            description=f"{what}: {type(error).__name__}: {error} (terminal: not retried)",
            metadata={"error_kind": "terminal", "error_type": type(error).__name__},
            allow_retries=False,
        ) from error


class RemoteFrameIOManager(FrameIOManager):
    """:class:`FrameIOManager` for object stores: terminal storage errors are not retried."""

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        with classified_storage_errors(f"writing {_name(context)} under {self._base_path}"):
            super().handle_output(context, obj)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        # A missing partition stays a FileNotFoundError, as for local folders (same contract);
        # only access errors are classified here.
        with classified_storage_errors(
            f"reading {_name(context)} under {self._base_path}", terminal=(PermissionError,)
        ):
            return super().load_input(context)


def _name(context: InputContext | OutputContext) -> str:
    return context.asset_key.to_user_string() if context.has_asset_key else "an output"
