"""Quickstart: fit two forecasters, draw joint scenarios, score them.

Run: ``python examples/quickstart.py`` (a few seconds).
"""

import numpy as np

from jointdist import DCCGarchForecaster, HistoricalSimulation
from jointdist.datasets import make_regime_walk
from jointdist.metrics import crps_sum, energy_distance, energy_score, variogram_score


def main():
    data = make_regime_walk(n_timesteps=500, n_targets=4, horizon=20, n_futures=1000,
                            random_state=1)
    models = {
        "historical (filtered)": HistoricalSimulation("filtered", random_state=0),
        "DCC-GARCH": DCCGarchForecaster(random_state=0),
    }
    for name, model in models.items():
        model.fit(data.history)
        paths = model.predict_samples(horizon=20, n_samples=1000)  # (1000, 20, 4)
        # a portfolio of equal weights: its 95% value-at-risk over the horizon
        pnl = (paths[:, -1] - data.history[-1]).sum(axis=1)
        print(f"{name}:")
        print(f"  energy distance to the oracle futures {energy_distance(paths, data.futures):.3f}")
        print(f"  energy score on one realized path     {energy_score(data.realized, paths):.3f}")
        print(f"  variogram score                       {variogram_score(data.realized, paths):.3f}")
        print(f"  CRPS-sum                              {crps_sum(data.realized, paths):.3f}")
        print(f"  95% VaR of the equal-weight sum       {-np.quantile(pnl, 0.05):.2f}")
    true_pnl = (data.futures[:, -1] - data.history[-1]).sum(axis=1)
    print(f"oracle 95% VaR of the equal-weight sum  {-np.quantile(true_pnl, 0.05):.2f}")


if __name__ == "__main__":
    main()
