"""Scale-free relative skill: paired ratios to the best baseline over evaluation units.

Raw scores averaged over systems (or data sets, or forecast origins) of different
scales are dominated by the largest.  The summaries here compare models *unit by unit*:
every unit (a synthetic system, a rolling origin) is scored by every model, and each
model is judged by

* the **ratio of means** of its (already scale-free) scores to those of the best
  baseline, the baseline with the lowest mean, with a paired bootstrap interval over
  units (the same resampled units for the model and the baseline);
* the **geometric mean of per-unit ratios** to the per-unit best baseline (each unit
  weighs the same, whatever its scale), also with a bootstrap interval;
* the **share of units won** against the per-unit best baseline.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from jointdist.base import check_positive_int, check_random_state

__all__ = ["relative_skill"]


def relative_skill(scores: pd.DataFrame, baselines: Sequence[str], *, n_bootstrap=2000,
                   confidence=0.95, random_state=0) -> pd.DataFrame:
    """Paired, scale-free comparison of models with the best of some baselines.

    Parameters
    ----------
    scores : DataFrame of shape (n_units, n_models)
        One row per evaluation unit (system, origin), one column per model; a loss
        (lower is better).  Rows with a missing score are dropped, so that every model
        is judged on the same units.
    baselines : sequence of str
        Columns that are baselines; at least one must be present.
    n_bootstrap : int, default=2000
        Bootstrap resamples of the units.
    confidence : float, default=0.95
        Level of the percentile intervals.
    random_state : int, Generator or None, default=0
        Seed of the bootstrap.

    Returns
    -------
    DataFrame indexed by model, with columns

    ``mean``
        Mean score over units.
    ``ratio_of_means``, ``ratio_low``, ``ratio_high``
        ``mean(model) / mean(best baseline)``, the best baseline being the one with the
        lowest mean, and its paired bootstrap interval.
    ``geo_mean_ratio``, ``geo_low``, ``geo_high``
        Geometric mean over units of ``score / min(baseline scores of that unit)``,
        with its bootstrap interval.  Scores are floored at ``1e-12`` times the unit's
        best baseline so that a perfect (zero or slightly negative, for unbiased
        estimators) score gives a finite ratio.
    ``share_won``
        Fraction of units where the model's score is below the unit's best baseline.
    ``n_units``
    ``best_baseline``
        Name of the baseline the ratio of means is taken to.

    Raises
    ------
    ValueError
        If no baseline is a column, or no unit has every score.
    """
    if not isinstance(scores, pd.DataFrame):
        raise ValueError("scores must be a DataFrame with one column per model.")
    present = [b for b in baselines if b in scores.columns]
    if not present:
        raise ValueError(f"none of the baselines {list(baselines)} is a column of scores "
                         f"(columns: {list(scores.columns)}).")
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    table = scores.dropna().astype(np.float64)
    if table.empty:
        raise ValueError("no unit has a score for every model.")
    values = table.to_numpy()  # (U, M)
    n_units = values.shape[0]
    base_cols = [table.columns.get_loc(b) for b in present]
    means = values.mean(axis=0)
    best = base_cols[int(np.argmin(means[base_cols]))]
    unit_best = values[:, base_cols].min(axis=1)  # (U,)
    floor = 1e-12 * np.abs(unit_best).clip(min=1e-300)
    log_ratios = (np.log(np.maximum(values, floor[:, None]))
                  - np.log(np.maximum(unit_best, floor))[:, None])  # (U, M)

    rng = check_random_state(random_state)
    idx = rng.integers(0, n_units, size=(n_bootstrap, n_units))  # resampled units
    boot_means = values[idx].mean(axis=1)  # (B, M)
    boot_ratio = boot_means / boot_means[:, [best]]
    boot_geo = np.exp(log_ratios[idx].mean(axis=1))
    alpha = (1 - confidence) / 2
    lo, hi = alpha, 1 - alpha
    return pd.DataFrame({
        "mean": means,
        "ratio_of_means": means / means[best],
        "ratio_low": np.quantile(boot_ratio, lo, axis=0),
        "ratio_high": np.quantile(boot_ratio, hi, axis=0),
        "geo_mean_ratio": np.exp(log_ratios.mean(axis=0)),
        "geo_low": np.quantile(boot_geo, lo, axis=0),
        "geo_high": np.quantile(boot_geo, hi, axis=0),
        "share_won": (values < unit_best[:, None]).mean(axis=0),
        "n_units": n_units,
        "best_baseline": table.columns[best],
    }, index=pd.Index(table.columns, name="model"))
