"""Axis conventions and the torch core shared by the metrics.

Every metric works in torch, so numpy input (converted without a copy) and torch input
on any device run the same code; numpy in gives numpy out, torch in gives torch out.

Conventions (see :mod:`jointdist.metrics`):

* samples: ``(..., n_samples, horizon, n_targets)``
* observations: ``(..., horizon, n_targets)``

where ``...`` are optional batch axes (series, systems, forecast origins) that broadcast.
"""

from __future__ import annotations

import numpy as np
import torch

#: Upper bound of the entries of one pairwise-distance block (64 MB in float64).
_BLOCK_ENTRIES = 1 << 23

ESTIMATORS = ("nrg", "fair")


def as_tensor(x, name: str) -> tuple[torch.Tensor, bool]:
    """Return ``(tensor, was_numpy)``; floats stay as they are, integers become float64."""
    if isinstance(x, torch.Tensor):
        t, was_numpy, arr = x, False, None
    else:
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name} must be a real numeric array; got dtype {arr.dtype}.")
        arr = np.ascontiguousarray(arr)
        if not arr.flags.writeable:  # torch.from_numpy warns on read-only memory
            arr = arr.copy()
        t, was_numpy = torch.from_numpy(arr), True
    if not torch.is_floating_point(t):
        t = t.to(torch.float64)
    finite = np.isfinite(arr).all() if was_numpy else bool(torch.isfinite(t).all())
    if not finite:
        raise ValueError(f"{name} contains NaN or infinite values.")
    return t, was_numpy


def to_output(t: torch.Tensor, was_numpy: bool):
    """Back to the caller's type: a numpy array (a Python float when 0-d) or a tensor."""
    if not was_numpy:
        return t
    out = t.detach().cpu().numpy()
    return float(out) if out.ndim == 0 else out


def check_estimator(estimator: str) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}.")


def split_samples_obs(y_true, y_samples, *, min_samples: int = 1):
    """Validate an observation/ensemble pair and move the member axis next to the end.

    Returns
    -------
    obs : tensor (..., horizon, 1, n_targets)
    ens : tensor (..., horizon, n_samples, n_targets)
    was_numpy : bool
    """
    ens, np_s = as_tensor(y_samples, "y_samples")
    obs, np_o = as_tensor(y_true, "y_true")
    if ens.ndim < 3:
        raise ValueError("y_samples must have shape (..., n_samples, horizon, n_targets); "
                         f"got {tuple(ens.shape)}. For one horizon or one target keep a "
                         "length-1 axis.")
    if obs.ndim < 2:
        raise ValueError("y_true must have shape (..., horizon, n_targets); got "
                         f"{tuple(obs.shape)}.")
    if tuple(obs.shape[-2:]) != tuple(ens.shape[-2:]):
        raise ValueError(f"y_true (..., horizon, n_targets) = {tuple(obs.shape)} does not "
                         f"match y_samples (..., n_samples, horizon, n_targets) = "
                         f"{tuple(ens.shape)} on the last two axes.")
    if ens.shape[-3] < min_samples:
        raise ValueError(f"y_samples needs at least {min_samples} samples on axis -3; got "
                         f"{ens.shape[-3]}.")
    dtype = torch.promote_types(ens.dtype, obs.dtype)
    ens = ens.to(dtype).movedim(-3, -2)  # (..., H, m, N)
    obs = obs.to(device=ens.device, dtype=dtype).unsqueeze(-2)  # (..., H, 1, N)
    return obs, ens, np_s and np_o


def check_sample_sets(samples_a, samples_b, *, min_samples: int = 1):
    """Validate two sample sets ``(..., m, H, N)`` and ``(..., k, H, N)``.

    Returns them as ``(..., H, m, N)`` and ``(..., H, k, N)`` tensors of one dtype.
    """
    a, np_a = as_tensor(samples_a, "samples_a")
    b, np_b = as_tensor(samples_b, "samples_b")
    for t, name in ((a, "samples_a"), (b, "samples_b")):
        if t.ndim < 3:
            raise ValueError(f"{name} must have shape (..., n_samples, horizon, n_targets); "
                             f"got {tuple(t.shape)}.")
        if t.shape[-3] < min_samples:
            raise ValueError(f"{name} needs at least {min_samples} samples on axis -3; got "
                             f"{t.shape[-3]}.")
    if tuple(a.shape[-2:]) != tuple(b.shape[-2:]):
        raise ValueError(f"samples_a {tuple(a.shape)} and samples_b {tuple(b.shape)} must "
                         "agree on (horizon, n_targets), the last two axes.")
    dtype = torch.promote_types(a.dtype, b.dtype)
    a = a.to(dtype).movedim(-3, -2)
    b = b.to(device=a.device, dtype=dtype).movedim(-3, -2)
    return a, b, np_a and np_b


