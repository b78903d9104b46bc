"""Variogram score: the standard complement of the energy score for dependence."""

from __future__ import annotations

import numbers

import torch

from jointdist.metrics._arrays import as_tensor, reduce_horizon, split_samples_obs, to_output

__all__ = ["variogram_score"]

#: Entries of one (block, m, N, N) difference tensor (64 MB in float64).
_BLOCK_ENTRIES = 1 << 23


def variogram_score(y_true, y_samples, *, p=0.5, weights=None, per_horizon=False):
    r"""Variogram score of order ``p`` (Scheuerer & Hamill 2015).

    At every horizon, over the pairs of targets ``(i, j)``:

    .. math::
        \mathrm{VS}_p = \sum_{i,j} w_{ij}\Big(|y_i - y_j|^p
        - \frac{1}{m}\sum_{k=1}^m |x_{ki} - x_{kj}|^p\Big)^2

    It compares the expected absolute differences between targets with the observed
    ones, so it reacts to a wrong correlation structure that the energy score is known
    to be weak at detecting (Pinson & Tastu 2013).  It is proper, not strictly proper
    (blind to a common shift of all targets).  Lower is better.

    Parameters
    ----------
    y_true : array-like or tensor of shape (..., horizon, n_targets)
    y_samples : array-like or tensor of shape (..., n_samples, horizon, n_targets)
    p : float, default=0.5
        Order of the variogram; 0.5 is the usual choice.
    weights : array-like of shape (n_targets, n_targets), default=None
        Non-negative pair weights ``w_ij``; None gives all ones (each unordered pair
        counted twice, as in scoringrules' ``vs_ensemble``).
    per_horizon : bool, default=False
        Return one score per horizon instead of their mean.

    Returns
    -------
    float, ndarray or tensor of shape (...) or (..., horizon)
    """
    if isinstance(p, bool) or not (isinstance(p, numbers.Real) and p > 0):
        raise ValueError(f"p must be a positive number; got {p!r}.")
    obs, ens, was_numpy = split_samples_obs(y_true, y_samples)
    n_targets = ens.shape[-1]
    w = None
    if weights is not None:
        w, _ = as_tensor(weights, "weights")
        if tuple(w.shape) != (n_targets, n_targets) or bool((w < 0).any()):
            raise ValueError(f"weights must be a non-negative ({n_targets}, {n_targets}) "
                             f"matrix; got shape {tuple(w.shape)}.")
        w = w.to(device=ens.device, dtype=ens.dtype)

    def variogram(x):  # (..., N) -> (..., N, N)
        return torch.abs(x.unsqueeze(-1) - x.unsqueeze(-2)) ** p

    obs_vario = variogram(obs[..., 0, :])  # (..., H, N, N)
    # mean over members, in blocks of the flattened batch so memory stays bounded
    flat = ens.reshape((-1,) + ens.shape[-2:])
    m = ens.shape[-2]
    step = max(1, _BLOCK_ENTRIES // max(1, m * n_targets * n_targets))
    ens_vario = torch.cat([variogram(flat[i:i + step]).mean(dim=-3)
                           for i in range(0, flat.shape[0], step)])
    ens_vario = ens_vario.reshape(ens.shape[:-2] + (n_targets, n_targets))
    sq = (obs_vario - ens_vario) ** 2
    if w is not None:
        sq = sq * w
    value = sq.sum(dim=(-2, -1))  # (..., H)
    return to_output(reduce_horizon(value, per_horizon), was_numpy)
