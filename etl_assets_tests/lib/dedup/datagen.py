"""Customer data sets with a chosen duplicate rate, from the project's generator (fixed seeds,
ground truth): for checking that the default threshold holds on mostly clean tables too."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl_assets.demo.customers import generate_customers


def with_duplicate_rate(
    n_people: int, duplicate_rows: int, *, seed: int, profile: str = "a"
) -> tuple[pd.DataFrame, np.ndarray]:
    """One record for each of ``n_people`` people plus ``duplicate_rows`` extra (noisy) records
    of some of them; the duplicate rate is ``duplicate_rows / (n_people + duplicate_rows)``.

    Records come from :func:`generate_customers` (first record of a person = the clean one, the
    others its noisy duplicates); the sample is shuffled and ``record_id`` stays unique.
    """
    size = n_people * 3
    while True:
        frame, entity = generate_customers(size, seed=seed, profile=profile)
        first = ~pd.Series(entity).duplicated().to_numpy()
        people = np.unique(entity)
        extra = np.flatnonzero(~first)
        if len(people) >= n_people and len(extra) >= duplicate_rows:
            break
        size *= 2
    rng = np.random.default_rng(seed)
    chosen_extra = rng.choice(extra, size=duplicate_rows, replace=False) if duplicate_rows else np.zeros(0, dtype=np.int64)
    needed = np.unique(entity[chosen_extra])
    others = np.setdiff1d(people, needed)
    if len(needed) > n_people:
        raise ValueError(f"{duplicate_rows} duplicate rows need {len(needed)} people, more than {n_people}")
    kept_people = np.concatenate([needed, rng.choice(others, size=n_people - len(needed), replace=False)])
    firsts = np.flatnonzero(first & np.isin(entity, kept_people))
    rows = rng.permutation(np.concatenate([firsts, chosen_extra]))
    return frame.iloc[rows].reset_index(drop=True), entity[rows]