def reduce_horizon(per_horizon_values: torch.Tensor, per_horizon: bool) -> torch.Tensor:
    """``(..., H)`` -> ``(..., H)`` or its mean over the horizon ``(...)``."""
    return per_horizon_values if per_horizon else per_horizon_values.mean(dim=-1)


def reduce_horizon_target(values: torch.Tensor, per_horizon: bool,
                          per_target: bool) -> torch.Tensor:
    """``(..., H, N)`` -> averaged over the axes not asked for, keeping their order."""
    if not per_target:
        values = values.mean(dim=-1)
    elif not per_horizon:
        values = values.mean(dim=-2)
    if not per_horizon and not per_target:
        values = values.mean(dim=-1)
    return values


def mean_pairwise_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance between the rows of ``a`` (..., m, d) and ``b`` (..., k, d).

    Batch axes broadcast.  Distances are computed directly (no ``|a|^2 + |b|^2 - 2ab``
    expansion, which loses precision when the points sit far from the origin), in
    blocks so that memory stays bounded whatever the batch size.
    """
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = a.expand(batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b = b.expand(batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    m, k = a.shape[-2], b.shape[-2]
    step = max(1, _BLOCK_ENTRIES // max(1, m * k))
    out = [torch.cdist(a[i:i + step], b[i:i + step],
                       compute_mode="donot_use_mm_for_euclid_dist").mean(dim=(-2, -1))
           for i in range(0, a.shape[0], step)]
    return torch.cat(out).reshape(batch)


def sort_last(x: torch.Tensor) -> torch.Tensor:
    """Ascending sort over the last axis.

    On the CPU, without autograd, numpy's sort (SIMD-vectorized) is several times
    faster than torch's for float arrays, so it is used there; elsewhere torch sorts.
    """
    if x.device.type == "cpu" and not x.requires_grad and x.dtype in (torch.float32,
                                                                    torch.float64):
        return torch.from_numpy(np.sort(x.numpy(), axis=-1))
    return torch.sort(x, dim=-1).values


def sorted_pair_sum(x_sorted: torch.Tensor) -> torch.Tensor:
    """``sum_{i,j} |x_i - x_j|`` over the last axis of an ascending-sorted tensor.

    Uses ``sum_{i,j} |x_i - x_j| = 2 sum_i (2i - n - 1) x_(i)`` (i = 1..n), O(n) after
    sorting instead of O(n^2).
    """
    n = x_sorted.shape[-1]
    coef = 2.0 * torch.arange(1, n + 1, dtype=x_sorted.dtype, device=x_sorted.device) - n - 1
    return 2.0 * (x_sorted * coef).sum(dim=-1)


def sorted_abs_deviation_sum(x_sorted: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``sum_i |x_i - y_j|`` for every point ``y_j``, given ascending ``x_sorted``.

    ``x_sorted`` is (..., n) and ``y`` (..., q); returns (..., q) in O((n + q) log n):
    with c points below y and partial sum S_c, the sum is y (2c - n) - 2 S_c + S_n.
    """
    n = x_sorted.shape[-1]
    batch = torch.broadcast_shapes(x_sorted.shape[:-1], y.shape[:-1])
    x_sorted = x_sorted.expand(batch + x_sorted.shape[-1:]).contiguous()
    y = y.expand(batch + y.shape[-1:]).contiguous()
    csum = torch.nn.functional.pad(torch.cumsum(x_sorted, dim=-1), (1, 0))  # (..., n + 1)
    count = torch.searchsorted(x_sorted, y)  # points strictly below y (left insertion)
    partial = torch.gather(csum, -1, count)
    return y * (2 * count - n).to(y.dtype) - 2.0 * partial + csum[..., -1:]


def linear_quantiles(x_sorted: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Quantiles of ascending ``x_sorted`` (..., n) at ``levels`` (q,) -> (..., q).

    Linear interpolation between order statistics, the default method of
    :func:`numpy.quantile` (and so of GluonTS's sample forecasts).
    """
    n = x_sorted.shape[-1]
    pos = levels.to(x_sorted.dtype) * (n - 1)
    lo = pos.floor().long().clamp(0, n - 1)
    hi = (lo + 1).clamp(max=n - 1)
    frac = pos - lo.to(pos.dtype)
    x_lo = x_sorted[..., lo]
    x_hi = x_sorted[..., hi]
    return x_lo + (x_hi - x_lo) * frac
