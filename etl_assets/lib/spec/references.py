"""Checks that need the whole spec: names that refer to other entries and columns.

Each problem is returned with the field path that holds it, so the loader can point at the
exact YAML line.
"""

from __future__ import annotations

from collections.abc import Iterator

from etl_assets.lib.paths import PathOutsideRootError, check_source_path
from etl_assets.lib.spec.models import PipelineSpec

Loc = tuple[str | int, ...]

NUMERIC_TYPES = {"int", "float", "decimal", "bool"}
TIME_TYPES = {"date", "datetime"}
_GRANULARITY_RANK = {"hour": 0, "hourly": 0, "day": 1, "daily": 1, "week": 2, "weekly": 2, "month": 3, "monthly": 3}


def _known(name: str, choices: list[str] | set[str], what: str) -> str | None:
    if name in choices:
        return None
    listed = ", ".join(sorted(choices)) or "(none)"
    return f"unknown {what} {name!r}; expected one of: {listed}"


def check_references(spec: PipelineSpec) -> Iterator[tuple[Loc, str]]:
    """Yield ``(field path, message)`` for every dangling or inconsistent reference."""
    sources = list(spec.sources)
    for name, source in spec.sources.items():
        if source.path is not None:
            try:
                check_source_path(source.path)
            except PathOutsideRootError as error:
                yield ("sources", name, "path"), f"{error}; a run would refuse it"
        if source.partitioned and spec.partitions is None:
            yield ("sources", name, "partitioned"), "the source is partitioned but the pipeline has no 'partitions' block"

    for name, clean in spec.clean.items():
        if (msg := _known(clean.source, sources, "source")) is not None:
            yield ("clean", name, "from"), msg
        for k, other in enumerate(clean.also_from):
            if (msg := _known(other, sources, "source")) is not None:
                yield ("clean", name, "also_from", k), msg
            elif spec.sources[other].partitioned != spec.sources[clean.source].partitioned if clean.source in spec.sources else False:
                yield ("clean", name, "also_from", k), "also_from sources must be partitioned like the 'from' source"
        if clean.dedup is not None:
            for i, key in enumerate(clean.dedup.keys):
                if (msg := _known(key, set(clean.columns), "column")) is not None:
                    yield ("clean", name, "dedup", "keys", i), msg
            if clean.dedup.fuzzy is not None:
                yield from _check_fuzzy(spec, name)
        if clean.anomalies is not None:
            yield from check_anomaly_references(spec, name)

    for name in spec.aggregates:
        yield from _check_aggregate(spec, name)

    yield from _check_quality(spec)

    for name, export in spec.exports.items():
        tables = list(spec.clean) if export.layer == "clean" else list(spec.aggregates)
        what = "clean table" if export.layer == "clean" else "aggregate"
        if (msg := _known(export.table, tables, what)) is not None:
            yield ("exports", name, "from"), msg


def _check_fuzzy(spec: PipelineSpec, name: str) -> Iterator[tuple[Loc, str]]:
    """Fuzzy dedup fields, blocking terms and neighbourhoods name declared columns (or, for
    blocking and neighbourhoods, a combined fuzzy field)."""
    from etl_assets.lib.dedup.keys import parse_term

    clean = spec.clean[name]
    fuzzy = clean.dedup.fuzzy  # type: ignore[union-attr]
    assert fuzzy is not None
    declared = set(clean.columns)
    base: Loc = ("clean", name, "dedup", "fuzzy")
    for field_name, field_spec in fuzzy.field_specs.items():
        columns = field_spec.columns or [field_name]
        for k, column in enumerate(columns):
            if (msg := _known(column, declared, "column")) is not None:
                where: Loc = (*base, "fields", field_name, "columns", k) if field_spec.columns else (*base, "fields", field_name)
                yield where, msg
    usable = declared | set(fuzzy.fields)
    for r, rule in enumerate(fuzzy.blocking):
        for t, term in enumerate(rule):
            if (msg := _known(parse_term(term)[1], usable, "column or fuzzy field")) is not None:
                yield (*base, "blocking", r, t), msg
    for h, hood in enumerate(fuzzy.neighbourhood):
        for k, column in enumerate(hood.fields):
            if (msg := _known(column, usable, "column or fuzzy field")) is not None:
                yield (*base, "neighbourhood", h, "fields", k), msg
    if fuzzy.id_column is not None and (msg := _known(fuzzy.id_column, declared, "column")) is not None:
        yield (*base, "id_column"), msg


