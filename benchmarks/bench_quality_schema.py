"""Throughput and peak memory of the quality layer: schema validation (+ score) and inference.

    .venv/bin/python benchmarks/bench_quality_schema.py [--rows 100000 1000000]

Each case runs in its own subprocess so its peak RSS (ru_maxrss) is its own; the RSS after the
input is built is reported too, so the cost of the case itself is ``peak - input``.

- ``validate``: ``validate_clean`` (pandera, lazy) + ``score_table`` on the typed clean frame of a
  13-column table with 20 rules (unique, ranges, allowed, pattern, 6 semantic types, a cross-field
  rule) and ~1% invalid values, as the ``schema`` and ``quality_score`` checks run it.
- ``infer``: ``infer_files`` on the same table written as CSV (read as the raw layer reads it,
  storage/semantic types, candidate keys), and ``profile`` = inference without the CSV read.

Results: ``benchmarks/results/quality_schema.json`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

SPEC = """pipeline: bench
sources: {t: {format: csv, path: t.csv}}
clean:
  t:
    from: t
    columns:
      id: {type: int, required: true, unique: true, min: 1}
      email: {type: string, semantic: email}
      phone: {type: string, semantic: phone}
      uuid: {type: string, semantic: uuid, pattern: "[0-9a-f-]{36}"}
      country: {type: string, semantic: country_code}
      card: {type: string, semantic: credit_card}
      lat: {type: float, semantic: latitude, min: -90, max: 90}
      lon: {type: float, min: -180, max: 180}
      amount: {type: float, min: 0, max: 10000}
      status: {type: category, allowed: [new, paid, shipped]}
      placed: {type: date, min: 2000-01-01}
      shipped: {type: date}
      at: {type: datetime, timezone: UTC, semantic: datetime}
    rules: ["shipped >= placed"]
"""


def _luhn_complete(bodies: np.ndarray) -> list[str]:
    digits = bodies.astype("U15").view(np.uint32).reshape(len(bodies), 15).astype(np.int64) - 48
    doubled = digits[:, ::-1][:, 0::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + digits[:, ::-1][:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return [b + str(c) for b, c in zip(bodies.tolist(), check.tolist(), strict=True)]


def raw_table(rows: int, seed: int = 42) -> pd.DataFrame:
    """Text columns as they land, ~1% invalid values in the semantic columns."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    idx = pd.Series(ids).astype(str)
    placed = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, rows), unit="D")
    frame = pd.DataFrame({
        "id": idx,
        "email": "user" + idx + "@mail" + pd.Series(rng.integers(0, 500, rows)).astype(str) + ".example.com",
        "phone": "+1 " + pd.Series(rng.integers(200, 999, rows)).astype(str) + "-555-" + pd.Series(rng.integers(1000, 9999, rows)).astype(str),
        "uuid": [str(uuid.UUID(int=int(a) << 64 | int(b), version=4)) for a, b in zip(rng.integers(0, 2**63, rows), rng.integers(0, 2**63, rows), strict=True)],
        "country": rng.choice(["US", "DE", "FR", "NL", "GB", "JP"], rows),
        "card": _luhn_complete(("4" + pd.Series(rng.integers(10**13, 10**14, rows)).astype(str)).to_numpy(dtype="U15")),
        "lat": pd.Series(rng.uniform(-89, 89, rows).round(5)).astype(str),
        "lon": pd.Series(rng.uniform(-179, 179, rows).round(5)).astype(str),
        "amount": pd.Series(rng.uniform(0, 9999, rows).round(2)).astype(str),
        "status": rng.choice(["new", "paid", "shipped"], rows),
        "placed": pd.Series(placed.strftime("%Y-%m-%d")),
        "shipped": pd.Series((placed + pd.to_timedelta(rng.integers(0, 9, rows), unit="D")).strftime("%Y-%m-%d")),
        "at": pd.Series((placed + pd.to_timedelta(rng.integers(0, 86400, rows), unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ")),
    })
    bad = rng.random(rows) < 0.01
    frame.loc[bad, "email"] = "not-an-email"
    frame.loc[rng.random(rows) < 0.01, "card"] = "4111111111111112"
    return frame.astype("str")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case(name: str, rows: int) -> dict[str, float]:
    from etl_assets.lib.quality.inference import infer_files, profile_column
    from etl_assets.lib.quality.schema import build_schema, pii_columns, validate_frame
    from etl_assets.lib.quality.score import score_table
    from etl_assets.lib.spec import parse_spec
    from etl_assets.lib.transforms import clean_table

    raw = raw_table(rows)
    if name == "validate":
        spec = parse_spec(SPEC).clean["t"]
        frame = clean_table(raw, spec, table="t").clean
        del raw
        input_mb = peak_mb()
        started = time.perf_counter()
        report = validate_frame(frame, build_schema(spec), pii_columns=pii_columns(spec))
        validated = time.perf_counter() - started
        score = score_table(frame, list(spec.columns), report, rules_checked=20)
        seconds = time.perf_counter() - started
        return {"rows": rows, "seconds": seconds, "validate_seconds": validated, "rows_per_s": rows / seconds,
                "failing_rows": int(report.failing_rows().sum()), "score": round(score.overall, 3),
                "input_rss_mb": input_mb, "peak_rss_mb": peak_mb()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        raw.to_csv(path, index=False)
        if name == "profile":
            frame = raw
            input_mb = peak_mb()
            started = time.perf_counter()
            for column in frame.columns:
                profile_column(column, frame[column])
            seconds = time.perf_counter() - started
        else:
            del raw
            input_mb = peak_mb()
            started = time.perf_counter()
            report, _ = infer_files([path])
            seconds = time.perf_counter() - started
            assert report.tables[0].rows == rows
        return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "input_rss_mb": input_mb, "peak_rss_mb": peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cases", nargs="+", default=["validate", "profile", "infer"])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.rows[0])))
        return
    results = []
    for rows in args.rows:
        for name in args.cases:
            out = subprocess.run([sys.executable, __file__, "--case", name, "--rows", str(rows)],
                                 capture_output=True, text=True, check=True)
            result = {"case": name, **json.loads(out.stdout.strip().splitlines()[-1])}
            results.append(result)
            print(f"{name:9s} {rows:>9,d} rows  {result['seconds']:7.2f} s  {result['rows_per_s']:>11,.0f} rows/s"
                  f"  peak RSS {result['peak_rss_mb']:7.0f} MB (input {result['input_rss_mb']:.0f} MB)", flush=True)
    target = ROOT / "benchmarks" / "results"
    target.mkdir(parents=True, exist_ok=True)
    (target / "quality_schema.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
