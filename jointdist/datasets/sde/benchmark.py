"""The zero-shot distribution-recovery benchmark of JointFM (seed 000, Sec. 4).

:func:`load_sde_benchmark` draws ``n_systems`` unseen SDE systems of one curriculum level,
simulates one history of ``context_length`` steps over ``t_in`` for each and branches
``n_futures`` futures of ``horizon`` steps (over ``t_out``, same ``dt``) from the
history's exact terminal state -- position, regime and Volterra memory.  The futures are
a Monte Carlo approximation of the true conditional law ``P(X_{T+1:T+H} | X_{1:T})``
against which forecasts are scored.  :func:`make_sde` does the same for one system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from jointdist.base import check_positive_int, check_random_state
from jointdist.datasets.sde._generate import (
    check_time_grid,
    generate,
)
from jointdist.datasets.sde.systems import _check_level
from jointdist.device import resolve_device

__all__ = ["SDEBenchmark", "SDESample", "load_sde_benchmark", "make_sde"]


@dataclass
class SDESample:
    """One simulated system: a history and futures branched from its end.

    Attributes
    ----------
    history : ndarray of shape (context_length, n_targets)
        The observed history of the targets (float32, observed units).
    futures : ndarray of shape (n_futures, horizon, n_targets)
        Futures branched from the history's terminal state.
    history_features, future_features : ndarray or None
        The same for the ``n_features`` feature series (None when ``n_features=0``).
    params : dict
        Parameters of the system (see :class:`~jointdist.datasets.sde.SDESystems`), one
        entry per field, without the system axis.
    level : int
    dt : float
        Time step of history and futures.
    """

    history: np.ndarray
    futures: np.ndarray
    history_features: np.ndarray | None
    future_features: np.ndarray | None
    params: dict
    level: int
    dt: float


@dataclass
class SDEBenchmark:
    """A set of SDE systems with one history and many branched futures each.

    Attributes
    ----------
    history : ndarray of shape (n_systems, context_length, n_targets)
        Histories (float32, observed units) -- the model's context.
    futures : ndarray of shape (n_systems, n_futures, horizon, n_targets)
        Ground-truth futures branched from each history's terminal state.
    history_features : ndarray of shape (n_systems, context_length, n_features) or None
    future_features : ndarray of shape (n_systems, n_futures, horizon, n_features) or None
    params : dict of ndarray
        The sampled system parameters, leading axis ``n_systems`` (fields of
        :class:`~jointdist.datasets.sde.SDESystems`; ``loc`` and ``scale`` give the scale
        of every series).
    level, n_targets, n_features, context_length, horizon, n_futures : int
    t_in, t_out, dt : float
    n_rejected : int
        Number of sampled systems that exploded (or were flat) and were resampled.
    """

    history: np.ndarray
    futures: np.ndarray
    history_features: np.ndarray | None
    future_features: np.ndarray | None
    params: dict
    level: int
    n_targets: int
    n_features: int
    context_length: int
    horizon: int
    n_futures: int
    t_in: float
    t_out: float
    dt: float
    n_rejected: int = 0
    info: dict = field(default_factory=dict)

    @property
    def n_systems(self) -> int:
        return int(self.history.shape[0])

    def __repr__(self) -> str:
        return (f"SDEBenchmark(level={self.level}, n_systems={self.n_systems}, "
                f"n_targets={self.n_targets}, n_features={self.n_features}, "
                f"context_length={self.context_length}, horizon={self.horizon}, "
                f"n_futures={self.n_futures}, dt={self.dt:.6g}, "
                f"n_rejected={self.n_rejected})")

    def __len__(self) -> int:
        return self.n_systems

    def system(self, i: int) -> SDESample:
        """The ``i``-th system as an :class:`SDESample` (views, no copies)."""
        params = {k: (v[i] if isinstance(v, np.ndarray) else v)
                  for k, v in self.params.items()}
        return SDESample(
            history=self.history[i], futures=self.futures[i],
            history_features=None if self.history_features is None
            else self.history_features[i],
            future_features=None if self.future_features is None
            else self.future_features[i],
            params=params, level=self.level, dt=self.dt)


def _split(x: torch.Tensor, n_features: int):
    arr = x.detach().cpu().numpy()
    if n_features == 0:
        return arr, None
    return arr[..., n_features:], arr[..., :n_features]


def load_sde_benchmark(level: int = 7, n_systems: int = 200, n_targets: int = 10,
                       n_features: int = 0, context_length: int = 504, horizon: int = 63,
                       n_futures: int = 1000, t_in: float = 2.0, t_out: float = 0.25,
                       random_state: Any = 0, *, device="auto",
                       scale_range=(1e-2, 1e3)) -> SDEBenchmark:
    """Generate the JointFM synthetic distribution-recovery benchmark (seed 000, Sec. 4).

    The defaults reproduce the paper's protocol: 200 systems of level 7, ``N = 10``
    targets, ``M = 0`` features, a history of ``T = 504`` steps over ``t_in = 2.0``
    (``dt = 2 / 504``) and 1,000 futures of ``H = 63`` steps (``t_out = 0.25``, same
    ``dt``) branched from the history's exact terminal state, regime and memory included.

    Parameters
    ----------
    level : int, default=7
        Curriculum level 0..9 (Table 1 of seed 000).
    n_systems : int, default=200
        Number of SDE systems.
    n_targets : int, default=10
        ``N``, target series per system.
    n_features : int, default=0
        ``M``, feature series per system (simulated jointly, returned separately).
    context_length : int, default=504
        History length ``T``.
    horizon : int, default=63
        Future length ``H``.
    n_futures : int, default=1000
        Futures per system.
    t_in, t_out : float, default=2.0, 0.25
        Simulated time spanned by the history and the futures; ``t_in / T`` must equal
        ``t_out / H``.
    random_state : int, numpy Generator or None, default=0
        Seed; the same int gives the same benchmark on the same device type.
    device : str or torch.device, default="auto"
        Where to simulate (see :func:`jointdist.resolve_device`); outputs are numpy.
    scale_range : (float, float), default=(1e-2, 1e3)
        Range of the log-uniform observation scale of each series.

    Returns
    -------
    SDEBenchmark
        ``history`` (n_systems, T, N), ``futures`` (n_systems, n_futures, H, N), float32,
        and the sampled ``params``.

    Examples
    --------
    >>> bench = load_sde_benchmark(level=2, n_systems=3, n_targets=2, context_length=50,
    ...                            horizon=10, n_futures=20, t_in=1.0, t_out=0.2)
    >>> bench.history.shape, bench.futures.shape
    ((3, 50, 2), (3, 20, 10, 2))
    """
    level = _check_level(level)
    n_systems = check_positive_int(n_systems, "n_systems")
    n_targets = check_positive_int(n_targets, "n_targets")
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) \
            or n_features < 0:
        raise ValueError(f"n_features must be a non-negative integer; got {n_features!r}.")
    context_length = check_positive_int(context_length, "context_length")
    horizon = check_positive_int(horizon, "horizon")
    n_futures = check_positive_int(n_futures, "n_futures")
    if context_length < 2:
        raise ValueError(f"context_length must be >= 2; got {context_length}.")
    dt = check_time_grid(context_length, horizon, t_in, t_out)
    rng = check_random_state(random_state)
    dev = resolve_device(device)

    gen = generate(np.full(n_systems, level), n_targets, int(n_features),
                   context_length=context_length, horizon=horizon, n_futures=n_futures,
                   dt=dt, rng=rng, device=dev, dtype=torch.float32,
                   scale_range=scale_range)
    history, history_features = _split(gen.history, int(n_features))
    futures, future_features = _split(gen.futures, int(n_features))
    return SDEBenchmark(
        history=history, futures=futures, history_features=history_features,
        future_features=future_features, params=gen.systems.to_numpy(), level=level,
        n_targets=n_targets, n_features=int(n_features), context_length=context_length,
        horizon=horizon, n_futures=n_futures, t_in=float(t_in), t_out=float(t_out),
        dt=dt, n_rejected=gen.n_rejected, info={"device": str(dev)})


def make_sde(level: int = 7, n_targets: int = 10, n_features: int = 0,
             context_length: int = 504, horizon: int = 63, n_futures: int = 1000,
             t_in: float = 2.0, t_out: float = 0.25, random_state: Any = None, *,
             device="auto", scale_range=(1e-2, 1e3)) -> SDESample:
    """Sample one SDE system, its history and ``n_futures`` branched futures.

    Same parameters as :func:`load_sde_benchmark` with ``n_systems=1``.

    Returns
    -------
    SDESample
        ``history`` (context_length, n_targets) and ``futures``
        (n_futures, horizon, n_targets).

    Examples
    --------
    >>> sample = make_sde(level=5, n_targets=3, context_length=100, horizon=20,
    ...                   n_futures=50, t_in=1.0, t_out=0.2, random_state=0)
    >>> sample.history.shape, sample.futures.shape
    ((100, 3), (50, 20, 3))
    """
    bench = load_sde_benchmark(level=level, n_systems=1, n_targets=n_targets,
                               n_features=n_features, context_length=context_length,
                               horizon=horizon, n_futures=n_futures, t_in=t_in,
                               t_out=t_out, random_state=random_state, device=device,
                               scale_range=scale_range)
    return bench.system(0)
