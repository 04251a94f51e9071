"""The customers demo's vocabularies are package data, and the generated records stay the same.

The digests below were computed with the generator as it was when the vocabularies were Python
literals in ``etl_assets/demo/customers.py``; moving them to ``data/customers_vocabulary.json``
must not change a byte of what any seed generates (the dedup tests' measured precision and
recall, and the demo's landing files, are tied to these records).
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from etl_assets.demo import customers
from etl_assets.demo.customers import exact_variants, generate_customers, land_customers
from etl_assets_tests.conftest import PROJECT_ROOT

GENERATED = {
    ("a", 7): "ea838638f7121c9a7dae1e135a8b653f6a7525929771f6896d2f4cb5228d7650",
    ("a", 11): "d91bb5cc1bf33649e53a962cf944ee719aabba7c6b9826d461600abf2b4f7cbf",
    ("b", 7): "6ac370da9bdceaa608e88510ca6c6e4afa26a492d04f650c98cf78cbf036bdf5",
    ("b", 11): "9844f2a9c1dfc4f9e5e30cd0a2c85ea81e72a53f0db9cfdd9543a3dd6b0e19f1",
}
EXACT_VARIANTS = "3baa3079c6df73a74815445c2ba39091d30c789d93c3ebd67e3c487dfbb500c4"
LANDED = "aff9e5862c6ed20aa28ce6121ffcad98a5e06a1b6bcd684a385125fd4414e8a9"


@pytest.mark.parametrize(("profile", "seed"), sorted(GENERATED))
def test_generated_customers_are_byte_identical_for_a_seed(profile: str, seed: int) -> None:
    frame, truth = generate_customers(2000, seed=seed, profile=profile)
    digest = hashlib.sha256(frame.to_csv(index=False).encode() + truth.tobytes()).hexdigest()
    assert digest == GENERATED[(profile, seed)]


def test_exact_variants_and_landing_files_are_unchanged(tmp_path: Path) -> None:
    frame, truth = exact_variants(500)
    assert (
        hashlib.sha256(frame.to_csv(index=False).encode() + truth.tobytes()).hexdigest()
        == EXACT_VARIANTS
    )
    folder = land_customers(tmp_path)
    landed = b"".join((folder / name).read_bytes() for name in ("crm.csv", "shop.csv", "truth.csv"))
    assert hashlib.sha256(landed).hexdigest() == LANDED


def test_vocabularies_come_from_package_data_shipped_in_the_wheel() -> None:
    data_dir = resources.files("etl_assets.demo").joinpath("data")
    files = sorted(
        f"data/{entry.name}" for entry in data_dir.iterdir() if entry.name.endswith(".json")
    )
    assert f"data/{customers.VOCABULARY_FILE}" in files
    # every data file is matched by the [tool.setuptools.package-data] patterns, so a wheel has it
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["etl_assets.demo"]
    assert all(any(fnmatch.fnmatch(name, pattern) for pattern in patterns) for name in files), (
        files,
        patterns,
    )
    # nothing of the vocabulary is left as a literal in the module
    source = Path(customers.__file__).read_text(encoding="utf-8")
    assert "Springfield" not in source and "Nguyen" not in source and "Tyrell" not in source
    assert (
        "Springfield" in customers.CITIES
        and ("Tyrell Corporation", ["Tyrell Corp", "Tyrell", "The Tyrell Corporation"])
        in customers.COMPANIES
    )
