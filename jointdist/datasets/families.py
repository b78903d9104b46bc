"""Stochastic-process families outside the JointFM curriculum, with oracle futures.

The curriculum of seed 000 (:mod:`jointdist.datasets.sde`) is what JointFM was trained
on; a zero-shot claim needs systems it has never seen.  Each family below draws random
systems, simulates one history and branches ``n_futures`` futures from the history's
exact terminal state (latent variance, loadings and shocks included), like
:func:`jointdist.datasets.load_sde_benchmark`, so the same oracle scores apply
(:func:`jointdist.evaluation.run_oracle_benchmark`).

``"stochastic_volatility"``
    Heston log prices with leverage (Heston 1993): ``dx = (mu - v/2) dt + sqrt(v) dW``,
    ``dv = kappa (theta - v) dt + xi sqrt(v) dZ``, ``corr(dW_i, dZ_i) = rho < 0``, the
    price shocks correlated across assets by one common factor; observed as prices
    ``S0 exp(x)``; ``xi`` is capped at the Feller bound.  Full-truncation Euler scheme
    (Lord, Koekkoek & van Dijk 2010).
``"square_root"``
    Correlated Cox-Ingersoll-Ross rates ``dr = kappa (theta - r) dt + sigma sqrt(r) dW``:
    volatility grows with the level, a dependence on the state that no curriculum level
    has.  ``sigma`` is capped at the Feller bound; full truncation at zero.
``"drifting_factor"``
    A factor model whose loadings drift: ``dX_i = sum_k B_ik(t) dF_k + u_i dW_i`` with
    one to three Brownian factors and loadings ``B_ik(t)`` that follow Ornstein-Uhlenbeck
    processes around random means, so the correlation between the series wanders
    (the dependence drift of seed 001, in continuous time).
``"garch"``
    Constant-correlation GJR-GARCH(1,1) log returns (Glosten, Jagannathan & Runkle 1993)
    with multivariate Student-t shocks (one common chi-square per step, so the shocks
    are tail dependent): volatility clustering with leverage, observed as prices.

Time runs in years with ``dt = 1/252`` (one trading day): a 504-step history is the
curriculum's ``t_in = 2`` and 63 steps its ``t_out = 0.25``.  Every series is
multiplied by a log-uniform unit so that systems differ in scale, as in the curriculum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jointdist.base import check_positive_int, check_random_state

__all__ = ["FAMILIES", "FamilyBenchmark", "load_family_benchmark"]

#: The families of :func:`load_family_benchmark`.
FAMILIES = ("stochastic_volatility", "square_root", "drifting_factor", "garch")

_DT = 1.0 / 252.0


@dataclass
class FamilyBenchmark:
    """Systems of one family with one history and many branched futures each.

    Attributes
    ----------
    history : ndarray of shape (n_systems, context_length, n_targets)
        Histories (float32, observed units).
    futures : ndarray of shape (n_systems, n_futures, horizon, n_targets)
        Futures branched from each history's exact terminal state (float32).
    family : str
    params : dict of ndarray
        The sampled parameters, leading axis ``n_systems``.
    dt : float
        Time step in years (1/252).
    """

    history: np.ndarray
    futures: np.ndarray
    family: str
    params: dict = field(default_factory=dict)
    dt: float = _DT

    @property
    def n_systems(self) -> int:
        return int(self.history.shape[0])

    def __len__(self) -> int:
        return self.n_systems

    def __repr__(self) -> str:
        s, t, n = self.history.shape
        return (f"FamilyBenchmark(family={self.family!r}, n_systems={s}, n_targets={n}, "
                f"context_length={t}, horizon={self.futures.shape[2]}, "
                f"n_futures={self.futures.shape[1]})")


def load_family_benchmark(family: str, n_systems: int = 50, n_targets: int = 10,
                          context_length: int = 504, horizon: int = 63,
                          n_futures: int = 1000, random_state: Any = 0) -> FamilyBenchmark:
    """Draw systems of one out-of-curriculum family with oracle futures.

    Parameters
    ----------
    family : {"stochastic_volatility", "square_root", "drifting_factor", "garch"}
        See the module docstring.
    n_systems, n_targets, context_length, horizon, n_futures : int
        Sizes; the defaults match the curriculum benchmark (N = 10, T = 504, H = 63).
    random_state : int, Generator or None, default=0
        Seed of the parameters, the history and the futures.

    Returns
    -------
    FamilyBenchmark

    Examples
    --------
    >>> from jointdist.datasets import load_family_benchmark
    >>> bench = load_family_benchmark("garch", n_systems=2, n_targets=3, n_futures=50)
    >>> bench.history.shape, bench.futures.shape
    ((2, 504, 3), (2, 50, 63, 3))
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}.")
    n_systems = check_positive_int(n_systems, "n_systems")
    n_targets = check_positive_int(n_targets, "n_targets")
    context_length = check_positive_int(context_length, "context_length", minimum=2)
    horizon = check_positive_int(horizon, "horizon")
    n_futures = check_positive_int(n_futures, "n_futures")
    rng = check_random_state(random_state)
    process = _PROCESSES[family](n_systems, n_targets, rng)
    state = process.initial_state()
    history = np.empty((n_systems, context_length, n_targets), dtype=np.float32)
    for t in range(context_length):  # one vectorized step for all systems at a time
        state = process.step(state, rng)
        history[:, t] = process.observe(state)
    # branch: every system's terminal state repeated over the futures axis
    state = {k: np.repeat(v[:, None], n_futures, axis=1) for k, v in state.items()}
    futures = np.empty((n_systems, n_futures, horizon, n_targets), dtype=np.float32)
    for h in range(horizon):
        state = process.step(state, rng)
        futures[:, :, h] = process.observe(state)
    return FamilyBenchmark(history=history, futures=futures, family=family,
                           params=process.params)


