"""Storage locations safe to put on a span: no password, no query string, no fragment."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def safe_uri(location: object) -> str:
    """``location`` as text without credentials or query parameters (which may carry tokens).

    ``s3://bucket/prefix/x.parquet`` and local paths are kept as they are;
    ``https://user:secret@host/api?token=...`` becomes ``https://host/api``.
    """
    text = str(location)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    netloc = parts.netloc.rpartition("@")[2]  # host[:port], user and password dropped
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