def _check_aggregate(spec: PipelineSpec, name: str) -> Iterator[tuple[Loc, str]]:
    agg = spec.aggregates[name]
    base: Loc = ("aggregates", name)
    if (msg := _known(agg.source, list(spec.clean), "clean table")) is not None:
        yield (*base, "from"), msg
        return
    clean = spec.clean[agg.source]
    types = {col: c.type for col, c in clean.columns.items()}
    open_columns = clean.keep_undeclared  # undeclared columns may exist; don't insist

    for j, join in enumerate(agg.join):
        if (msg := _known(join.table, list(spec.clean), "clean table")) is not None:
            yield (*base, "join", j, "table"), msg
            continue
        other = spec.clean[join.table]
        for k, key in enumerate(join.on):
            if key not in types:
                yield (*base, "join", j, "on", k), f"join key {key!r} is not a column of {agg.source!r}"
            if key not in other.columns:
                yield (*base, "join", j, "on", k), f"join key {key!r} is not a column of {join.table!r}"
        brought = join.columns if join.columns is not None else [c for c in other.columns if c not in join.on]
        for k, col in enumerate(brought):
            if col not in other.columns:
                yield (*base, "join", j, "columns", k), f"{col!r} is not a column of {join.table!r}"
            elif col in types:
                yield (*base, "join", j, "columns", k), f"{col!r} exists in both {agg.source!r} and {join.table!r}; list the columns to bring in"
            else:
                types[col] = other.columns[col].type
        if join.how == "left" and spec.is_clean_partitioned(join.table) and not spec.is_clean_partitioned(agg.source):
            yield (*base, "join", j, "table"), "an unpartitioned table cannot join a partitioned one"

    def column_issue(col: str) -> str | None:
        if col in types or open_columns:
            return None
        return _known(col, set(types), "column")

    for i, col in enumerate(agg.group_by):
        if (msg := column_issue(col)) is not None:
            yield (*base, "group_by", i), msg

    if agg.window is not None:
        if (msg := column_issue(agg.window.column)) is not None:
            yield (*base, "window", "column"), msg
        elif agg.window.column in types and types[agg.window.column] not in TIME_TYPES:
            yield (*base, "window", "column"), f"window column {agg.window.column!r} is {types[agg.window.column]}; expected date or datetime"

    for metric_name, metric in agg.parsed_metrics.items():
        if metric.column is None:
            continue
        if (msg := column_issue(metric.column)) is not None:
            yield (*base, "metrics", metric_name), msg
        elif metric.function in {"sum", "mean", "median", "std"} and metric.column in types and types[metric.column] not in NUMERIC_TYPES:
            yield (*base, "metrics", metric_name), f"{metric.function} needs a numeric column; {metric.column!r} is {types[metric.column]}"
        if metric_name in agg.group_by:
            yield (*base, "metrics", metric_name), f"metric name {metric_name!r} collides with a group_by column"

    known_names = set(agg.metrics) | set(agg.group_by)
    for i, cond in enumerate(agg.parsed_having):
        if cond.name not in known_names:
            yield (*base, "having", i), _known(cond.name, known_names, "metric or group_by column") or ""

    if agg.partitioned:
        if not spec.is_clean_partitioned(agg.source):
            yield (*base, "partitioned"), f"{agg.source!r} is not partitioned, so the aggregate cannot keep its partitions"
        elif spec.partitions is not None and agg.window is not None:
            if agg.window.rolling is not None:
                yield (*base, "window", "rolling"), "rolling windows need earlier partitions; use them on an unpartitioned aggregate"
            if _GRANULARITY_RANK[agg.window.every] > _GRANULARITY_RANK[spec.partitions.type]:
                yield (*base, "window", "every"), (
                    f"a {agg.window.every} window is wider than the {spec.partitions.type} partitions; "
                    "make the aggregate unpartitioned or the window narrower"
                )


