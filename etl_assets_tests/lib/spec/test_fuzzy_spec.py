"""Spec errors of the dedup/mapping blocks name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_assets.lib.spec import SpecError, parse_spec

HEAD = (
    "pipeline: shop\n"
    "sources:\n"
    "  crm: {format: csv, path: a.csv}\n"
    "  web: {format: csv, path: b.csv}\n"
    "clean:\n"
    "  people:\n"
    "    from: crm\n"
    "    columns:\n"
    "      name: {type: string}\n"
    "      email: {type: string}\n"
)


def issue_of(text: str):
    with pytest.raises(SpecError) as info:
        parse_spec(text, file=Path("pipelines/shop.yaml"))
    assert len(info.value.issues) == 1, str(info.value)
    return info.value.issues[0]


def test_valid_fuzzy_and_mapping_spec() -> None:
    spec = parse_spec(
        HEAD + "    also_from: [web]\n    mapping: {threshold: 0.7}\n"
        "    dedup:\n      fuzzy:\n        fields: {name: name, email: email}\n        blocking: [[soundex(name)], [email]]\n"
    )
    fuzzy = spec.clean["people"].dedup.fuzzy  # type: ignore[union-attr]
    assert fuzzy is not None and fuzzy.threshold == 0.9 and fuzzy.field_specs["name"].compare == "name"
    assert spec.clean["people"].all_sources == ["crm", "web"]


@pytest.mark.parametrize(
    ("tail", "line", "field", "message"),
    [
        ("    dedup:\n      fuzzy:\n        fields: {name: fuzzy}\n", 13, "clean.people.dedup.fuzzy.fields.name.compare", "got 'fuzzy'"),
        ("    dedup:\n      fuzzy:\n        fields: {nam: name}\n", 13, "clean.people.dedup.fuzzy.fields.nam", "unknown column 'nam'"),
        ("    dedup:\n      fuzzy:\n        fields: {name: name}\n        blocking: [[soundex(mail)]]\n", 14,
         "clean.people.dedup.fuzzy.blocking.0.0", "unknown column or fuzzy field 'mail'"),
        ("    dedup:\n      fuzzy:\n        fields: {name: name}\n        blocking: [[sndx(name)]]\n", 14,
         "clean.people.dedup.fuzzy.blocking", "unknown function 'sndx'"),
        ("    dedup:\n      fuzzy:\n        fields: {name: name}\n        threshold: 1.5\n", 14,
         "clean.people.dedup.fuzzy.threshold", "less than 1"),
        ("    dedup: {keep: first}\n", 11, "clean.people.dedup", "needs 'keys'"),
        ("    also_from: [web]\n", 11, "clean.people.also_from", "also_from needs a 'mapping' block"),
        ("    also_from: [shop]\n    mapping: {}\n", 11, "clean.people.also_from.0", "unknown source 'shop'"),
    ],
)
def test_errors_name_file_line_and_field(tail: str, line: int, field: str, message: str) -> None:
    issue = issue_of(HEAD + tail)
    assert str(issue.file) == "pipelines/shop.yaml"
    assert issue.field == field, str(issue)
    assert issue.line == line, str(issue)
    assert message in issue.message, str(issue)
