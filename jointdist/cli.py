"""Command line of jointdist (``jointdist`` or ``python -m jointdist``).

``jointdist demo`` (the default) fits the historical-simulation forecasters on a built-in
regime-switching random walk whose true future law is known, and prints how close each
one's joint forecast is to it.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from jointdist.datasets.regime_walk import make_regime_walk
    from jointdist.models import HistoricalSimulation

    data = make_regime_walk(n_timesteps=args.history, n_targets=args.targets,
                            horizon=args.horizon, n_futures=args.samples,
                            random_state=args.seed)
    print(f"Built-in data: {args.targets} correlated random walks, {args.history} steps, "
          f"volatility regime at the end: {'turbulent' if data.regimes[-1] else 'calm'}.")
    print(f"Forecast: {args.samples} joint sample paths over {args.horizon} steps; scored "
          f"against {args.samples} oracle futures (exact law of the future).\n")
    models = {
        "HS iid": HistoricalSimulation("iid", random_state=args.seed),
        "HS stationary": HistoricalSimulation("stationary", random_state=args.seed),
        "HS filtered": HistoricalSimulation("filtered", random_state=args.seed),
    }
    header = (f"{'model':<16}{'energy dist.':>14}{'marginal en.':>14}{'CRPS-sum':>12}"
              f"{'ES (1 path)':>13}{'time [ms]':>11}")
    print(header)
    print("-" * len(header))
    rows = {}
    for name, model in models.items():
        start = time.perf_counter()
        samples = model.fit(data.history).predict_samples(args.horizon, args.samples)
        elapsed = 1e3 * (time.perf_counter() - start)
        rows[name] = samples
        _print_row(name, samples, data, elapsed)
    # reference: a second, independent oracle draw scores what a perfect model would
    reference = make_regime_walk(n_timesteps=args.history, n_targets=args.targets,
                                 horizon=args.horizon, n_futures=2 * args.samples,
                                 random_state=args.seed).futures[args.samples:]
    _print_row("oracle (ref.)", reference, data, float("nan"))
    print("\nenergy dist. / marginal en.: energy distance to the oracle futures, joint and "
          "per target (lower is better, 0 is perfect);\nCRPS-sum: expected CRPS of the "
          "sum over targets; ES (1 path): energy score against one realized future.")
    return 0


def _print_row(name, samples, data, elapsed_ms) -> None:
    from jointdist.metrics import crps_sum, energy_distance, energy_score, marginal_energy

    ed = energy_distance(samples, data.futures)
    me = marginal_energy(samples, data.futures)
    # expected CRPS-sum over the oracle futures: each oracle path plays the observation
    cs = float(np.mean(crps_sum(data.futures, samples[None], per_horizon=False)))
    es = energy_score(data.realized, samples)
    print(f"{name:<16}{ed:>14.3f}{me:>14.3f}{cs:>12.3f}{es:>13.3f}{elapsed_ms:>11.1f}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jointdist`` command."""
    parser = argparse.ArgumentParser(prog="jointdist", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit forecasters on built-in data and print scores")
    demo.add_argument("--targets", type=int, default=4, help="number of series (4)")
    demo.add_argument("--history", type=int, default=500, help="history length (500)")
    demo.add_argument("--horizon", type=int, default=20, help="forecast horizon (20)")
    demo.add_argument("--samples", type=int, default=1000, help="sample paths (1000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``jointdist`` command line; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo"] + argv  # the main job on built-in defaults
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
