"""Wiring of normalised/fuzzy dedup into the clean multi_asset (kept out of ``assets.py``).

A clean table whose ``dedup`` records duplicates gets an extra output
``<pipeline>/duplicates/<table>`` (the removed rows with the kept row's id and the pair score),
and its clean output's metadata carries clusters, rows removed, the score histogram and a
sample of borderline pairs. The embedding model resource is required only by tables with an
``embedding`` field; the source-files resource only by tables with labelled pairs.
"""

from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetOut, MetadataValue, Output

from etl_assets.factory.keys import duplicates_key
from etl_assets.lib.io import IO_MANAGER_KEYS
from etl_assets.lib.spec import PipelineSpec
from etl_assets.lib.spec.models import CleanSpec
from etl_assets.lib.transforms.results import CleanResult

DUPLICATES_OUTPUT = "duplicates"
EMBEDDING_RESOURCE = "embedding_model"
SOURCE_FILES_RESOURCE = "source_files"


def records_duplicates(clean: CleanSpec) -> bool:
    return clean.dedup is not None and clean.dedup.records_duplicates


def duplicates_outs(spec: PipelineSpec, name: str) -> dict[str, AssetOut]:
    """The extra ``duplicates`` output of a clean table that records its duplicates."""
    clean = spec.clean[name]
    if not records_duplicates(clean):
        return {}
    storage = spec.storage_for(clean)
    return {
        DUPLICATES_OUTPUT: AssetOut(
            key=duplicates_key(spec.pipeline, name),
            io_manager_key=IO_MANAGER_KEYS[storage],
            description=(
                f"Rows removed as duplicates while building clean {name}: each with _kept_id (the surviving"
                " row), _score (their match probability), _cluster_id and _match_kind (exact or fuzzy)."
            ),
            kinds={"pandas", storage},
        )
    }


def dedup_resource_keys(clean: CleanSpec) -> set[str]:
    if not records_duplicates(clean) or clean.dedup is None or clean.dedup.fuzzy is None:
        return set()
    fuzzy = clean.dedup.fuzzy
    keys = set()
    if any(f.compare == "embedding" for f in fuzzy.field_specs.values()):
        keys.add(EMBEDDING_RESOURCE)
    if fuzzy.labels:
        keys.add(SOURCE_FILES_RESOURCE)
    return keys


def _labels(context: AssetExecutionContext, clean: CleanSpec) -> pd.DataFrame | None:
    fuzzy = clean.dedup.fuzzy if clean.dedup is not None else None
    if fuzzy is None or not fuzzy.labels:
        return None
    path = context.resources.source_files.resolve(fuzzy.labels)
    with path.open("rb") as handle:
        labels = pd.read_csv(handle)
    missing = {"left", "right", "match"} - set(labels.columns)
    if missing:
        raise ValueError(f"labels file {fuzzy.labels}: missing column(s) {', '.join(sorted(missing))} (need left, right, match)")
    return labels


def clean_with_dedup(
    context: AssetExecutionContext,
    raw: pd.DataFrame,
    clean: CleanSpec,
    name: str,
    referenced: dict[str, pd.DataFrame] | None = None,
    threads: int | None = None,
) -> tuple[CleanResult, list[Output], dict[str, Any]]:
    """Clean (and dedup) ``raw``; returns the result, extra outputs to yield, and metadata for
    the clean output. ``referenced``: the clean tables this one references, for the per-row
    quality score a best-row merge uses (see :func:`clean_and_deduplicate`); ``threads``: the
    clean step's column pool (the step's share of the CPUs)."""
    if not records_duplicates(clean):
        from etl_assets.lib.transforms import clean_table

        return clean_table(raw, clean, table=name, threads=threads), [], {}
    # rapidfuzz, jellyfish, ... load at run time, not with the definitions
    from etl_assets.lib.dedup import clean_and_deduplicate

    keys = dedup_resource_keys(clean)
    embedder = context.resources.embedding_model.encode if EMBEDDING_RESOURCE in keys else None
    done = clean_and_deduplicate(raw, clean, table=name, embedder=embedder, labels=_labels(context, clean), referenced=referenced, threads=threads)
    outcome = done.dedup
    assert outcome is not None
    stats = outcome.stats
    metadata: dict[str, Any] = {
        **stats.as_metadata(),
        "dedup_score_histogram": MetadataValue.json(
            {f"{k / 10:.1f}-{(k + 1) / 10:.1f}": n for k, n in enumerate(stats.score_histogram)}
        ),
        "dedup_borderline_pairs": MetadataValue.json(stats.borderline_pairs),
        "dedup_weights_log2": MetadataValue.json(stats.weights),
        "dedup_seconds": MetadataValue.json(stats.seconds),
        # blocks too large to compare all their pairs: how many per rule, their rows, the largest
        "dedup_split_blocks_by_rule": MetadataValue.json({
            rule: {"blocks": len(sizes), "rows": int(sum(sizes)), "largest": sizes[:5]}
            for rule, sizes in stats.split_blocks.items()
        }),
    }
    if stats.match_share is not None:
        metadata["dedup_match_share_of_candidates"] = float(stats.match_share)
    if embedder is not None:
        metadata["embedding_cache"] = MetadataValue.json(context.resources.embedding_model.last_stats)
    duplicates = Output(
        done.duplicates,
        output_name=DUPLICATES_OUTPUT,
        metadata={"rows_deduplicated": len(done.duplicates), "dedup_clusters_with_duplicates": stats.clusters_with_duplicates},
    )
    return done.result, [duplicates], metadata
