"""Diagnostics of DiffusionCopulaForecaster on simulated data (seed 002, section 5).

Simulates 10 GARCH(1,1) series with Student-t copula shocks (nu = 3, so joint crashes
are more frequent than a Gaussian copula allows), fits the forecaster with the
classification-diffusion copula and with a Gaussian copula on the first 800 steps, and
saves to ``examples/output/``:

* ``diffusion_copula_pit.png`` -- out-of-sample PIT histograms and PIT CDFs (App. D.1.5);
* ``diffusion_copula_qq.png`` -- normal QQ plot of the probit PIT values (App. D.1.6);
* ``diffusion_copula_tails.png`` -- lower-tail dependence lambda(q) against q and the
  probability of k simultaneous lower-tail events, for the truth (a large sample of the
  true copula), the CDC (ancestral and ODE samplers) and the Gaussian copula.  The
  copulas are fitted to the in-sample PIT of the fitted marginals, the truth is the
  copula of the simulated shocks;
* ``diffusion_copula_black_swan.png`` -- the black-swan view of seed 002 (Figure 6) on
  the copula scale: for each out-of-sample step, the size of the joint move of the
  normal scores ``Phi^{-1}(PIT)`` against its Mahalanobis distance under each copula's
  samples, with the share of "black swans" (beyond the 99 % chi-square line).

Run ``python examples/diffusion_copula_diagnostics.py`` (one marginal fit, then the
copulas; a minute or two on 2 quiet cores).
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import special, stats  # noqa: E402

from jointdist.models.diffusion_copula import (  # noqa: E402
    DiffusionCopulaForecaster,
    GaussianCopula,
    mahalanobis_surprise,
    pit_histogram,
    pit_ks_test,
    plot_black_swan,
    prob_k_simultaneous_tail_events,
    qq_points,
    tail_dependence,
)

OUT = os.path.join(os.path.dirname(__file__), "output")
N, T, T_FIT, NU, RHO = 10, 1200, 800, 3, 0.5


def t_copula_uniforms(n, rng):
    corr = np.full((N, N), RHO) + (1 - RHO) * np.eye(N)
    z = rng.standard_normal((n, N)) @ np.linalg.cholesky(corr).T
    return special.stdtr(NU, z / np.sqrt(rng.chisquare(NU, size=(n, 1)) / NU))


def simulate(rng):
    """GARCH(1,1) returns whose standardized Student-t(5) shocks have a t(3) copula."""
    shocks = special.stdtrit(5, t_copula_uniforms(T, rng)) * np.sqrt(3 / 5)
    sigma2, out = np.ones(N), np.empty((T, N))
    for t in range(T):
        out[t] = np.sqrt(sigma2) * shocks[t]
        sigma2 = 0.05 + 0.10 * out[t] ** 2 + 0.85 * sigma2
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    returns = simulate(rng)
    model = DiffusionCopulaForecaster(returns=None, random_state=0).fit(returns[:T_FIT])
    # the same marginals joined by a Gaussian copula fitted to the same PIT values
    gaussian = GaussianCopula().fit(model.pit_)

    # ---------------------------------------------------------------- PIT
    pit = model.marginal_pit(returns)[-(T - T_FIT):]  # out of sample
    _, pvals = pit_ks_test(pit)
    dens, edges = pit_histogram(pit, bins=10)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    centers = 0.5 * (edges[1:] + edges[:-1])
    for j in range(N):
        axes[0].plot(centers, dens[:, j], alpha=0.5)
        axes[1].plot(np.sort(pit[:, j]), np.linspace(0, 1, pit.shape[0]), alpha=0.5)
    axes[0].axhline(1.0, color="k", ls="--")
    axes[0].set(title="Out-of-sample PIT histograms (10 targets)", xlabel="u",
                ylabel="density")
    axes[1].plot([0, 1], [0, 1], "k--")
    axes[1].set(title=f"PIT CDFs; KS p-values min {pvals.min():.2f}", xlabel="u",
                ylabel="empirical CDF")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "diffusion_copula_pit.png"), dpi=120)
    plt.close(fig)

    # ---------------------------------------------------------------- QQ
    theo, emp = qq_points(pit)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(theo, emp, ".", ms=2, alpha=0.4)
    ax.plot([-4, 4], [-4, 4], "k--")
    ax.set(title="QQ of probit PIT values", xlabel="N(0,1) quantile",
           ylabel="Phi^-1(PIT) quantile")
    fig.savefig(os.path.join(OUT, "diffusion_copula_qq.png"), dpi=120)
    plt.close(fig)

    # ---------------------------------------------------------------- tails
    truth = t_copula_uniforms(200_000, rng)
    cdc = model.copula_
    draws = {"truth (t copula)": truth,
             "CDC, ancestral": cdc.set_params(sampler="ancestral").sample(20_000, 1),
             "CDC, ode": cdc.set_params(sampler="ode").sample(20_000, 1),
             "Gaussian copula": gaussian.sample(20_000, 1)}
    cdc.set_params(sampler="ode")
    levels = np.array([0.01, 0.02, 0.05, 0.1, 0.2])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    off = ~np.eye(N, dtype=bool)
    for name, u in draws.items():
        lam = [tail_dependence(u, q, thresholds=q)[off].mean() for q in levels]
        axes[0].plot(levels, lam, "o-", label=name)
        pk = prob_k_simultaneous_tail_events(u, q=0.05, thresholds=0.05)
        axes[1].semilogy(np.arange(N + 1), np.maximum(pk, 1e-6), "o-", label=name)
    axes[0].set(title="Lower-tail dependence lambda(q), mean over pairs", xlabel="q",
                ylabel="P(U_j < q | U_i < q)")
    axes[1].set(title="P(at least k of 10 below their 5% quantile)", xlabel="k",
                ylabel="probability")
    axes[0].legend()
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "diffusion_copula_tails.png"), dpi=120)
    plt.close(fig)
    # ---------------------------------------------------------------- black swans
    scores = special.ndtri(np.clip(pit, 1e-6, 1 - 1e-6))  # observed, copula scale
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name in ("CDC, ode", "Gaussian copula"):
        mag, dist = mahalanobis_surprise(special.ndtri(draws[name]), scores)
        line = np.sqrt(stats.chi2(N).ppf(0.99))
        share = np.mean(dist > line)
        plot_black_swan(mag, dist, n_dims=N, ax=ax, alpha=0.99,
                        label=f"{name}: {share:.1%} beyond the 99% line")
        print(f"{name:18s} black swans (beyond the 99% line): {share:.3f}")
    ax.set_title("Out-of-sample joint moves of Phi^-1(PIT): magnitude vs surprise")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "diffusion_copula_black_swan.png"), dpi=120)
    plt.close(fig)
    print("KS p-values of the out-of-sample PIT:", np.round(pvals, 3))
    for name, u in draws.items():
        pk = prob_k_simultaneous_tail_events(u, q=0.05, thresholds=0.05)
        print(f"{name:18s} P(>=3 joint 5% crashes) = {pk[3]:.4f}, P(>=5) = {pk[5]:.4f}")
    print("figures written to", OUT)


if __name__ == "__main__":
    main()
