"""Evaluation of joint forecasts.

:mod:`jointdist.evaluation.oracle`
    Distribution recovery against oracle futures on synthetic systems whose true future
    law can be sampled (the protocol of seed 000, §4).
:mod:`jointdist.evaluation.skill`
    Scale-free relative skill: paired ratios to the best baseline over systems or
    origins, with bootstrap intervals and the share won.
:mod:`jointdist.evaluation.real_data`
    Rolling-origin benchmark on real data sets (:func:`jointdist.datasets.load_real`):
    scores, interval coverage and portfolio risk backtests, through joblib (loky, Dask,
    Ray).
:mod:`jointdist.evaluation.risk`
    Value-at-Risk and Expected Shortfall from samples; Kupiec's test.
"""

from jointdist.evaluation.oracle import (
    DECOMPOSITION_METRICS,
    DECOMPOSITION_VARIANTS,
    ORACLE_METRICS,
    SCALE_FREE_METRICS,
    correlation_error,
    error_decomposition,
    oracle_scores,
    oracle_spread,
    pairwise_correlations,
    portfolio_weights,
    run_oracle_benchmark,
    summarize_benchmark,
    summarize_decomposition,
    summarize_relative,
    variogram_divergence,
)
from jointdist.evaluation.real_data import (
    RealBenchmarkResult,
    rolling_origins,
    run_real_benchmark,
    score_forecast,
)
from jointdist.evaluation.risk import (
    expected_shortfall,
    kupiec_pof,
    value_at_risk,
    var_backtest,
)
from jointdist.evaluation.skill import relative_skill

__all__ = ["DECOMPOSITION_METRICS", "DECOMPOSITION_VARIANTS", "ORACLE_METRICS",
           "SCALE_FREE_METRICS", "correlation_error", "error_decomposition", "oracle_scores",
           "oracle_spread", "pairwise_correlations", "portfolio_weights", "relative_skill",
           "run_oracle_benchmark", "summarize_benchmark", "summarize_decomposition",
           "summarize_relative", "variogram_divergence",
           "RealBenchmarkResult", "expected_shortfall", "kupiec_pof", "rolling_origins",
           "run_real_benchmark", "score_forecast", "value_at_risk", "var_backtest"]
