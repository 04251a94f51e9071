"""``etl-assets mapping accept``: record accepted column mappings for a clean table's inputs.

Reads each input source the way the pipeline does, proposes a mapping for every declared
column the source lacks (same proposer as the ``mapping`` check), prints it, and writes the
accepted part into ``mappings/<spec stem>.yaml`` next to the spec, which the loader merges in:
the next run maps those columns without asking again.
"""

from __future__ import annotations

import argparse
import sys

from etl_assets.lib.mapping import expected_columns, map_columns, sidecar_path, write_sidecar
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import SpecError, load_spec


def accept_mapping(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    clean = spec.clean.get(args.table)
    if clean is None or clean.mapping is None:
        print(f"{args.spec}: no clean table {args.table!r} with a 'mapping' block", file=sys.stderr)
        return 1
    overrides: dict[str, str] = {}
    for item in args.set:
        column, _, target = item.partition("=")
        if not target or target not in clean.columns:
            print(f"--set {item!r}: expected SOURCE_COLUMN=TARGET with TARGET one of {', '.join(clean.columns)}", file=sys.stderr)
            return 1
        overrides[column] = target
    files = SourceFiles(root=str(args.data_root))
    previous = None
    sources = args.source or clean.all_sources
    for source in clean.all_sources:
        primary = source == clean.source
        frame = files.read(spec.sources[source], name=source)
        outcome = map_columns(
            frame, clean.columns, expected=expected_columns(clean.columns, primary=primary),
            accepted=clean.mapping.accepted.get(source, {}), threshold=1.01, previous=previous,
        )
        if primary:
            expected = expected_columns(clean.columns, primary=True)
            mapped = frame.rename(columns={s: expected[p.target] for s, p in ((p.source, p) for p in outcome.unresolved) if s})
            previous = mapped.rename(columns={v: k for k, v in expected.items()})
        if source not in sources:
            continue
        chosen: dict[str, str] = {}
        print(f"{args.table} <- {source}:")
        for proposal in outcome.unresolved:
            take = proposal.source is not None and proposal.confidence >= args.min_confidence
            mark = "accept" if take else "skip  "
            print(f"  {mark} {proposal.target:20s} <- {proposal.source!s:24s} confidence {proposal.confidence:.3f}"
                  f" (name {proposal.name_score:.2f}, type {proposal.type_score:.2f}, runner-up {proposal.runner_up})")
            if take and proposal.source is not None:
                chosen[proposal.source] = proposal.target
        chosen = {s: t for s, t in chosen.items() if t not in overrides.values()} | {
            s: t for s, t in overrides.items() if s in frame.columns
        }
        if not outcome.unresolved and not chosen:
            print("  nothing to map: every declared column is present or already accepted")
        if chosen and not args.dry_run:
            write_sidecar(args.spec, args.table, source, chosen)
    if not args.dry_run:
        print(f"written: {sidecar_path(args.spec)}")
    return 0
