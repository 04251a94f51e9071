"""Schema inference against the real-data truth set: storage type, semantic type, keys.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/eval_inference.py [--json]

The files are extracted from installed packages by ``benchmarks/realdata/extract.py`` (into a
temporary folder, so the measurement never depends on a stale copy) and each is inferred on its
own, as a user would run ``etl-assets infer file``. The truth per column is
``benchmarks/realdata/truth.csv`` (hand-labelled; conventions in benchmarks/realdata/README.md).

Printed: accuracy per part (tuning files, held-out files: chosen before any tuning), key
precision and recall (a key = ``unique: true`` in the draft), and every miss, by kind.
Semantic types ``date_us`` and ``date_eu`` count as ``date`` (the layout is the format's job).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "realdata"))

from extract import FILES, extract

from etl_assets.lib.quality.inference import infer_files

TRUTH = Path(__file__).resolve().parent / "realdata" / "truth.csv"
PARTS = ("tuning", "held-out")


def _semantic(kind: str | None) -> str:
    return {"date_us": "date", "date_eu": "date"}.get(kind or "", kind or "")


def evaluate(folder: Path) -> dict[str, object]:
    truth = list(csv.DictReader(TRUTH.open(encoding="utf-8")))
    got: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for file in FILES:
        report, _ = infer_files([folder / file.name], folder)
        table = report.tables[0]
        keys = {k[0] for k in table.keys if len(k) == 1}
        for column in table.columns:
            got[(file.name, column.name)] = (
                column.storage_type,
                _semantic(column.semantic),
                column.name in keys,
            )
    results: dict[str, object] = {}
    for part in PARTS:
        rows = [r for r in truth if r["split"] == part]
        misses: dict[str, list[str]] = defaultdict(list)
        right = {"storage": 0, "semantic": 0}
        tp = fp = fn = 0
        for row in rows:
            storage, semantic, key = got[(row["file"], row["column"])]
            where = f"{row['file']}:{row['column']}"
            if storage == row["storage"]:
                right["storage"] += 1
            else:
                misses["storage"].append(f"{where}  truth {row['storage']}, got {storage}")
            if semantic == _semantic(row["semantic"]):
                right["semantic"] += 1
            else:
                misses["semantic"].append(
                    f"{where}  truth {row['semantic'] or 'none'}, got {semantic or 'none'}"
                )
            truth_key = row["key"] == "yes"
            tp += truth_key and key
            fp += key and not truth_key
            fn += truth_key and not key
            if key != truth_key:
                misses["key"].append(
                    f"{where}  truth {'key' if truth_key else 'not a key'}, draft {'unique' if key else 'no unique'}"
                )
        results[part] = {
            "files": len({r["file"] for r in rows}),
            "columns": len(rows),
            "storage_accuracy": round(right["storage"] / len(rows), 4),
            "semantic_accuracy": round(right["semantic"] / len(rows), 4),
            "key_precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "key_recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "misses": dict(misses),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="schema inference on the real-data truth set")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        extract(folder)
        results = evaluate(folder)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'part':9s} {'files':>5s} {'columns':>7s} {'storage':>8s} {'semantic':>8s} {'key P':>6s} {'key R':>6s}"
    )
    for part in PARTS:
        r = results[part]
        assert isinstance(r, dict)
        print(
            f"{part:9s} {r['files']:5d} {r['columns']:7d} {r['storage_accuracy']:8.2%} {r['semantic_accuracy']:8.2%}"
            f" {r['key_precision'] if r['key_precision'] is not None else '-':>6} {r['key_recall'] if r['key_recall'] is not None else '-':>6}"
        )
    for part in PARTS:
        r = results[part]
        assert isinstance(r, dict)
        for kind, lines in r["misses"].items():
            print(f"\n{part} misses, {kind} ({len(lines)}):")
            for line in lines:
                print(f"  {line}")


if __name__ == "__main__":
    main()
