"""Load pipeline specs from YAML with errors that name file, line and field.

YAML is composed into nodes first so that every mapping key and sequence item keeps its line;
pydantic's error locations are then mapped back to those lines.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from etl_assets.lib.spec.errors import SpecError, SpecIssue
from etl_assets.lib.spec.models import PipelineSpec
from etl_assets.lib.spec.references import check_references

Loc = tuple[str | int, ...]


class SpecYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so ``on:`` (a join key) stays a string."""


SpecYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _LineMap:
    """Line (1-based) of every key path seen in a YAML document."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}

    def line_for(self, loc: Loc) -> int | None:
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)


def _construct(node: yaml.Node, loc: Loc, lines: _LineMap, constructor: yaml.SafeLoader, issues: list[tuple[Loc, str]]) -> Any:
    lines.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                issues.append((loc, f"keys must be strings, got {key!r}"))
                continue
            key = str(key)
            child = (*loc, key)
            if key in result:
                lines.lines[child] = key_node.start_mark.line + 1
                issues.append((child, "duplicate key (YAML would silently keep only the last one)"))
                continue
            lines.lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, child, lines, constructor, issues)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), lines, constructor, issues) for i, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes a field annotation may hold (through Optional, list, dict)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """Walk ``loc`` through the spec models to find the model that owns the last key."""
    current: Any = PipelineSpec
    i = 0
    while i < len(loc):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        part = loc[i]
        field = next(
            (f for n, f in current.model_fields.items() if part in (n, f.alias)), None
        )
        if field is None:
            return None
        annotation = field.annotation
        origin = typing.get_origin(annotation)
        # dict[str, Model] and list[Model] consume one more loc element (the key or index)
        inner = annotation
        if origin in (typing.Union, types.UnionType):
            inner = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
            origin = typing.get_origin(inner)
        if origin in (dict, list):
            i += 1
            inner = typing.get_args(inner)[-1]
        models = _unwrap(inner)
        current = models[0] if models else None
        i += 1
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _describe(error: dict[str, Any]) -> tuple[Loc, str]:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        key = str(loc[-1])
        if owner is not None:
            allowed = _allowed_keys(owner)
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            return loc, f"unknown key {key!r}{suggestion}; expected one of: {', '.join(allowed)}"
        return loc, f"unknown key {key!r}"
    if kind == "missing":
        return loc, "required field is missing"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"expected one of {expected}; got {given!r}"
    elif kind not in ("value_error", "assertion_error") and given is not None and not isinstance(given, dict | list):
        message = f"{message}; got {given!r}"
    return loc, message


#: pydantic error kinds raised by validators, which may be about one key of a whole mapping.
_MODEL_LEVEL = frozenset({"value_error", "assertion_error"})
_QUOTED = re.compile(r"""['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _offending_key(loc: Loc, message: str, lines: _LineMap) -> Loc:
    """The key a model-level error is about, when its message names one of the mapping's keys.

    A model validator (``a partitioned source needs ...``, ``min of an int column ...``) gets
    the mapping's own location from pydantic, whose line is the parent key's: one line above
    the key the user must change. The first key of that mapping the message names (quoted
    names first, then plain words) is taken instead; otherwise ``loc`` stays as it is.
    """
    if loc not in lines.lines:
        return loc
    children = {
        other[-1] for other in lines.lines if len(other) == len(loc) + 1 and other[:-1] == loc
    }
    named = [m[1] for m in _QUOTED.finditer(message)] + _WORD.findall(message)
    key = next((name for name in named if name in children), None)
    return loc if key is None else (*loc, key)


def _to_issues(file: Path | None, lines: _LineMap, problems: Iterable[tuple[Loc, str]]) -> list[SpecIssue]:
    return [
        SpecIssue(file=file, line=lines.line_for(loc), field=".".join(str(p) for p in loc), message=msg)
        for loc, msg in problems
    ]


def parse_spec(text: str, file: Path | None = None) -> PipelineSpec:
    """Parse one spec document; raise :class:`SpecError` listing every problem found."""
    lines = _LineMap()
    try:
        node = yaml.compose(text, Loader=SpecYamlLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue(file, line, "", f"not valid YAML: {problem}")]) from None
    if node is None:
        raise SpecError([SpecIssue(file, 1, "", "the file is empty; expected a mapping with 'pipeline' and 'sources'")])
    structural: list[tuple[Loc, str]] = []
    data = _construct(node, (), lines, SpecYamlLoader(""), structural)
    if structural:
        raise SpecError(_to_issues(file, lines, structural))
    if not isinstance(data, dict):
        raise SpecError([SpecIssue(file, 1, "", f"expected a mapping at the top level, got {type(data).__name__}")])
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        described = (_describe(e) for e in exc.errors())
        pointed = [
            (_offending_key(loc, msg, lines) if kind in _MODEL_LEVEL else loc, msg)
            for kind, (loc, msg) in zip((e["type"] for e in exc.errors()), described, strict=True)
        ]
        raise SpecError(_to_issues(file, lines, pointed)) from None
    problems = list(check_references(spec))
    if problems:
        raise SpecError(_to_issues(file, lines, problems))
    return spec


def load_spec(path: str | Path) -> PipelineSpec:
    """Load and validate one pipeline spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue(path, None, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(path, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    return with_accepted_mappings(parse_spec(text, file=path), path)


def with_accepted_mappings(spec: PipelineSpec, path: Path) -> PipelineSpec:
    """Merge the accepted mappings of the sidecar ``mappings/<stem>.yaml`` into the clean tables."""
    from etl_assets.lib.mapping.sidecar import read_sidecar, sidecar_path

    try:
        accepted = read_sidecar(path)
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecError([SpecIssue(sidecar_path(path), None, "", str(exc))]) from None
    if not accepted:
        return spec
    clean = dict(spec.clean)
    for table, sources in accepted.items():
        entry = clean.get(table)
        if entry is None or entry.mapping is None:
            raise SpecError([SpecIssue(sidecar_path(path), None, table, f"no clean table {table!r} with a 'mapping' block in {path}")])
        merged = {src: {**entry.mapping.accepted.get(src, {}), **cols} for src, cols in sources.items()}
        mapping = entry.mapping.model_copy(update={"accepted": {**entry.mapping.accepted, **merged}})
        clean[table] = entry.model_copy(update={"mapping": mapping})
    return spec.model_copy(update={"clean": clean})


def spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into their ``*.yaml`` / ``*.yml`` files, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            found.append(path)
    return found


def load_specs(paths: Iterable[str | Path]) -> list[PipelineSpec]:
    """Load every spec under ``paths``; collect problems from all files into one error.

    Two files declaring the same pipeline name is an error too (asset keys would collide).
    """
    specs: list[PipelineSpec] = []
    issues: list[SpecIssue] = []
    seen: dict[str, Path] = {}
    for file in spec_files(paths):
        try:
            spec = load_spec(file)
        except SpecError as exc:
            issues.extend(exc.issues)
            continue
        if spec.pipeline in seen:
            issues.append(SpecIssue(file, 1, "pipeline", f"pipeline {spec.pipeline!r} is already defined in {seen[spec.pipeline]}"))
            continue
        seen[spec.pipeline] = file
        specs.append(spec)
    if issues:
        raise SpecError(issues)
    return specs
