"""The schema sidecar stored next to each CSV and JSON Lines file.

CSV and JSON Lines carry no types, so ``<file>.schema.json`` (e.g. ``2024-01-01.csv.schema.json``)
holds the file's Arrow schema, pandas metadata and categories included, which the reader uses to
parse each column straight into its type. It is JSON so a person can see the columns; the exact
schema is the base64 Arrow IPC serialization in ``arrow_schema``.

It also records the data file's size. Data and sidecar are two files, each replaced atomically
but not together: a crash between the two renames (or an edit by hand) would pair data with
another version's schema, and the size check turns that into a clear error rather than a
silent mis-parse.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pyarrow as pa
from upath import UPath

SIDECAR_SUFFIX = ".schema.json"
SIDECAR_FORMAT = "etl_assets.arrow-schema/1"


class SidecarMismatchError(RuntimeError):
    """The data file is not the one its schema sidecar was written for."""


def sidecar_path(path: UPath) -> UPath:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_sidecar(schema: pa.Schema, *, rows: int, data_bytes: int, local_file: str) -> None:
    document = {
        "format": SIDECAR_FORMAT,
        "rows": rows,
        "data_bytes": data_bytes,
        "columns": {f.name: str(f.type) for f in schema},
        "arrow_schema": base64.b64encode(schema.serialize().to_pybytes()).decode("ascii"),
    }
    Path(local_file).write_text(
        json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8"
    )


def read_sidecar(path: UPath) -> tuple[pa.Schema, int]:
    """The schema stored for data file ``path`` and the data size it was written with."""
    sidecar = sidecar_path(path)
    try:
        document = json.loads(sidecar.read_bytes())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: its schema file {sidecar.name} is missing; rematerialize the asset to recreate it"
        ) from None
    if document.get("format") != SIDECAR_FORMAT:
        raise ValueError(
            f"{sidecar}: not an etl_assets schema file (format {document.get('format')!r})"
        )
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(document["arrow_schema"])))
    return schema, int(document["data_bytes"])


def check_size(path: UPath, expected: int, actual: int) -> None:
    if expected != actual:
        raise SidecarMismatchError(
            f"{path} has {actual} bytes but its schema file {sidecar_path(path).name} was written for "
            f"{expected}: the two come from different writes (interrupted write or edited by hand); "
            "rematerialize the asset"
        )
