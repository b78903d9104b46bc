"""Scale-free protocol scores split by the dynamics of the systems (curriculum levels).

A mean over the 200 systems of a level hides which dynamics a model gets wrong.  This
script reads a saved ``bench_sde_protocol.py`` result (its CSV and the JSON of settings
beside it), regenerates the systems' parameters (the histories and parameters of the
curriculum benchmark do not depend on the number of futures, so two futures per system
suffice) and reports, for every group of systems:

* sinusoidal forcing: some target has a periodic drift (``sin_amp != 0``) or none;
* jumps: some target has compound Poisson jumps (``jump_rate > 0``) or none;
* common jump arrivals (``jump_common``);
* the regime-switching type and the correlation type of the system,

the number of systems and each model's mean per-system score, its ratio to the best
baseline's mean in that group and, for the headline (ED / oracle spread), the share of
the model's total that the group's five worst systems supply.  Lower is better.

Run: ``python benchmarks/protocol_by_dynamics.py benchmarks/output/sde_protocol_level7.csv``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from jointdist.datasets import load_sde_benchmark

METRICS = ("normalized_energy_distance", "standardized_energy_distance",
           "correlation_error")
#: Short column names of the printed table.
SHORT = {"normalized_energy_distance": "ED/spread", "standardized_energy_distance": "std-ED",
         "correlation_error": "corr-err"}
BASELINES = ("hs", "dcc")


def system_dynamics(params: dict) -> pd.DataFrame:
    """One row per system: the groups it belongs to (from the benchmark's ``params``)."""
    def any_target(values):
        return (np.abs(np.asarray(values)) > 0).any(axis=1)

    return pd.DataFrame({
        "sinusoidal forcing": any_target(params["sin_amp"]),
        "jumps": any_target(params["jump_rate"]),
        "common jumps": np.asarray(params["jump_common"], dtype=bool),
        "regime type": np.asarray(params["regime_type"]),
        "correlation type": np.asarray(params["corr_type"]),
    }).rename_axis("system")


def by_dynamics(results: pd.DataFrame, dynamics: pd.DataFrame,
                metrics=METRICS, baselines=BASELINES) -> pd.DataFrame:
    """Per group of systems and model: mean score, ratio to the best baseline, top-5 share.

    Parameters
    ----------
    results : DataFrame
        Tidy rows of :func:`jointdist.evaluation.run_oracle_benchmark`.
    dynamics : DataFrame
        :func:`system_dynamics` of the same systems (index ``system``).
    metrics : sequence of str
        Metrics to report (each averaged over horizons per system first).
    baselines : sequence of str
        The baseline with the lowest mean in a group is that group's reference.

    Returns
    -------
    DataFrame
        Index ``(grouping, group, model)``; columns ``n_systems``, ``<metric>`` and
        ``<metric>_ratio`` for every metric, and ``top5_share`` of the first metric
        (groups as strings, so that a boolean and an integer grouping can share the
        index).
    """
    scores = (results[results["metric"].isin(metrics)]
              .groupby(["model", "system", "metric"])["value"].mean()
              .unstack("metric"))
    present = [b for b in baselines if b in scores.index.get_level_values("model")]
    rows = []
    for grouping in dynamics.columns:
        for group, members in dynamics.groupby(grouping).groups.items():
            part = scores[scores.index.get_level_values("system").isin(members)]
            means = part.groupby("model").mean()
            for model, row in means.iterrows():
                record = {"grouping": grouping, "group": str(group), "model": model,
                          "n_systems": int(part.loc[model].shape[0])}
                for metric in metrics:
                    if metric not in means.columns:
                        continue
                    best = means.loc[present, metric].min() if present else np.nan
                    record[metric] = row[metric]
                    record[f"{metric}_ratio"] = row[metric] / best
                first = part.loc[model, metrics[0]]
                record["top5_share"] = first.nlargest(5).sum() / first.sum()
                rows.append(record)
    return pd.DataFrame(rows).set_index(["grouping", "group", "model"]).sort_index()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a CSV of bench_sde_protocol.py (curriculum level)")
    args = parser.parse_args()
    path = Path(args.results)
    settings = json.loads(path.with_suffix(".json").read_text())
    if "level" not in settings:
        raise SystemExit(f"{path} is not a curriculum level; its systems have no "
                         "curriculum dynamics to split by.")
    bench = load_sde_benchmark(level=settings["level"], n_systems=settings["systems"],
                               n_targets=10, context_length=504, horizon=63, n_futures=2,
                               random_state=settings["seed"], device="cpu")
    table = by_dynamics(pd.read_csv(path), system_dynamics(bench.params))
    table.columns = [SHORT.get(c, SHORT.get(c.removesuffix("_ratio"), c)) + (
        " ratio" if c.endswith("_ratio") else "") for c in table.columns]
    print(f"level {settings['level']}, {settings['systems']} systems (seed "
          f"{settings['seed']}): mean per-system scores by dynamics; ratio: to the best "
          f"of {', '.join(BASELINES)} in the same group; top5_share: of the model's total "
          "ED / oracle spread in the group, from its five worst systems")
    with pd.option_context("display.width", 220, "display.max_columns", None,
                           "display.float_format", "{:.4g}".format):
        print(table)


if __name__ == "__main__":
    main()
