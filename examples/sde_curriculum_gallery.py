"""Gallery of the JointFM SDE curriculum: example paths of every level 0-9.

For each level one random system with N = 3 targets is drawn; the figure shows its
history (T = 504 steps over t_in = 2) and a fan of futures branched from the history's
end (5-95% band, median and three individual futures, H = 63 steps).  Each series is
standardized by its history for display only: raw scales differ by orders of magnitude.

Run ``python examples/sde_curriculum_gallery.py``; the figure goes to
``examples/output/sde_curriculum_gallery.png``.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jointdist.datasets.sde import LEVEL_DESCRIPTIONS, make_sde  # noqa: E402

N_TARGETS = 3
COLORS = ["tab:blue", "tab:orange", "tab:green"]


def main(seed: int = 7, path: str | None = None) -> str:
    fig, axes = plt.subplots(5, 2, figsize=(13, 15), sharex=True)
    for level, ax in zip(range(10), axes.T.ravel()):
        sample = make_sde(level=level, n_targets=N_TARGETS, n_futures=500,
                          random_state=seed + level, device="cpu")
        T, H = sample.history.shape[0], sample.futures.shape[1]
        t_hist = np.arange(1, T + 1) * sample.dt
        t_fut = (T + np.arange(1, H + 1)) * sample.dt
        mean = sample.history.mean(axis=0)
        std = sample.history.std(axis=0) + 1e-12
        hist = (sample.history - mean) / std
        fut = (sample.futures - mean) / std  # (F, H, N)
        for i in range(N_TARGETS):
            c = COLORS[i]
            ax.plot(t_hist, hist[:, i], color=c, lw=0.8)
            lo, med, hi = np.quantile(fut[:, :, i], [0.05, 0.5, 0.95], axis=0)
            ax.fill_between(t_fut, lo, hi, color=c, alpha=0.25, lw=0)
            ax.plot(t_fut, med, color=c, lw=1.0, ls="--")
            ax.plot(t_fut, fut[:3, :, i].T, color=c, lw=0.4, alpha=0.7)
        p = sample.params
        extras = []
        if p["jump_rate"].any():
            extras.append("jumps")
        if p["regime_type"] != 0:
            extras.append(["", "telegraph", "logistic", "hazard"][int(p["regime_type"])])
        if p["mem_gain"].any():
            extras.append("memory")
        tag = f" [{', '.join(extras)}]" if extras else ""
        ax.set_title(f"level {level}: {LEVEL_DESCRIPTIONS[level]}{tag}", fontsize=9)
        ax.axvline(T * sample.dt, color="k", lw=0.5, ls=":")
        ax.set_ylabel("standardized")
    for ax in axes[-1]:
        ax.set_xlabel("time")
    fig.suptitle("JointFM SDE curriculum: history (T=504) and 500 branched futures (H=63)",
                 fontsize=12)
    fig.tight_layout()
    if path is None:
        out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "sde_curriculum_gallery.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main())
