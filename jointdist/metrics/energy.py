"""Energy score, energy distance and marginal energy."""

from __future__ import annotations

import torch

from jointdist.metrics._arrays import (
    check_estimator,
    check_sample_sets,
    mean_pairwise_distance,
    reduce_horizon,
    reduce_horizon_target,
    sort_last,
    sorted_pair_sum,
    split_samples_obs,
    to_output,
)

__all__ = ["energy_score", "energy_distance", "marginal_energy"]


def _self_term(x: torch.Tensor, estimator: str) -> torch.Tensor:
    """``E|X - X'|`` from one sample set (..., m, d): V-statistic ("nrg") or U ("fair")."""
    m = x.shape[-2]
    mean_dist = mean_pairwise_distance(x, x)  # divides by m^2, diagonal included (zeros)
    if estimator == "fair":
        mean_dist = mean_dist * (m / (m - 1))
    return mean_dist


def energy_score(y_true, y_samples, *, per_horizon=False, estimator="nrg"):
    r"""Energy score of an ensemble of sample paths against one observed path.

    At every horizon ``h`` the targets form one vector and

    .. math::
        \mathrm{ES}_h = \frac{1}{m}\sum_{i=1}^m \lVert x_{ih} - y_h \rVert
        - \frac{1}{2m^2}\sum_{i,j=1}^m \lVert x_{ih} - x_{jh} \rVert

    (Gneiting & Raftery 2007), with the Euclidean norm over the **targets** axis.  The
    ``"fair"`` estimator divides the second term by ``2m(m-1)`` instead (Ferro 2014).
    Lower is better; the score is strictly proper.

    Parameters
    ----------
    y_true : array-like or tensor of shape (..., horizon, n_targets)
        Observed path.
    y_samples : array-like or tensor of shape (..., n_samples, horizon, n_targets)
        Ensemble, e.g. the output of ``predict_samples``.  Leading batch axes ``...``
        broadcast against those of ``y_true``.
    per_horizon : bool, default=False
        Return one score per horizon instead of their mean.
    estimator : {"nrg", "fair"}, default="nrg"
        Estimator of the expected distance between members (names of scoringrules).

    Returns
    -------
    float, ndarray or tensor of shape (...) or (..., horizon)
        numpy input gives numpy output (a float when there are no batch axes); torch
        input gives a tensor on the input's device.

    Notes
    -----
    This equals ``scoringrules.es_ensemble(y_true, y_samples.swapaxes(-3, -2))``
    (``m_axis=-2``, ``v_axis=-1``) and, for one target, the CRPS.  Costs
    O(n_samples^2 n_targets) per horizon, computed in bounded memory blocks.
    """
    check_estimator(estimator)
    obs, ens, was_numpy = split_samples_obs(y_true, y_samples,
                                            min_samples=2 if estimator == "fair" else 1)
    to_obs = torch.linalg.vector_norm(ens - obs, dim=-1).mean(dim=-1)  # (..., H)
    spread = _self_term(ens, estimator)  # (..., H) on the ensemble's own batch shape
    return to_output(reduce_horizon(to_obs - 0.5 * spread, per_horizon), was_numpy)


def energy_distance(samples_a, samples_b, *, per_horizon=False, estimator="fair"):
    r"""Energy distance between two sets of sample paths, per horizon.

    .. math::
        D_h(P, Q) = 2\,E\lVert X_h - Y_h\rVert - E\lVert X_h - X'_h\rVert
        - E\lVert Y_h - Y'_h\rVert

    with the Euclidean norm over the **targets** axis (Székely & Rizzo 2013): the
    "energy loss" of seed 000 between a model's samples and oracle samples of the true
    future.  It is zero exactly when the two joint laws at horizon ``h`` agree.  This is
    the squared form, without the square root that :func:`scipy.stats.energy_distance`
    takes.

    Parameters
    ----------
    samples_a : array-like or tensor of shape (..., m, horizon, n_targets)
    samples_b : array-like or tensor of shape (..., k, horizon, n_targets)
        The two sample sets; batch axes broadcast, ``m`` and ``k`` may differ.
    per_horizon : bool, default=False
        Return one value per horizon instead of their mean.
    estimator : {"fair", "nrg"}, default="fair"
        ``"fair"`` uses U-statistics for the within-set terms, so that the estimate of
        ``D(P, P)`` is zero in expectation (it can be slightly negative); ``"nrg"`` uses
        V-statistics (biased upwards by ``E|X-X'|/m + E|Y-Y'|/k``).

    Returns
    -------
    float, ndarray or tensor of shape (...) or (..., horizon)
    """
    check_estimator(estimator)
    min_samples = 2 if estimator == "fair" else 1
    a, b, was_numpy = check_sample_sets(samples_a, samples_b, min_samples=min_samples)
    cross = mean_pairwise_distance(a, b)
    value = 2.0 * cross - _self_term(a, estimator) - _self_term(b, estimator)
    return to_output(reduce_horizon(value, per_horizon), was_numpy)


def marginal_energy(samples_a, samples_b, *, per_horizon=False, per_target=False,
                    estimator="fair"):
    r"""Energy distance of every target's marginal, averaged over targets.

    The one-dimensional energy distance ``2E|X-Y| - E|X-X'| - E|Y-Y'|`` is computed per
    target and horizon (it equals twice the Cramér distance
    :math:`\int (F - G)^2`), then averaged over targets.  It checks marginal
    calibration and is blind to the dependence between targets (seed 000, §4).

    Parameters
    ----------
    samples_a : array-like or tensor of shape (..., m, horizon, n_targets)
    samples_b : array-like or tensor of shape (..., k, horizon, n_targets)
    per_horizon : bool, default=False
        Keep the horizon axis instead of averaging over it.
    per_target : bool, default=False
        Keep the target axis instead of averaging over it.
    estimator : {"fair", "nrg"}, default="fair"
        As in :func:`energy_distance`.

    Returns
    -------
    float, ndarray or tensor of shape (...), with ``horizon`` and/or ``n_targets`` axes
    appended (in that order) when ``per_horizon`` / ``per_target`` are set.

    Notes
    -----
    Exact in O((m + k) log(m + k)) per target and horizon, by sorting
    (see :func:`jointdist.metrics._arrays.sorted_pair_sum`).
    """
    check_estimator(estimator)
    min_samples = 2 if estimator == "fair" else 1
    a, b, was_numpy = check_sample_sets(samples_a, samples_b, min_samples=min_samples)
    a = a.transpose(-1, -2)  # (..., H, N, m)
    b = b.transpose(-1, -2)
    batch = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    a = a.expand(batch + a.shape[-1:])
    b = b.expand(batch + b.shape[-1:])
    m, k = a.shape[-1], b.shape[-1]
    centre = 0.5 * (a.mean(dim=-1, keepdim=True) + b.mean(dim=-1, keepdim=True))
    a, b = a - centre, b - centre  # translation invariant; keeps the sums well scaled
    s_aa = sorted_pair_sum(sort_last(a))
    s_bb = sorted_pair_sum(sort_last(b))
    s_all = sorted_pair_sum(sort_last(torch.cat([a, b], dim=-1)))
    cross = 0.5 * (s_all - s_aa - s_bb) / (m * k)
    if estimator == "fair":
        self_a, self_b = s_aa / (m * (m - 1)), s_bb / (k * (k - 1))
    else:
        self_a, self_b = s_aa / m**2, s_bb / k**2
    value = 2.0 * cross - self_a - self_b  # (..., H, N)
    value = reduce_horizon_target(value, per_horizon, per_target)
    return to_output(value, was_numpy)
