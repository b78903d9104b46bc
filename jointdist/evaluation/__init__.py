"""Evaluation of joint forecasts.

:mod:`jointdist.evaluation.oracle`
    Distribution recovery against oracle futures on synthetic systems whose true future
    law can be sampled (the protocol of seed 000, §4).
"""

from jointdist.evaluation.oracle import (
    ORACLE_METRICS,
    correlation_error,
    oracle_scores,
    oracle_spread,
    pairwise_correlations,
    run_oracle_benchmark,
    summarize_benchmark,
)

__all__ = ["ORACLE_METRICS", "correlation_error", "oracle_scores", "oracle_spread",
           "pairwise_correlations", "run_oracle_benchmark", "summarize_benchmark"]
