"""Walk an API's pages: page number, offset, cursor token or ``Link`` header.

Each strategy yields :class:`Page` objects (the URL as requested, the page's number, its
records) and stops on the API's own signal: an empty page (or a short one, once an earlier page came
back at the full requested ``size``: servers that cap the page size below the requested one
only ever return short pages), a missing cursor, no ``rel="next"`` link. ``max_pages`` turns a server that never
stops into an error instead of an endless run. A page that fails (it vanished mid-way: 404,
or any other error) fails the whole read, naming the page and how far it got: a table with
silently missing pages would look complete downstream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from etl_assets.lib.sources.http.client import HttpClient, same_origin, shown_url
from etl_assets.lib.sources.http.errors import HttpError, MalformedResponseError, TerminalHttpError
from etl_assets.lib.sources.http.flatten import records_at
from etl_assets.lib.spec.models import HttpPaginationSpec


@dataclass(frozen=True)
class Page:
    number: int  # 1-based position in the walk
    url: str  # as requested, query included
    records: list[dict[str, Any]]


def _value_at(document: Any, dotted: str) -> Any:
    value = document
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def iter_pages(
    client: HttpClient,
    url: str,
    *,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    pagination: HttpPaginationSpec,
    record_path: str | None,
    auth: Mapping[str, str] | None = None,
) -> Iterator[Page]:
    """The pages of ``url``; ``auth`` (credential headers) goes only to requests on ``url``'s
    origin: a ``next`` link to another host or port gets ``headers`` alone."""
    kind = pagination.type
    base = dict(params)
    if pagination.size_param and pagination.size:
        base[pagination.size_param] = pagination.size
    page_number = pagination.start_page
    offset = 0
    cursor: Any = None
    seen_cursors: set[str] = set()
    next_url: str | None = url
    received = 0
    full_page_seen = False
    for number in range(1, pagination.max_pages + 2):
        if number > pagination.max_pages:
            raise TerminalHttpError(
                f"{shown_url(url, params)}: more than max_pages={pagination.max_pages} pages "
                f"({received} records so far); raise pagination.max_pages if that is expected",
                url=url,
            )
        query = dict(base)
        request_url = url
        if kind == "page":
            query[pagination.page_param] = page_number
        elif kind == "offset":
            query[pagination.offset_param] = offset
        elif kind == "cursor" and cursor is not None:
            query[pagination.cursor_param] = cursor
        elif kind == "link":
            assert next_url is not None
            request_url = next_url
            if number > 1:
                query = {}  # the next link carries its own query
        shown = shown_url(request_url, query)
        try:
            document, response = client.get_json(
                request_url,
                params=query,
                headers=headers,
                auth=auth if same_origin(request_url, url) else None,
            )
            records = records_at(document, record_path, f"GET {shown}")
        except HttpError as error:
            if number == 1:
                raise
            raise type(error)(
                f"page {number} failed after {number - 1} page(s) and {received} record(s) "
                f"were read; nothing is kept from a partial walk. {error}",
                **error.fields(),
            ) from error
        received += len(records)
        yield Page(number, shown, records)
        if kind == "none":
            return
        # A short page ends the walk only once the server has shown it honours ``size`` (an
        # earlier page came back full): a server that caps the page size below the requested
        # one returns only short pages, and the walk goes on until an empty page.
        if pagination.size is not None and len(records) >= pagination.size:
            full_page_seen = True
        short = full_page_seen and len(records) < (pagination.size or 0)
        if kind == "page":
            if not records or short:
                return
            page_number += 1
        elif kind == "offset":
            if not records or short:
                return
            offset += len(records)
        elif kind == "cursor":
            assert pagination.cursor_path is not None
            token = _value_at(document, pagination.cursor_path)
            if token is None or token == "":
                return
            token_text = str(token)
            if token_text in seen_cursors:
                raise MalformedResponseError(
                    f"GET {shown}: cursor {token_text!r} at {pagination.cursor_path} repeats an "
                    "earlier page's: the walk would never end",
                    url=shown,
                )
            seen_cursors.add(token_text)
            cursor = token
        elif kind == "link":
            link = response.links.get("next", {}).get("url")
            if not link:
                return
            next_url = urljoin(response.url, link)
    return  # pragma: no cover - the loop always returns or raises
