"""scikit-learn's IsolationForest with the per-tree Python overhead of its fit cut, same trees.

Per-day partitions are small (a flights day: ~900 rows), so a 100-tree fit is mostly Python
overhead, not tree building: for each tree scikit-learn clones a template estimator and sets its
seed, and both go through ``get_params``, which re-reads the constructor's signature with
``inspect.signature`` every time (a fifth of a day's fit in a profile of the flights demo).

The trees here are :class:`ExtraTreeRegressor` subclasses whose parameter names are read once
per class; nothing else changes (same estimator settings, same seeds drawn in the same order,
same tree code), so the fitted trees and every score are scikit-learn's bit for bit
(etl_assets_tests/lib/quality/test_anomaly_default_threshold.py compares them with a plain
``IsolationForest``).
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def isolation_forest_class() -> type[Any]:
    """The IsolationForest subclass (built on first use: scikit-learn takes a second to import)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.tree import ExtraTreeRegressor

    class _Tree(ExtraTreeRegressor):  # type: ignore[misc]
        @classmethod
        def _get_param_names(cls) -> list[str]:
            return _tree_param_names()

    @cache
    def _tree_param_names() -> list[str]:
        return list(ExtraTreeRegressor._get_param_names())

    class _Forest(IsolationForest):  # type: ignore[misc]
        def _get_estimator(self) -> Any:
            # as IsolationForest._get_estimator, with the cached-parameter tree class
            return _Tree(max_features=1, splitter="random", random_state=self.random_state)

    return _Forest
