"""Markdown table of saved SDE-protocol results (``bench_sde_protocol.py`` CSVs).

Usage::

    python benchmarks/summarize_protocol.py benchmarks/output/sde_protocol_level*.csv

One row per level and model: energy distance (mean over systems and horizons, and its
change against the best of the baselines), the scale-free per-system geometric-mean
ratio to the best baseline with the share of systems won, marginal energy, CRPS-sum and
correlation error (all means over systems and horizons; lower is better).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sde_protocol import BASELINES, relative_summary  # noqa: E402


def summarize(paths) -> str:
    lines = ["| level | systems | model | energy distance | vs best baseline | "
             "per-system ratio (geo. mean) | systems won | marginal energy | CRPS-sum | "
             "correlation error |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(paths, key=lambda p: int(re.search(r"level(\d+)", str(p)).group(1))):
        level = int(re.search(r"level(\d+)", str(path)).group(1))
        res = pd.read_csv(path)
        means = res.groupby(["metric", "model"])["value"].mean().unstack("model")
        rel = relative_summary(res)
        ed = means.loc["energy_distance"]
        best = ed[[b for b in BASELINES if b in ed.index]].min()
        n_sys = res["system"].nunique()
        for model in ed.index:
            lines.append(
                f"| {level} | {n_sys} | {model} | {ed[model]:.4g} | "
                f"{100 * (ed[model] / best - 1):+.1f}% | "
                f"{rel.loc[model, 'geo_mean_ratio_to_best_baseline']:.3f} | "
                f"{100 * rel.loc[model, 'share_of_systems_better']:.0f}% | "
                f"{means.loc['marginal_energy', model]:.4g} | "
                f"{means.loc['crps_sum', model]:.4g} | "
                f"{means.loc['correlation_error', model]:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(summarize(sys.argv[1:]))
