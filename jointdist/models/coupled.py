"""Copula coupling: one forecaster's marginals with another forecaster's dependence.

The Schaake shuffle (Clark et al. 2004) and ensemble copula coupling (ECC; Schefzik,
Thorarinsdottir & Gneiting 2013) build a multivariate ensemble from two ingredients:
samples whose *marginals* are trusted, and a template ensemble whose *rank structure*
(its empirical copula) is trusted.  At every coordinate the trusted marginal values are
sorted and handed out in the rank order of the template, so that the result has the
marginal samples' values and the template's copula.

:func:`couple_samples` does this on sample arrays; :class:`CopulaCoupledForecaster`
wraps two jointdist forecasters, fits both on the same history and couples their draws.
This module does not import torch; the components import what they need.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from jointdist.base import (
    BaseJointForecaster,
    check_positive_int,
    check_random_state,
)

__all__ = ["COUPLINGS", "CopulaCoupledForecaster", "couple_samples"]

#: The coupling schemes understood by :func:`couple_samples`.
COUPLINGS = ("paths", "targets")


# --------------------------------------------------------------------------------------
# Ranks with random tie-breaking (vectorized over all leading axes).
# --------------------------------------------------------------------------------------
def _argsort_random_ties(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``argsort`` along the last axis with ties put in a uniformly random order.

    One (unstable) argsort; where equal values occur, the entries of each run of equal
    sorted values (a tie group) are then permuted uniformly at random, all groups at
    once, by sorting the tied entries on the integer key ``group << b | U`` with ``U``
    uniform on ``b`` random bits (groups stay in place, each one is shuffled).  Should
    two keys of a group collide (probability about ``size^2 / 2^b``, with ``b >= 30``
    bits), the shuffle is redone exactly with a lexicographic sort.  Only the tied
    entries enter the second sort, so a few ties cost little.
    """
    order = np.ascontiguousarray(np.argsort(x, axis=-1))
    ordered = np.take_along_axis(x, order, axis=-1)
    same_as_left = np.zeros(x.shape, dtype=bool)
    np.equal(ordered[..., 1:], ordered[..., :-1], out=same_as_left[..., 1:])
    if not same_as_left.any():
        return order
    tied = same_as_left.copy()  # members of a tie group: equal to a neighbour
    tied[..., :-1] |= same_as_left[..., 1:]
    positions = np.flatnonzero(tied)  # in sorted order, so groups are contiguous
    group = np.cumsum(~same_as_left.reshape(-1))[positions]  # every row starts a group
    random_bits = 62 - int(group[-1]).bit_length()
    if random_bits >= 30:
        key = (group << random_bits) | rng.integers(0, 1 << random_bits, size=group.size)
        shuffle = np.argsort(key)
        sorted_key = key[shuffle]
        if (sorted_key[1:] == sorted_key[:-1]).any():
            shuffle = None
    else:  # more than 2^32 groups
        shuffle = None
    if shuffle is None:
        shuffle = np.lexsort((rng.random(positions.size), group))
    flat_order = order.reshape(-1)  # a view of `order`
    flat_order[positions] = flat_order[positions[shuffle]]
    return order


def _ranks_from_order(order: np.ndarray) -> np.ndarray:
    """Inverse permutations along the last axis: ``ranks[..., order[..., k]] = k``."""
    ranks = np.empty_like(order)
    k = np.broadcast_to(np.arange(order.shape[-1]), order.shape)
    np.put_along_axis(ranks, order, k, axis=-1)
    return ranks


