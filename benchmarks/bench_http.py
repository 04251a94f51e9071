"""What the HTTP machinery costs: our client and loader against plain ``requests`` loops.

Run on demand: ``.venv/bin/python benchmarks/bench_http.py [--requests N] [--rows N]``.

Both sides talk to the same local server (the tests' ``ThreadingHTTPServer`` on 127.0.0.1) in
the same run, so the ratio (baseline seconds / our seconds) shows the overhead of the token
bucket (no limit set), the circuit breaker, retry bookkeeping, idempotency keys and JSON
serialization, not the network. A ratio near 1.0x means the machinery is free next to a request.

- ``get``: N GETs of a 50-record JSON page: ``HttpClient.get_json`` vs ``session.get().json()``;
- ``paginate``: the same records as a paginated ``format: http`` source (``read_http_source``:
  pages + flattening to a DataFrame) vs a plain loop + ``pd.DataFrame(records)``;
- ``load``: N rows POSTed in batches of 1000: ``post_rows`` vs a loop of
  ``frame.iloc[...].to_json`` + ``session.post``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from etl_assets.lib.exports import post_rows
from etl_assets.lib.sources.http import ClientSettings, HttpClient, read_http_source
from etl_assets.lib.spec import SourceSpec
from etl_assets_tests.servers.http import FaultServer, Recorded, Reply

PAGE = [
    {"id": i, "name": f"n{i}", "geo": {"lat": 1.5, "lon": 2.5}, "tags": ["a"]} for i in range(50)
]


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    server = FaultServer()
    server.start()
    pages = args.requests

    def paged(request: Recorded) -> Reply:
        return Reply(200, {"items": PAGE if int(request.query["page"]) <= pages else []})

    server.route("GET", "/page", lambda _: Reply(200, PAGE))
    server.route("GET", "/paged", paged)
    server.route("POST", "/import", lambda _: Reply(201, {"ok": True}))
    results: dict[str, dict[str, float]] = {}
    try:
        session = requests.Session()
        client = HttpClient(ClientSettings(timeout_s=10))
        url = server.url("/page")
        base = best(lambda: [session.get(url, timeout=10).json() for _ in range(args.requests)])
        ours = best(lambda: [client.get_json(url) for _ in range(args.requests)])
        results["get"] = {"baseline_s": base, "ours_s": ours}

        def plain_pages() -> pd.DataFrame:
            records = []
            for page in range(1, pages + 2):
                items = session.get(server.url("/paged"), params={"page": page}, timeout=10).json()[
                    "items"
                ]
                if not items:
                    break
                records.extend(items)
            return pd.json_normalize(records)

        spec = SourceSpec.model_validate(
            {
                "format": "http",
                "http": {
                    "url": server.url("/paged"),
                    "record_path": "items",
                    "pagination": {"type": "page"},
                },
            }
        )
        base = best(plain_pages)
        ours = best(lambda: read_http_source(spec, client, name="bench"))
        results["paginate"] = {"baseline_s": base, "ours_s": ours}

        frame = pd.DataFrame(
            {
                "id": np.arange(args.rows),
                "value": np.random.default_rng(0).random(args.rows),
                "name": pd.array([f"row{i}" for i in range(args.rows)], dtype="str"),
                "at": pd.date_range("2024-01-01", periods=args.rows, freq="s", tz="UTC"),
            }
        )

        def plain_load() -> None:
            for start in range(0, len(frame), 1000):
                body = frame.iloc[start : start + 1000].to_json(orient="records", date_format="iso")
                session.post(
                    server.url("/import"),
                    data=body.encode(),
                    headers={"Content-Type": "application/json"},
                    timeout=10,
                ).raise_for_status()

        base = best(plain_load)
        ours = best(
            lambda: post_rows(
                frame, server.url("/import"), client, batch_size=1000
            ).raise_for_failures()
        )
        results["load"] = {"baseline_s": base, "ours_s": ours}
    finally:
        server.stop()
    for name, r in results.items():
        r["ratio"] = r["baseline_s"] / r["ours_s"]
        print(
            f"{name:9s} baseline {r['baseline_s']:.3f}s  ours {r['ours_s']:.3f}s  ratio {r['ratio']:.2f}x"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "http.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