# --------------------------------------------------------------------------------------
# The processes.  Each holds per-system parameters of shape (S, N) (or (S, N, N)) and
# steps a state dict whose arrays are (S, N) along the history and (S, F, N) along the
# futures; `_bc` adds the futures axis to a parameter when the state has it.
# --------------------------------------------------------------------------------------
def _bc(param: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Insert the futures axis into an (S, ...) parameter for an (S, F, ...) state."""
    extra = like.ndim - 2 - (param.ndim - 2)
    return param.reshape(param.shape[:1] + (1,) * extra + param.shape[1:])


def _one_factor_cholesky(n_systems, n_targets, rng):
    """Cholesky factors of one-factor correlations ``b b' + diag(1 - b^2)``, (S, N, N).

    Loadings ``|b| ~ U(0.3, 0.95)``, negative with probability 0.1: mostly positive
    dependence of varied strength, with some series that hedge the others.
    """
    sign = np.where(rng.uniform(size=(n_systems, n_targets)) < 0.1, -1.0, 1.0)
    beta = sign * rng.uniform(0.3, 0.95, size=(n_systems, n_targets))
    corr = beta[:, :, None] * beta[:, None, :]
    idx = np.arange(n_targets)
    corr[:, idx, idx] = 1.0
    return np.linalg.cholesky(corr)


def _correlated_normals(chol: np.ndarray, shape: tuple, rng) -> np.ndarray:
    """Normals of ``shape`` (S, [F,] N) with correlation ``chol chol'`` per system."""
    z = rng.standard_normal(shape)
    if len(shape) == 2:
        return np.einsum("snm,sm->sn", chol, z)
    return np.einsum("snm,sfm->sfn", chol, z)


def _units(n_systems, n_targets, rng, low=1e-1, high=1e2):
    return np.exp(rng.uniform(np.log(low), np.log(high), size=(n_systems, n_targets)))


class _StochasticVolatility:
    def __init__(self, s, n, rng):
        u = lambda lo, hi: rng.uniform(lo, hi, size=(s, n))  # noqa: E731
        theta, kappa = u(0.01, 0.16), u(1.0, 8.0)
        # vol of variance capped at the Feller bound 2 kappa theta >= xi^2, so that the
        # variance does not stick at zero (the price would then stop moving)
        self.params = {"mu": u(-0.05, 0.15), "theta": theta, "kappa": kappa,
                       "xi": np.minimum(u(0.2, 0.9), np.sqrt(2 * kappa * theta)),
                       "rho": u(-0.8, -0.2), "price0": _units(s, n, rng, 1.0, 1e3)}
        self.params["variance0"] = self.params["theta"] * np.exp(rng.normal(0, 0.5, (s, n)))
        self.chol = _one_factor_cholesky(s, n, rng)

    def initial_state(self):
        p = self.params
        return {"x": np.zeros_like(p["mu"]), "v": p["variance0"].copy()}

    def step(self, state, rng):
        p, x, v = self.params, state["x"], state["v"]
        vp = np.maximum(v, 0.0)  # full truncation
        e_price = _correlated_normals(self.chol, x.shape, rng)
        e_var = rng.standard_normal(x.shape)
        rho = _bc(p["rho"], x)
        sq = np.sqrt(vp * _DT)
        x = x + (_bc(p["mu"], x) - 0.5 * vp) * _DT + sq * e_price
        v = (v + _bc(p["kappa"], x) * (_bc(p["theta"], x) - vp) * _DT
             + _bc(p["xi"], x) * sq * (rho * e_price + np.sqrt(1 - rho ** 2) * e_var))
        return {"x": x, "v": v}

    def observe(self, state):
        return _bc(self.params["price0"], state["x"]) * np.exp(state["x"])


class _SquareRoot:
    def __init__(self, s, n, rng):
        u = lambda lo, hi: rng.uniform(lo, hi, size=(s, n))  # noqa: E731
        theta, kappa = u(0.5, 6.0), u(0.3, 3.0)
        # capped at the Feller bound 2 kappa theta >= sigma^2, so rates stay positive
        self.params = {"theta": theta, "kappa": kappa,
                       "sigma": np.minimum(u(0.3, 1.2), np.sqrt(2 * kappa * theta)),
                       "unit": _units(s, n, rng, 1e-2, 1e2)}
        self.params["rate0"] = self.params["theta"] * np.exp(rng.normal(0, 0.4, (s, n)))
        self.chol = _one_factor_cholesky(s, n, rng)

    def initial_state(self):
        return {"r": self.params["rate0"].copy()}

    def step(self, state, rng):
        p, r = self.params, state["r"]
        rp = np.maximum(r, 0.0)
        shock = _correlated_normals(self.chol, r.shape, rng)
        r = (r + _bc(p["kappa"], r) * (_bc(p["theta"], r) - rp) * _DT
             + _bc(p["sigma"], r) * np.sqrt(rp * _DT) * shock)
        return {"r": r}

    def observe(self, state):
        return _bc(self.params["unit"], state["r"]) * np.maximum(state["r"], 0.0)


class _DriftingFactor:
    max_factors = 3

    def __init__(self, s, n, rng):
        k = self.max_factors
        n_factors = rng.integers(1, k + 1, size=s)
        active = (np.arange(k)[None, :] < n_factors[:, None]).astype(np.float64)  # (S, K)
        mean = rng.normal(0.0, 0.5, size=(s, n, k))
        mean[:, :, 0] += 0.8  # a market factor most series load on
        self.params = {
            "n_factors": n_factors,
            "factor_vol": rng.uniform(0.1, 0.4, size=(s, k)) * active,
            "loading_mean": mean, "loading_speed": rng.uniform(0.5, 4.0, size=(s, 1, 1)),
            "loading_vol": rng.uniform(0.3, 1.5, size=(s, 1, 1)),
            "idiosyncratic_vol": rng.uniform(0.05, 0.25, size=(s, n)),
            "unit": _units(s, n, rng),
        }

    def initial_state(self):
        p = self.params
        return {"x": np.zeros(p["idiosyncratic_vol"].shape),
                "loadings": p["loading_mean"].copy()}

    def step(self, state, rng):
        p, x, b = self.params, state["x"], state["loadings"]
        d_factor = (_bc(p["factor_vol"], x) * np.sqrt(_DT)
                    * rng.standard_normal(x.shape[:-1] + (self.max_factors,)))
        x = (x + np.einsum("...nk,...k->...n", b, d_factor)
             + _bc(p["idiosyncratic_vol"], x) * np.sqrt(_DT) * rng.standard_normal(x.shape))
        speed, vol = _bc(p["loading_speed"], b), _bc(p["loading_vol"], b)
        b = (b + speed * (_bc(p["loading_mean"], b) - b) * _DT
             + vol * np.sqrt(_DT) * rng.standard_normal(b.shape))
        return {"x": x, "loadings": b}

    def observe(self, state):
        return _bc(self.params["unit"], state["x"]) * (10.0 + state["x"])


class _Garch:
    def __init__(self, s, n, rng):
        u = lambda lo, hi: rng.uniform(lo, hi, size=(s, n))  # noqa: E731
        alpha, gamma = u(0.02, 0.12), u(0.0, 0.15)
        beta = np.minimum(u(0.80, 0.97), 0.995 - alpha - gamma / 2)  # stationary
        daily_vol = u(0.005, 0.025)
        self.params = {"alpha": alpha, "gamma": gamma, "beta": beta,
                       "omega": daily_vol ** 2 * (1 - alpha - gamma / 2 - beta),
                       "df": rng.uniform(3.5, 10.0, size=(s, 1)),
                       "price0": _units(s, n, rng, 1.0, 1e3)}
        self.params["variance0"] = daily_vol ** 2 * np.exp(rng.normal(0, 0.5, (s, n)))
        self.chol = _one_factor_cholesky(s, n, rng)

    def initial_state(self):
        p = self.params
        return {"logp": np.zeros_like(p["alpha"]), "var": p["variance0"].copy()}

    def step(self, state, rng):
        p, logp, var = self.params, state["logp"], state["var"]
        df = _bc(p["df"], logp)
        # multivariate t shocks with unit variance: one chi-square per step and system
        chi = rng.chisquare(np.broadcast_to(df[..., 0], logp.shape[:-1]))[..., None]
        shock = _correlated_normals(self.chol, logp.shape, rng) * np.sqrt((df - 2) / chi)
        eps = np.sqrt(var) * shock
        var = (_bc(p["omega"], var) + (_bc(p["alpha"], var)
                                       + _bc(p["gamma"], var) * (eps < 0)) * eps ** 2
               + _bc(p["beta"], var) * var)
        return {"logp": logp + eps, "var": var}

    def observe(self, state):
        return _bc(self.params["price0"], state["logp"]) * np.exp(state["logp"])


_PROCESSES = {"stochastic_volatility": _StochasticVolatility, "square_root": _SquareRoot,
              "drifting_factor": _DriftingFactor, "garch": _Garch}