def _check_quality(spec: PipelineSpec) -> Iterator[tuple[Loc, str]]:
    """Column ``references``, cross-field ``rules`` and ``quality`` blocks of clean tables."""
    edges: dict[str, set[str]] = {name: set() for name in spec.clean}
    for name, clean in spec.clean.items():
        base: Loc = ("clean", name)
        types = {col: c.type for col, c in clean.columns.items()}
        for column, declared in clean.columns.items():
            target = declared.reference
            if target is None:
                continue
            loc = (*base, "columns", column, "references")
            table, ref_column = target
            if (msg := _known(table, list(spec.clean), "clean table")) is not None:
                yield loc, msg
                continue
            other = spec.clean[table]
            if (msg := _known(ref_column, set(other.columns), f"column of {table!r}")) is not None:
                yield loc, msg
                continue
            mine, theirs = declared.type, other.columns[ref_column].type
            if _comparable_kind(mine) != _comparable_kind(theirs):
                yield loc, f"{column!r} is {mine} but {table}.{ref_column} is {theirs}; a reference needs comparable types"
            if table != name:
                if spec.is_clean_partitioned(table):
                    yield loc, f"{table!r} is partitioned; references must point at an unpartitioned (dimension) table"
                edges[name].add(table)

        for i, rule in enumerate(clean.parsed_rules):
            loc = (*base, "rules", i)
            for col in rule.columns:
                if (msg := _known(col, set(types), "column")) is not None:
                    yield loc, msg
                    break
            else:
                left = _comparable_kind(types[rule.left])
                right = _comparable_kind(types[str(rule.right)]) if rule.right_is_column else "number"
                if left == "text" and rule.op not in ("==", "!="):
                    yield loc, f"{rule.left!r} is {types[rule.left]}; only == and != compare text columns"
                elif left != right and not (left == "number" and right == "number"):
                    yield loc, f"cannot compare {rule.left!r} ({types[rule.left]}) with {rule.right!r}"

        if clean.quality is not None and clean.quality.freshness_column is not None:
            col = clean.quality.freshness_column
            loc = (*base, "quality", "freshness_column")
            if (msg := _known(col, set(types), "column")) is not None:
                yield loc, msg
            elif types[col] not in TIME_TYPES:
                yield loc, f"freshness column {col!r} is {types[col]}; expected date or datetime"

    for name, agg in spec.aggregates.items():
        if agg.quality is not None and agg.quality.freshness_column is not None:
            col = agg.quality.freshness_column
            known = set(agg.group_by) | set(agg.metrics) | ({"window_start"} if agg.window is not None else set())
            if (msg := _known(col, known, "output column")) is not None:
                yield ("aggregates", name, "quality", "freshness_column"), msg

    cycle = _find_cycle(edges)
    if cycle:
        first = cycle[0]
        yield ("clean", first), f"references form a cycle: {' -> '.join(cycle)}"


def _comparable_kind(column_type: str) -> str:
    if column_type in ("int", "float", "decimal", "bool"):
        return "number"
    if column_type in TIME_TYPES:
        return column_type
    return "text"


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of table references, as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state.get(nxt) is None and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if state.get(node) is None and (found := visit(node)) is not None:
            return found
    return None
ANOMALY_NUMERIC_TYPES = {"int", "float", "decimal"}


def check_anomaly_references(spec: PipelineSpec, name: str) -> Iterator[tuple[Loc, str]]:
    """Anomaly columns exist; z-score and forest columns are numeric; pattern kinds are known."""
    clean = spec.clean[name]
    anomalies = clean.anomalies
    if anomalies is None:
        return
    base: Loc = ("clean", name, "anomalies")
    types = {col: c.type for col, c in clean.columns.items()}
    if not isinstance(anomalies.reference, str):
        window = anomalies.reference.window
        if not spec.is_clean_partitioned(name):
            yield (*base, "reference", "window"), "a reference window needs a partitioned table (its source is not partitioned); leave reference out"
        elif window.start > window.end:
            yield (*base, "reference", "window"), f"start {window.start!r} is after end {window.end!r}"

    def numeric(col: str) -> str | None:
        if col not in types:
            return None if clean.keep_undeclared else _known(col, set(types), "column")
        if types[col] not in ANOMALY_NUMERIC_TYPES:
            return f"{col!r} is {types[col]}; anomaly scores need a numeric column (int, float or decimal)"
        return None

    for b, block in enumerate(anomalies.zscore_blocks):
        at: Loc = (*base, "zscore", b)
        for i, col in enumerate(block.columns):
            if (msg := numeric(col)) is not None:
                yield (*at, "columns", i), msg
        for i, col in enumerate(block.group_by):
            if col not in types and not clean.keep_undeclared:
                yield (*at, "group_by", i), _known(col, set(types), "column") or ""
    if anomalies.isolation_forest is not None:
        for i, col in enumerate(anomalies.isolation_forest.columns):
            if (msg := numeric(col)) is not None:
                yield (*base, "isolation_forest", "columns", i), msg
    if anomalies.pattern_columns:
        from etl_assets.lib.quality.patterns import known_semantic_kinds

        kinds = known_semantic_kinds()
        for col, kind in anomalies.pattern_columns.items():
            if col not in types and not clean.keep_undeclared:
                yield (*base, "pattern_columns", col), _known(col, set(types), "column") or ""
            elif kinds is None:
                yield (*base, "pattern_columns", col), (
                    "pattern anomalies need the semantic-type catalogue (etl_assets.lib.quality.semantic), "
                    "which this installation does not have"
                )
            elif kind not in kinds:
                yield (*base, "pattern_columns", col), _known(kind, set(kinds), "semantic type") or ""