def _stratified_indices(n_source: int, n_target: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n_target`` draws from ``n_source`` samples, each used ``floor`` or
    ``ceil(n_target / n_source)`` times (every sample ``n_target // n_source`` times, and
    a random subset without replacement for the remainder), in random order."""
    repeats, remainder = divmod(n_target, n_source)
    idx = np.concatenate([np.tile(np.arange(n_source), repeats),
                          rng.choice(n_source, size=remainder, replace=False)])
    return rng.permutation(idx)


def _check_sample_array(samples, name: str) -> np.ndarray:
    values = np.asarray(samples, dtype=np.float64)
    if values.ndim != 3 or 0 in values.shape:
        raise ValueError(f"{name} must have shape (n_samples, horizon, n_targets) with no "
                         f"empty axis; got shape {values.shape}.")
    if np.isnan(values).any():
        raise ValueError(f"{name} contain {int(np.isnan(values).sum())} NaN value(s); "
                         "their ranks are undefined.")
    return values


# --------------------------------------------------------------------------------------
# Coupling of sample arrays.
# --------------------------------------------------------------------------------------
def couple_samples(marginal_samples, dependence_samples, *, coupling="paths",
                   random_state=None) -> np.ndarray:
    """Reorder ``marginal_samples`` in the rank structure of ``dependence_samples``.

    Parameters
    ----------
    marginal_samples : array-like of shape (n_samples, horizon, n_targets)
        Samples whose values at every (horizon, target) are kept.
    dependence_samples : array-like of shape (n_dependence, horizon, n_targets)
        The template whose ranks are imposed.  When ``n_dependence != n_samples`` it is
        first resampled to ``n_samples`` draws, every template sample being used
        ``floor`` or ``ceil(n_samples / n_dependence)`` times (a random subset of
        ``n_samples`` of them when there are more); the copies of one sample then tie
        and are ordered at random at each (horizon, target) separately, which amounts to
        drawing from the template's empirical *checkerboard* copula (the empirical
        copula with its mass spread uniformly and independently within each rank cell).
    coupling : {"paths", "targets"}, default="paths"
        ``"paths"``: ECC / Schaake shuffle over targets and horizons jointly.  Output
        path ``i`` takes, at every (h, n), the marginal value whose rank equals the rank
        of template path ``i`` at (h, n): the output's ranks are the template's, at all
        horizons and targets at once, so its whole copula over targets *and* horizons
        (cross-sectional, serial and lagged cross dependence) is the template's.

        ``"targets"``: the template's copula across targets at each horizon, the serial
        structure of the marginal samples.  At each horizon separately, the template's
        rank vectors (one per template path, over targets) are handed to the output
        paths in the order of their mean rank over targets, matched to the order of the
        mean rank of the *marginal* paths at that horizon.  The output's cross-target
        rank structure at each horizon is then the template's exactly (the same set of
        rank vectors), while which output path is high or low overall at each horizon,
        and so how paths move from one step to the next, follows the marginal samples'
        paths (with one target the output is the marginal samples themselves, up to the
        order of tied values).  Use it when the template's serial dependence is poor
        (e.g. a one-step model iterated) but its cross-sectional dependence is good.
    random_state : int, numpy.random.Generator or None, default=None
        Randomness of the tie-breaking and of the template resampling.

    Returns
    -------
    ndarray of shape (n_samples, horizon, n_targets)
        A new array.  At every (h, n), ``np.sort(out[:, h, n])`` equals
        ``np.sort(marginal_samples[:, h, n])`` exactly.

    Raises
    ------
    ValueError
        If the arrays are not 3-D, differ in horizon or number of targets, contain NaN,
        or ``coupling`` is unknown.

    Notes
    -----
    Ties (equal values, e.g. from a bootstrap drawing the same history row twice, or
    the copies made by the resampling) are broken uniformly at random, independently at
    each (horizon, target): where the template does not order two samples, no order is
    imposed.  The cost is one sort of the marginals and one argsort of the template
    along the sample axis, vectorized over horizons and targets, plus a sort of the
    tied entries alone where ties occur.  ``"targets"`` is the ``"paths"`` coupling
    followed, at each horizon, by a permutation of the paths; it costs an argsort of the
    marginals instead of their sort, and two small argsorts of the mean ranks.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.models.coupled import couple_samples
    >>> rng = np.random.default_rng(0)
    >>> marginal = rng.standard_t(3, size=(1000, 5, 2))      # good marginals, independent
    >>> template = rng.multivariate_normal([0, 0], [[1, .8], [.8, 1]], size=(1000, 5))
    >>> out = couple_samples(marginal, template, random_state=0)
    >>> bool(np.array_equal(np.sort(out, axis=0), np.sort(marginal, axis=0)))
    True
    """
    marginal = _check_sample_array(marginal_samples, "marginal_samples")
    dependence = _check_sample_array(dependence_samples, "dependence_samples")
    if marginal.shape[1:] != dependence.shape[1:]:
        raise ValueError(
            "marginal_samples and dependence_samples must have the same (horizon, n_targets); "
            f"got {marginal.shape[1:]} and {dependence.shape[1:]}.")
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling must be one of {COUPLINGS}; got {coupling!r}.")
    rng = check_random_state(random_state)
    n_samples, horizon, n_targets = marginal.shape
    if dependence.shape[0] != n_samples:
        dependence = dependence[_stratified_indices(dependence.shape[0], n_samples, rng)]

    # (H, N, S) layout: every (h, n) is one contiguous row, sorted along the last axis
    marginal_t = np.ascontiguousarray(marginal.transpose(1, 2, 0))
    dependence_t = np.ascontiguousarray(dependence.transpose(1, 2, 0))
    dep_order = _argsort_random_ties(dependence_t, rng)  # dep_order[h, n, k]: rank-k path
    out = np.empty((n_samples, horizon, n_targets))
    out_t = out.transpose(1, 2, 0)  # a view: writing it fills `out`
    if coupling == "paths":
        # ECC: the path of rank k in the template gets the k-th smallest marginal value
        np.put_along_axis(out_t, dep_order, np.sort(marginal_t, axis=-1), axis=-1)
        return out

    # "targets": the "paths" coupling, then at each horizon a permutation of the paths:
    # the template path of k-th smallest mean rank (over targets) goes to the position of
    # the marginal path of k-th smallest mean rank
    marg_order = _argsort_random_ties(marginal_t, rng)
    coupled_t = np.empty_like(marginal_t)
    np.put_along_axis(coupled_t, dep_order,
                      np.take_along_axis(marginal_t, marg_order, axis=-1), axis=-1)
    marg_path_order = _argsort_random_ties(_ranks_from_order(marg_order).sum(axis=1), rng)
    dep_path_order = _argsort_random_ties(_ranks_from_order(dep_order).sum(axis=1), rng)
    source = np.empty_like(dep_path_order)  # (H, S): output path i is template path source
    np.put_along_axis(source, marg_path_order, dep_path_order, axis=-1)
    out_t[...] = np.take_along_axis(
        coupled_t, np.broadcast_to(source[:, None, :], coupled_t.shape), axis=-1)
    return out


# --------------------------------------------------------------------------------------
# The forecaster.
# --------------------------------------------------------------------------------------
class CopulaCoupledForecaster(BaseJointForecaster):
    """The marginals of one forecaster joined by the dependence of another.

    Ensemble copula coupling (Schefzik, Thorarinsdottir & Gneiting 2013), the Schaake
    shuffle of Clark et al. (2004) with a model's samples as the template: ``fit`` fits
    a clone of each component on the same history; ``predict_samples`` draws
    ``n_samples`` paths from ``marginals`` and ``n_dependence_samples`` from
    ``dependence`` and reorders the marginal draws, at every (horizon, target), in the
    rank order of the dependence draws (:func:`couple_samples`).  The output's values at
    every (horizon, target) are exactly those of the marginal model; its copula is the
    dependence model's.  Coupling helps when one model has good marginals and poor
    dependence (e.g. ``JointFMForecaster``) and another the reverse (e.g.
    ``DCCGarchForecaster``); it cannot repair a copula that both get wrong.

    Parameters
    ----------
    marginals : BaseJointForecaster
        Forecaster whose marginal distributions (values at each horizon and target) are
        kept, e.g. ``JointFMForecaster()``.  Cloned in ``fit``.
    dependence : BaseJointForecaster
        Forecaster whose rank structure (copula) is imposed, e.g.
        ``DCCGarchForecaster()``.  Cloned in ``fit``.
    coupling : {"paths", "targets"}, default="paths"
        ``"paths"`` couples over targets and horizons jointly: the output's ranks equal
        the dependence samples' at every (horizon, target), so cross-sectional *and*
        serial dependence come from ``dependence``.  ``"targets"`` couples across
        targets at each horizon separately: the cross-target copula at each horizon is
        ``dependence``'s, while the serial structure (how paths move from step to step,
        measured by their mean rank over targets) is ``marginals``'; see
        :func:`couple_samples`.
    n_dependence_samples : int or None, default=None
        Paths drawn from ``dependence``; None draws as many as asked of
        ``predict_samples``.  Fewer (for an expensive dependence model) are resampled
        to ``n_samples``, each used equally often with ties broken at random (drawing
        from their empirical checkerboard copula); more than ``n_samples`` are
        subsampled at random without replacement, which gains nothing over drawing
        ``n_samples``.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of ``predict_samples`` calls made without one.  One generator serves each
        call: the marginal model draws from it first, so that with an int seed ``s`` the
        output's values are exactly ``marginals_.predict_samples(horizon, n_samples,
        random_state=s)``, the marginal model's own forecast, reordered (comparisons with
        the marginal model alone are paired); the dependence model then draws with a
        seed taken from the generator, and the tie-breaking uses it last.  A seeded call
        is reproducible.  The components' own ``random_state`` is not used for their
        draws; it still governs whatever randomness their ``fit`` has.

    Attributes
    ----------
    marginals_ : BaseJointForecaster
        The fitted clone of ``marginals``.
    dependence_ : BaseJointForecaster
        The fitted clone of ``dependence``.
    n_targets_, n_timesteps_, columns_, index_, last_observation_ :
        As in :class:`~jointdist.base.BaseJointForecaster`.

    See Also
    --------
    couple_samples : The coupling of two sample arrays.

    Notes
    -----
    Both components return paths in the units of ``y`` (levels, for the models that
    cumulate increments), and the coupling works on these paths: with ``"paths"`` it is
    the copula of the level paths over all horizons and targets that is transferred.
    This forecaster has no ``returns`` parameter; it never cumulates anything itself.
    Exogenous ``X`` given to ``fit`` is passed to both components, and refused when one
    of them does not use features.  Wrapped sktime forecasters are not accepted as
    components; use jointdist forecasters.

    References
    ----------
    Clark, M., Gangopadhyay, S., Hay, L., Rajagopalan, B. & Wilby, R. (2004). The
    Schaake shuffle: a method for reconstructing space-time variability in forecasted
    precipitation and temperature fields. *Journal of Hydrometeorology* 5, 243-262.

    Schefzik, R., Thorarinsdottir, T. L. & Gneiting, T. (2013). Uncertainty
    quantification in complex simulation models using ensemble copula coupling.
    *Statistical Science* 28(4), 616-640.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist import CopulaCoupledForecaster, DCCGarchForecaster, HistoricalSimulation
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(300, 3)), axis=0)
    >>> model = CopulaCoupledForecaster(HistoricalSimulation("filtered"),
    ...                                 DCCGarchForecaster(), random_state=0).fit(y)
    >>> model.predict_samples(horizon=5, n_samples=200).shape
    (200, 5, 3)
    >>> sorted(model.get_params(deep=True))[:3]
    ['coupling', 'dependence', 'dependence__asymmetric']
    """

    #: ``X`` is accepted and passed to both components (``_fit`` refuses it when one of
    #: them does not use features).
    _accepts_exogenous = True

    def __init__(self, marginals, dependence, *, coupling="paths", n_dependence_samples=None,
                 random_state=None):
        self.marginals = marginals
        self.dependence = dependence
        self.coupling = coupling
        self.n_dependence_samples = n_dependence_samples
        self.random_state = random_state

    # ---------------------------------------------------------------- validation
    def _check_params(self) -> None:
        for role in ("marginals", "dependence"):
            component = getattr(self, role)
            if isinstance(component, type) or not isinstance(component, BaseJointForecaster):
                raise ValueError(
                    f"{role} must be a jointdist forecaster (an instance of "
                    f"BaseJointForecaster, e.g. HistoricalSimulation()); got {component!r}.")
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}; got {self.coupling!r}.")
        if self.n_dependence_samples is not None:
            check_positive_int(self.n_dependence_samples, "n_dependence_samples")

    def _min_history_length(self, n_targets: int) -> int:
        self._check_params()
        return max(self.marginals._min_history_length(n_targets),
                   self.dependence._min_history_length(n_targets))

    # ---------------------------------------------------------------- fit
    def _fit(self, y, X):
        self._check_params()
        if X is not None:
            for role in ("marginals", "dependence"):
                if not getattr(self, role)._accepts_exogenous:
                    raise ValueError(
                        f"X was given but {role}={type(getattr(self, role)).__name__} does "
                        "not use exogenous features; pass X=None (both components get X).")
        # the components see the same labelled history (their own outputs keep the labels)
        history = y
        if self.columns_ is not None:
            history = pd.DataFrame(y, index=self.index_, columns=self.columns_)
        fitted = {}
        for role in ("marginals", "dependence"):
            model = clone(getattr(self, role))
            fitted[role] = model.fit(history) if X is None else model.fit(history, X)
            n_fitted = getattr(fitted[role], "n_targets_", None)
            if n_fitted != y.shape[1]:
                raise ValueError(f"{role}={type(model).__name__} was fitted on "
                                 f"{y.shape[1]} targets but reports n_targets_={n_fitted}.")
        self.marginals_ = fitted["marginals"]
        self.dependence_ = fitted["dependence"]

    # ---------------------------------------------------------------- sampling
    def _dependence_seed(self, rng: np.random.Generator) -> int:
        """Seed of the dependence draws: the next draw of ``rng`` after the marginal ones."""
        return int(rng.integers(0, np.iinfo(np.int64).max))

    def _draw(self, role: str, horizon: int, n_samples: int, seed) -> np.ndarray:
        model = getattr(self, role + "_")
        samples = np.asarray(model.predict_samples(horizon, n_samples, random_state=seed))
        expected = (n_samples, horizon, self.n_targets_)
        if samples.shape != expected:
            what = ("targets" if samples.ndim == 3 and samples.shape[:2] == expected[:2]
                    else "shape")
            raise ValueError(f"{role}={type(model).__name__} returned samples of shape "
                             f"{samples.shape}, expected {expected} (mismatched {what}); both "
                             "components must forecast the same targets.")
        return samples

    def _predict_samples(self, horizon, n_samples, rng):
        n_dependence = n_samples if self.n_dependence_samples is None else int(
            self.n_dependence_samples)
        # the marginal model draws from the call's own generator: with an int seed its
        # values are exactly those it draws alone with that seed (paired comparisons)
        marginal = self._draw("marginals", horizon, n_samples, rng)
        dependence = self._draw("dependence", horizon, n_dependence,
                                self._dependence_seed(rng))
        return couple_samples(marginal, dependence, coupling=self.coupling, random_state=rng)
