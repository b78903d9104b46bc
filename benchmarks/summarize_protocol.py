"""Markdown tables of saved SDE-protocol results (``bench_sde_protocol.py`` CSVs).

Usage::

    python benchmarks/summarize_protocol.py benchmarks/output/*.csv

One row per benchmark (curriculum level or out-of-curriculum family) and model, with
the scale-free figures first: the mean over systems of the energy distance divided by
the oracle spread, its ratio to the best baseline with the 95% paired bootstrap
interval over systems and the share of systems won; the standardized energy distance,
variogram divergence and portfolio energy as ratios to the best baseline; the
correlation error; then the raw mean energy distance of seed 000 (dominated by the
largest systems) for comparison.  Lower is better everywhere.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sde_protocol import relative_summary  # noqa: E402


def _benchmark_name(path) -> str:
    stem = Path(path).stem
    match = re.search(r"level(\d+)", stem)
    return f"level {match.group(1)}" if match else stem.replace("family_", "")


def summarize(paths) -> str:
    lines = ["| benchmark | systems | model | ED / oracle spread | ratio [95% CI] | "
             "systems won | standardized ED ratio | variogram ratio | portfolio ratio | "
             "correlation error | raw ED |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(paths, key=str):
        res = pd.read_csv(path)
        rel = relative_summary(res)
        raw = res[res.metric == "energy_distance"].groupby("model")["value"].mean()
        n_sys = res["system"].nunique()
        ned = rel.loc["normalized_energy_distance"]
        for model in ned.index:
            row = ned.loc[model]
            cells = [f"{rel.loc[(m, model), 'ratio_of_means']:.3f}"
                     for m in ("standardized_energy_distance", "variogram_divergence",
                               "portfolio_energy")]
            lines.append(
                f"| {_benchmark_name(path)} | {n_sys} | {model} | {row['mean']:.4f} | "
                f"{row.ratio_of_means:.3f} [{row.ratio_low:.3f}, {row.ratio_high:.3f}] | "
                f"{100 * row.share_won:.0f}% | {' | '.join(cells)} | "
                f"{rel.loc[('correlation_error', model), 'mean']:.3f} | {raw[model]:.4g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(summarize(sys.argv[1:]))
