"""``format: http`` sources: pagination kinds, flattening, auth, partitions, spec errors."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from etl_assets.lib.sources import SourceError
from etl_assets.lib.sources.http import (
    ClientSettings,
    HttpClient,
    RetrySettings,
    TerminalHttpError,
    read_http_source,
    records_to_table,
)
from etl_assets.lib.spec import SourceSpec
from etl_assets_tests.servers.http import FaultServer, Recorded, Reply

ITEMS = [{"id": i, "name": f"n{i}"} for i in range(1, 6)]


def client() -> HttpClient:
    retry = RetrySettings(max_attempts=3, backoff_base_s=0.001, backoff_max_s=0.002)
    return HttpClient(ClientSettings(timeout_s=2, retry=retry), rng=random.Random(0))


def http_spec(url: str, **options) -> SourceSpec:
    partitioned = options.pop("partitioned", False)
    return SourceSpec.model_validate(
        {"format": "http", "partitioned": partitioned, "http": {"url": url, **options}}
    )


def read(spec: SourceSpec, **kwargs):
    return read_http_source(spec, client(), name="api", **kwargs)


def test_page_number_pagination(http_server: FaultServer) -> None:
    def pages(request: Recorded) -> Reply:
        page = int(request.query["page"])
        return Reply(200, {"data": {"items": ITEMS[(page - 1) * 2 : page * 2]}})

    http_server.route("GET", "/items", pages)
    frame = read(
        http_spec(http_server.url("/items"), record_path="data.items", pagination={"type": "page"})
    )
    assert frame["id"].tolist() == [1, 2, 3, 4, 5]
    assert [r.query["page"] for r in http_server.hits("/items")] == [
        "1",
        "2",
        "3",
        "4",
    ]  # page 4 is empty: stop
    assert frame["_source_file"].tolist()[2] == http_server.url("/items?page=2")
    assert frame["_source_row"].tolist() == [1, 2, 1, 2, 1]


def test_offset_pagination_stops_on_a_short_page(http_server: FaultServer) -> None:
    def pages(request: Recorded) -> Reply:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return Reply(200, ITEMS[offset : offset + limit])

    http_server.route("GET", "/o", pages)
    spec = http_spec(
        http_server.url("/o"), pagination={"type": "offset", "size_param": "limit", "size": 2}
    )
    assert read(spec)["id"].tolist() == [1, 2, 3, 4, 5]
    assert [r.query["offset"] for r in http_server.hits("/o")] == ["0", "2", "4"]


@pytest.mark.parametrize("kind", ["offset", "page"])
def test_server_capping_the_page_size_is_read_to_the_end(
    http_server: FaultServer, kind: str
) -> None:
    records = [{"id": i} for i in range(500)]
    cap = 50  # the server ignores any larger requested size

    def pages(request: Recorded) -> Reply:
        limit = min(int(request.query["limit"]), cap)
        start = (
            int(request.query["offset"])
            if kind == "offset"
            else (int(request.query["page"]) - 1) * limit
        )
        return Reply(200, records[start : start + limit])

    http_server.route("GET", "/capped", pages)
    spec = http_spec(
        http_server.url("/capped"), pagination={"type": kind, "size_param": "limit", "size": 100}
    )
    assert read(spec)["id"].tolist() == list(range(500))
    assert len(http_server.hits("/capped")) == 11  # ten short pages, then the empty one


def test_cursor_pagination(http_server: FaultServer) -> None:
    tokens = {None: ("a", ITEMS[:2]), "a": ("b", ITEMS[2:4]), "b": (None, ITEMS[4:])}

    def pages(request: Recorded) -> Reply:
        following, records = tokens[request.query.get("after")]
        return Reply(200, {"results": records, "meta": {"next": following}})

    http_server.route("GET", "/c", pages)
    spec = http_spec(
        http_server.url("/c"),
        params={"q": "x"},
        record_path="results",
        pagination={"type": "cursor", "cursor_param": "after", "cursor_path": "meta.next"},
    )
    assert read(spec)["id"].tolist() == [1, 2, 3, 4, 5]
    assert [(r.query.get("after"), r.query["q"]) for r in http_server.hits("/c")] == [
        (None, "x"),
        ("a", "x"),
        ("b", "x"),
    ]


def test_repeating_cursor_is_an_error(http_server: FaultServer) -> None:
    http_server.script("GET", "/loop", Reply(200, {"results": ITEMS[:1], "next": "same"}))
    spec = http_spec(
        http_server.url("/loop"),
        record_path="results",
        pagination={"type": "cursor", "cursor_path": "next"},
    )
    with pytest.raises(TerminalHttpError, match="cursor 'same' at next repeats"):
        read(spec)


def test_link_header_pagination(http_server: FaultServer) -> None:
    def pages(request: Recorded) -> Reply:
        page = int(request.query.get("p", "1"))
        headers = (
            {"Link": f'</l?p={page + 1}&per=2>; rel="next", </l?p=1>; rel="first"'}
            if page < 3
            else {}
        )
        return Reply(200, ITEMS[(page - 1) * 2 : page * 2], headers)

    http_server.route("GET", "/l", pages)
    assert read(http_spec(http_server.url("/l"), pagination={"type": "link"}))["id"].tolist() == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert [r.query.get("p") for r in http_server.hits("/l")] == [None, "2", "3"]


def test_page_disappearing_mid_pagination_fails_the_read(http_server: FaultServer) -> None:
    def pages(request: Recorded) -> Reply:
        page = int(request.query["page"])
        return Reply(200, ITEMS[:2]) if page == 1 else Reply(404, {"error": "page expired"})

    http_server.route("GET", "/gone", pages)
    with pytest.raises(
        TerminalHttpError,
        match=r"page 2 failed after 1 page\(s\) and 2 record\(s\) were read.*HTTP 404",
    ) as raised:
        read(http_spec(http_server.url("/gone"), pagination={"type": "page"}))
    assert raised.value.status == 404
    assert len(http_server.hits("/gone")) == 2  # a 404 is not retried


def test_max_pages_guards_against_endless_apis(http_server: FaultServer) -> None:
    http_server.script("GET", "/endless", Reply(200, ITEMS[:1]))
    spec = http_spec(http_server.url("/endless"), pagination={"type": "page", "max_pages": 3})
    with pytest.raises(TerminalHttpError, match="more than max_pages=3 pages"):
        read(spec)


def test_auth_token_from_environment(
    http_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.script("GET", "/secure", Reply(200, ITEMS[:1]))
    spec = http_spec(http_server.url("/secure"), auth={"token_env": "API_TOKEN_FOR_TEST"})
    monkeypatch.delenv("API_TOKEN_FOR_TEST", raising=False)
    with pytest.raises(SourceError, match=r"API_TOKEN_FOR_TEST .* is not set"):
        read(spec)
    monkeypatch.setenv("API_TOKEN_FOR_TEST", "tok-123")
    frame = read(spec)
    assert http_server.hits("/secure")[-1].headers["authorization"] == "Bearer tok-123"
    assert "tok-123" not in frame.to_string()
    api_key = http_spec(
        http_server.url("/secure"),
        auth={"token_env": "API_TOKEN_FOR_TEST", "header": "X-Api-Key", "scheme": None},
    )
    read(api_key)
    assert http_server.hits("/secure")[-1].headers["x-api-key"] == "tok-123"


@pytest.fixture
def other_origin() -> Iterator[FaultServer]:
    """A second server: same host, another port, so another origin (a third party)."""
    server = FaultServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


API_KEY = {"token_env": "API_TOKEN_FOR_TEST", "header": "X-Api-Key", "scheme": None}


@pytest.mark.parametrize("auth", [API_KEY, {"token_env": "API_TOKEN_FOR_TEST"}])
def test_token_not_sent_to_a_next_link_on_another_origin(
    http_server: FaultServer,
    other_origin: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    auth: dict,
) -> None:
    monkeypatch.setenv("API_TOKEN_FOR_TEST", "tok-123")
    # page 1 on the API, page 2 on another origin, page 3 back on the API
    to_other = {"Link": f'<{other_origin.url("/cdn?p=2")}>; rel="next"'}
    back = {"Link": f'<{http_server.url("/api?p=3")}>; rel="next"'}
    http_server.route(
        "GET",
        "/api",
        lambda r: Reply(200, ITEMS[4:]) if r.query else Reply(200, ITEMS[:2], to_other),
    )
    other_origin.script("GET", "/cdn", Reply(200, ITEMS[2:4], back))
    frame = read(http_spec(http_server.url("/api"), pagination={"type": "link"}, auth=auth))
    assert frame["id"].tolist() == [1, 2, 3, 4, 5]  # every page read
    header = auth.get("header", "Authorization").lower()
    own = http_server.hits("/api")
    assert len(own) == 2 and all(header in r.headers for r in own)  # back on its origin: sent
    assert [header in r.headers for r in other_origin.hits("/cdn")] == [False]


@pytest.mark.parametrize("auth", [API_KEY, {"token_env": "API_TOKEN_FOR_TEST"}])
def test_token_stripped_from_a_redirect_to_another_origin(
    http_server: FaultServer,
    other_origin: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    auth: dict,
) -> None:
    monkeypatch.setenv("API_TOKEN_FOR_TEST", "tok-123")
    http_server.script("GET", "/moved", Reply(302, None, {"Location": other_origin.url("/new")}))
    http_server.script("GET", "/here", Reply(302, None, {"Location": "/there"}))
    http_server.script("GET", "/there", Reply(200, ITEMS[:1]))
    other_origin.script("GET", "/new", Reply(200, ITEMS))
    header = auth.get("header", "Authorization").lower()
    assert len(read(http_spec(http_server.url("/moved"), auth=auth))) == 5
    assert header in http_server.hits("/moved")[0].headers
    assert header not in other_origin.hits("/new")[0].headers
    read(http_spec(http_server.url("/here"), auth=auth))  # a redirect within the origin keeps it
    assert http_server.hits("/there")[0].headers[header].endswith("tok-123")


def test_partitioned_source_substitutes_the_key(http_server: FaultServer) -> None:
    http_server.route("GET", "/day", lambda r: Reply(200, [{"day": r.query["date"], "n": 1}]))
    spec = http_spec(http_server.url("/day"), params={"date": "{partition}"}, partitioned=True)
    frame = read(spec, partition_keys=["2024-01-01", "2024-01-02"])
    assert frame["day"].tolist() == ["2024-01-01", "2024-01-02"]
    assert frame["_partition"].tolist() == ["2024-01-01", "2024-01-02"]
    assert list(frame.columns)[-3:] == ["_source_file", "_source_row", "_partition"]


def test_nested_records_flatten_to_storable_columns() -> None:
    frame = records_to_table(
        [
            {
                "id": 1,
                "user": {"name": "a", "geo": {"lat": 1.5}},
                "tags": ["x"],
                "v": 1,
                "ok": True,
            },
            {"id": 2, "user": {"name": "b"}, "tags": [], "v": "2", "ok": None, "extra": 3.5},
        ]
    )
    assert list(frame.columns) == ["id", "user.name", "user.geo.lat", "tags", "v", "ok", "extra"]
    assert str(frame["id"].dtype) == "Int64" and str(frame["user.geo.lat"].dtype) == "Float64"
    assert frame["tags"].tolist() == ['["x"]', "[]"]
    assert frame["v"].tolist() == ["1", "2"]  # mixed JSON types: text, typed by the clean layer
    assert str(frame["ok"].dtype) == "boolean" and frame["extra"].isna().tolist() == [True, False]


def test_records_not_where_declared(http_server: FaultServer) -> None:
    http_server.script("GET", "/shape", Reply(200, {"data": {"rows": []}}))
    with pytest.raises(
        TerminalHttpError,
        match=r"no 'items' on the way to record_path 'data.items' \(found \['rows'\]\)",
    ):
        read(http_spec(http_server.url("/shape"), record_path="data.items"))


def test_spec_rules() -> None:
    with pytest.raises(ValidationError, match="a csv source needs 'path'"):
        SourceSpec.model_validate({"format": "csv"})
    with pytest.raises(ValidationError, match="an http source needs 'http' options"):
        SourceSpec.model_validate({"format": "http"})
    with pytest.raises(ValidationError, match="carry secrets"):
        http_spec("http://x/", headers={"Authorization": "Bearer literal"})
    with pytest.raises(ValidationError, match="cursor pagination needs cursor_path"):
        http_spec("http://x/", pagination={"type": "cursor"})
    with pytest.raises(ValidationError, match=r"needs '\{partition\}' in http.url or a param"):
        http_spec("http://x/", partitioned=True)
    with pytest.raises(ValidationError, match="expected an http:// or https:// URL"):
        http_spec("ftp://x/")


def test_partitions_share_one_column_typing(http_server: FaultServer) -> None:
    # day 1 sends numbers, day 2 text for the same field: one flattening, one (text) column
    http_server.route(
        "GET", "/mixed", lambda r: Reply(200, [{"v": 1 if r.query["d"] == "a" else "x"}])
    )
    spec = http_spec(http_server.url("/mixed"), params={"d": "{partition}"}, partitioned=True)
    frame = read(spec, partition_keys=["a", "b"])
    assert frame["v"].tolist() == ["1", "x"] and str(frame["v"].dtype) == "str"
