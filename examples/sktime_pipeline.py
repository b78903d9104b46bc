"""jointdist forecasters in sktime pipelines, and a backtest comparison of three models.

1. ``to_sktime`` turns a jointdist forecaster into an sktime forecaster; inside a
   ``TransformedTargetForecaster`` (log prices) it is evaluated by sktime's
   ``evaluate`` with an ``ExpandingWindowSplitter`` and probabilistic metrics.
2. ``predict_proba`` returns an skpro ``Empirical`` that keeps whole sample paths:
   its draws are joint scenarios, so a portfolio quantile can be read off them.
3. ``jointdist.model_selection.compare`` backtests historical simulation (i.i.d. and
   filtered) and DCC-GARCH with the joint scorers, drawing the samples once per origin,
   and plots the scores per step ahead.

Run ``python examples/sktime_pipeline.py`` (about 25 s on two cores); writes
``examples/output/sktime_compare.png``.
"""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sktime.forecasting.compose import TransformedTargetForecaster  # noqa: E402
from sktime.forecasting.model_evaluation import evaluate  # noqa: E402
from sktime.performance_metrics.forecasting.probabilistic import (  # noqa: E402
    CRPS,
    EmpiricalCoverage,
    PinballLoss,
)
from sktime.split import ExpandingWindowSplitter  # noqa: E402
from sktime.transformations.series.boxcox import LogTransformer  # noqa: E402

from jointdist import DCCGarchForecaster, HistoricalSimulation  # noqa: E402
from jointdist.datasets.regime_walk import make_regime_walk  # noqa: E402
from jointdist.model_selection import compare, rolling_origin_cv  # noqa: E402
from jointdist.sktime import to_sktime  # noqa: E402

OUT = Path(__file__).resolve().parent / "output" / "sktime_compare.png"


def load_prices(n_timesteps=400, seed=0) -> pd.DataFrame:
    """Three correlated prices with switching volatility, on a business-day index."""
    walk = make_regime_walk(n_timesteps, 3, start=200.0, random_state=seed).history
    if walk.min() <= 0:  # the log transform below needs positive prices
        raise RuntimeError("the simulated prices crossed zero; pick another seed")
    index = pd.bdate_range("2023-01-02", periods=n_timesteps)
    return pd.DataFrame(walk, index=index, columns=["asset_a", "asset_b", "asset_c"])


def main() -> Path:
    warnings.filterwarnings("ignore", message=".*remember_data", category=FutureWarning)
    prices = load_prices()
    horizon = list(range(1, 11))

    # 1. an sktime pipeline: bootstrap of the log returns, forecasts back in prices
    model = to_sktime(HistoricalSimulation(method="filtered"), n_samples=1000, random_state=0)
    pipeline = TransformedTargetForecaster([("log", LogTransformer()), ("model", model)])
    cv = ExpandingWindowSplitter(fh=horizon, initial_window=300, step_length=20)
    scores = evaluate(pipeline, cv, prices, scoring=[PinballLoss(), EmpiricalCoverage()],
                      error_score="raise")
    print("sktime evaluate, log-price pipeline (5 origins):")
    print(scores[["cutoff", "test_PinballLoss", "test_EmpiricalCoverage"]].to_string(index=False))
    crps = evaluate(model, cv, prices, scoring=CRPS(multivariate=True), error_score="raise")
    print(f"mean CRPS (sum over assets) of the adapter alone: {crps['test_CRPS'].mean():.3f}")

    # 2. joint scenarios from predict_proba, and a quantity only joint paths give
    pipeline.fit(prices.iloc[:-10], fh=horizon)
    print("\n90% intervals of the first two steps:")
    print(pipeline.predict_interval(coverage=0.9).head(2).round(2).to_string())
    model.fit(prices.iloc[:-10], fh=horizon)
    dist = model.predict_proba()  # skpro Empirical, time_indep=False: whole paths
    scenarios = dist.sample(2000)  # index (draw, time); one draw = one joint path
    portfolio = scenarios.sum(axis=1).unstack()  # (2000 draws, 10 steps)
    worst = portfolio.min(axis=1) - prices.iloc[-11].sum()
    print(f"5% quantile of the portfolio's worst drawdown over 10 days: "
          f"{np.quantile(worst, 0.05):.2f}")

    # 3. backtest comparison with the joint scorers, samples drawn once per origin
    result = compare(
        {"HS i.i.d.": HistoricalSimulation(),
         "HS filtered": HistoricalSimulation(method="filtered"),
         "DCC-GARCH": DCCGarchForecaster()},
        prices, cv=rolling_origin_cv(10, n_origins=8),
        scoring=["energy_score", "variogram_score", "crps_sum_normalized"],
        n_samples=500, random_state=0, n_jobs=2)
    print("\nbacktest over 8 origins (scores are negated losses: greater is better):")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(result.summary().round(3))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig = result.plot()
    fig.savefig(OUT, dpi=110)
    print(f"\nwrote {OUT}")
    return OUT


if __name__ == "__main__":
    main()
