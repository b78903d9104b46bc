"""Benchmarks of DiffusionCopulaForecaster: speed and quality (old code side by side), tails.

Studies (issue 16):

``speed`` (default)
    ``fit`` on T = 504 rows of N = 10 targets and ``predict_samples(63, 1000)`` (the
    sizes of the JointFM evaluation protocol, REFERENCE section 1), default settings,
    against the budgets fit <= 30 s and predict <= 3 s on 2 CPU cores.  The same
    measurement runs on the code of ``--old-ref`` (a git commit of this repository,
    by default ``REFERENCE_COMMIT``: the code before the carried LSTM state, extracted
    with ``git archive`` into a temporary directory; ``--old-ref none`` times the
    current code only) or of ``--old PATH`` (a directory holding an older
    ``jointdist`` package); every repeat is a fresh subprocess and old and new repeats
    alternate, so that a changing load on a shared machine hits both alike.
    Wall-clock and CPU seconds are reported (medians, the ratio old / new, all
    repeats) with the load average before and after.
``tails``
    Strong lower-tail dependence: i.i.d. returns whose copula is a Clayton copula
    (theta = 2, lambda_L = 0.71, no upper-tail dependence) with Student-t(4) marginals,
    N = 5.  The forecaster's marginals are fitted once and joined by the diffusion copula
    (identity and full-covariance OU process; all 20 ODE times, the fast preset's 8,
    and the fast preset's sampler before 2026-12-01, 11 times in ``t``), the
    flow-matching copula, a Gaussian and a Student-t copula, each
    fitted to the same in-sample PIT values; and DCC-GARCH
    (Student-t), fitted on T_fit steps; one-step forecasts (the data are i.i.d., so the
    one-step predictive from the end of the history is the forecast of every test step)
    are compared with the truth on lambda(0.05), P(k simultaneous 5 % lower-tail events)
    and the CRPS on joint-extreme test steps.
``quality``
    Held-out forecast scores of the same two code versions as ``speed`` (``--old-ref``
    or ``--old``), same seeds: fit on T = 504 levels of GARCH-t random walks (as in
    ``speed``) and of random walks with a Student-t(4) copula, 1000 paths of the next
    63 steps, CRPS (levels, increments), energy scores (whole paths, increment
    vectors) and the marginal NLL of the held-out increments given the observed past
    (``--seeds`` data sets of each kind, a fresh subprocess each).
``langevin``
    The bias of the annealed Langevin sampler with *exact* Gaussian-copula scores
    (rho = 0.7): Kendall's tau against the number of steps and the step size.
``ode``
    The bias of the probability-flow ODE sampler (``sampler="ode"``, K = 20 training
    times) with *exact* Gaussian-copula scores, on all K times and on
    ``sampling_times`` of them (the ``"fast"`` preset uses 8), in ``a = exp(-2t)`` (the
    package's own ``_ode``) and in ``t`` (``ode_in_time``, the scheme before
    2026-12-01): the sampler is then a linear map of its starting noise, so Kendall's
    tau of its output is computed exactly (no Monte Carlo error).

Run ``python benchmarks/bench_diffusion_copula.py [speed|quality|tails|langevin|ode]
[options]``;
``speed --n-jobs 1`` times the sampling on one thread.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

import numpy as np

FIT_BUDGET_S = 30.0
#: The code that ``speed`` compares with by default: the last commit before issue 16's
#: carried LSTM state and sampling on interpolated Student-t tails (2026-12-01).
REFERENCE_COMMIT = "9105a62"
PREDICT_BUDGET_S = 3.0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_levels(n_rows: int = 504, n_targets: int = 10, seed: int = 0) -> np.ndarray:
    """Correlated (equicorrelation 0.5) GARCH(1,1) random walks with Student-t(5)
    shocks, so that both the marginals and the copula have something to learn."""
    rng = np.random.default_rng(seed)
    corr = np.full((n_targets, n_targets), 0.5) + 0.5 * np.eye(n_targets)
    chol = np.linalg.cholesky(corr)
    shocks = (rng.standard_normal((n_rows, n_targets)) @ chol.T
              / np.sqrt(rng.chisquare(5, size=(n_rows, 1)) / 5) * np.sqrt(3 / 5))
    sigma2 = np.ones(n_targets)
    out = np.empty((n_rows, n_targets))
    for t in range(n_rows):
        out[t] = np.sqrt(sigma2) * shocks[t]
        sigma2 = 0.05 + 0.10 * out[t] ** 2 + 0.85 * sigma2
    return 100 + np.cumsum(out, axis=0)


# ---------------------------------------------------------------------------- speed
def _speed_worker(args) -> int:
    """One repeat in this process (the code under test is whatever imports here)."""
    import torch

    torch.set_num_threads(1)
    from jointdist.models.diffusion_copula import DiffusionCopulaForecaster

    y = make_levels(args.n_rows, args.n_targets)
    model = DiffusionCopulaForecaster(copula=args.copula, random_state=args.seed)
    if args.n_jobs is not None:
        model.set_params(n_jobs=args.n_jobs)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(y)
    fit = (time.perf_counter() - wall, time.process_time() - cpu)
    model.predict_samples(2, 10)  # warm-up of the sampling path
    wall, cpu = time.perf_counter(), time.process_time()
    model.predict_samples(63, 1000, random_state=args.seed)
    pred = (time.perf_counter() - wall, time.process_time() - cpu)
    res = {"fit_s": fit[0], "fit_cpu_s": fit[1], "predict_s": pred[0],
           "predict_cpu_s": pred[1], "marginal_epochs": model.n_marginal_epochs_,
           "copula_steps": getattr(model.copula_, "n_steps_", None)}
    with open(args.worker_json, "w") as fh:
        json.dump(res, fh)
    return 0


def _run_speed_repeat(code_path, args, seed):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=code_path)
    cmd = [sys.executable, os.path.abspath(__file__), "speed", "--worker-json", out,
           "--seed", str(seed), "--n-rows", str(args.n_rows), "--n-targets",
           str(args.n_targets), "--copula", args.copula]
    if args.n_jobs is not None:
        cmd += ["--n-jobs", str(args.n_jobs)]
    subprocess.run(cmd, env=env, check=True, cwd=tempfile.gettempdir())
    with open(out) as fh:
        res = json.load(fh)
    os.unlink(out)
    return res


def _extract_ref(ref: str) -> str:
    """``git archive`` the ``jointdist`` package of commit ``ref`` into a temporary
    directory (no stash, no checkout: the working tree is not touched)."""
    out = tempfile.mkdtemp(prefix="jointdist_ref_")
    archive = subprocess.run(["git", "-C", REPO, "archive", ref, "jointdist"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", out], input=archive, check=True)
    return out


def _codes(args):
    """(label, path) of the code versions to run: ``--old`` or ``--old-ref``, then new."""
    codes = [("new", REPO)]
    if args.old:
        if not os.path.isdir(os.path.join(args.old, "jointdist")):
            raise SystemExit(f"--old {args.old!r} holds no jointdist package.")
        codes.insert(0, ("old", args.old))
    elif args.old_ref.lower() != "none":
        codes.insert(0, (f"old ({args.old_ref})", _extract_ref(args.old_ref)))
    return codes


def speed(args) -> int:
    if args.worker_json:
        return _speed_worker(args)
    codes = _codes(args)
    load_before = os.getloadavg()[0]
    runs = {label: [] for label, _ in codes}
    for rep in range(args.repeats):
        for label, path in codes:
            res = _run_speed_repeat(path, args, seed=rep)
            runs[label].append(res)
            print(f"  repeat {rep} {label}: fit {res['fit_s']:.1f} s (cpu "
                  f"{res['fit_cpu_s']:.1f}), predict {res['predict_s']:.1f} s (cpu "
                  f"{res['predict_cpu_s']:.1f})", flush=True)
    jobs = "" if args.n_jobs is None else f", n_jobs={args.n_jobs}"
    print(f"\nDiffusionCopulaForecaster(copula={args.copula!r}) defaults{jobs}, "
          f"T={args.n_rows}, N={args.n_targets}, {args.repeats} repeats, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after, "
          f"{date.today()}")
    keys = [("fit_s", "fit wall s", FIT_BUDGET_S), ("fit_cpu_s", "fit CPU s", None),
            ("predict_s", "predict_samples(63, 1000) wall s", PREDICT_BUDGET_S),
            ("predict_cpu_s", "predict_samples(63, 1000) CPU s", None)]
    header = "| | " + " | ".join(label for label, _ in codes) + " | budget |"
    print(header)
    print("|---" * (len(codes) + 2) + "|")
    summary = {}
    for key, name, budget in keys:
        meds = [statistics.median(r[key] for r in runs[label]) for label, _ in codes]
        summary[key] = dict(zip(["old", "new"][-len(codes):], meds))
        ratio = f" (old / new {meds[0] / meds[-1]:.2f})" if len(meds) == 2 else ""
        cells = " | ".join(f"{m:.1f}" for m in meds)
        print(f"| {name} (median) | {cells}{ratio} | {budget if budget else ''} |")
    for label, _ in codes:
        print(f"  {label} all: " + json.dumps(runs[label]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"runs": runs, "medians": summary}, fh, indent=2)
    if args.check and (summary["fit_s"]["new"] > FIT_BUDGET_S
                       or summary["predict_s"]["new"] > PREDICT_BUDGET_S):
        print("budget exceeded", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------- quality
def t_copula_levels(n_rows: int = 504, n_targets: int = 10, seed: int = 0) -> np.ndarray:
    """Random walks of i.i.d. increments with a Student-t(4) copula (equicorrelation
    0.6) and t(4) marginals scaled by sqrt(1/2)."""
    from scipy import special

    rng = np.random.default_rng(seed)
    corr = np.full((n_targets, n_targets), 0.6) + 0.4 * np.eye(n_targets)
    z = (rng.standard_normal((n_rows, n_targets)) @ np.linalg.cholesky(corr).T
         / np.sqrt(rng.chisquare(4, size=(n_rows, 1)) / 4))
    return 100 + np.cumsum(special.stdtrit(4, special.stdtr(4, z)) * np.sqrt(0.5), axis=0)


def _crps(samples, y):
    """CRPS of the ensemble ``samples`` (S, ...) at ``y`` (...), exact for the ensemble."""
    s = np.sort(samples, axis=0)
    n = s.shape[0]
    rank = np.arange(1, n + 1).reshape((-1,) + (1,) * (s.ndim - 1))
    return np.abs(s - y).mean(0) - ((2 * rank - n - 1) * s).sum(0) / (n * n)


def _energy(samples, y):
    """Energy score of ``samples`` (S, d) at ``y`` (d,) (second term from S/2 pairs)."""
    half = samples.shape[0] // 2
    return (np.linalg.norm(samples - y, axis=1).mean()
            - 0.5 * np.linalg.norm(samples[:half] - samples[half:2 * half], axis=1).mean())


def _heldout_nll(model, increments, n_fit_inc):
    """Marginal NLL per value (units of the data) of the increments after the first
    ``n_fit_inc``, given the observed past, in the model's own reading."""
    from jointdist.models.diffusion_copula import marginals

    cols, k = model.modelled_targets_, model.window
    z = (increments[:, cols] - model.center_[cols]) / model.scale_[cols]
    z = z[n_fit_inc - k:]
    windows, targets = marginals.build_windows(z, k)
    if getattr(model.marginal_config_, "carry_steps", None):
        lp = marginals.carried_mixtures(model.marginal_model_, z, "cpu").logpdf(targets)
    else:
        m, n, _ = windows.shape
        mix = marginals.mdn_mixtures(model.marginal_model_, windows.reshape(m * n, k),
                                     np.tile(np.arange(n), m), "cpu")
        lp = mix.logpdf(targets.reshape(-1)).reshape(m, n)
    return float(-(lp - np.log(model.scale_[cols])).mean())


def _quality_worker(args) -> int:
    """One data set in this process: fit, forecast, score (the code under test is
    whatever imports here)."""
    import torch

    torch.set_num_threads(1)
    from jointdist.models.diffusion_copula import DiffusionCopulaForecaster

    horizon, n_paths, n = 63, 1000, args.n_targets
    if args.kind == "garch":
        y = make_levels(args.n_rows + horizon, n, seed=100 + args.seed)
    else:
        y = t_copula_levels(args.n_rows + horizon, n, seed=200 + args.seed)
    train, test = y[:args.n_rows], y[args.n_rows:]
    model = DiffusionCopulaForecaster(random_state=args.seed).fit(train)
    paths = model.predict_samples(horizon, n_paths, random_state=args.seed)
    start = np.broadcast_to(train[-1], (n_paths, 1, n))
    inc_s = np.diff(np.concatenate([start, paths], 1), axis=1)
    inc_y = np.diff(np.concatenate([train[-1:], test]), axis=0)
    res = {"crps_levels": float(_crps(paths, test).mean()),
           "crps_increments": float(_crps(inc_s, inc_y).mean()),
           "energy_paths": float(_energy(paths.reshape(n_paths, -1), test.reshape(-1))),
           "energy_increments": float(np.mean([_energy(inc_s[:, h], inc_y[h])
                                               for h in range(horizon)])),
           "heldout_nll": _heldout_nll(model, np.diff(y, axis=0), args.n_rows - 1)}
    with open(args.worker_json, "w") as fh:
        json.dump(res, fh)
    return 0


def quality(args) -> int:
    """Held-out forecast scores of the current code and of ``--old-ref`` / ``--old``."""
    if args.worker_json:
        return _quality_worker(args)
    codes = _codes(args)
    keys = ["crps_levels", "crps_increments", "energy_paths", "energy_increments",
            "heldout_nll"]
    rows = []
    for kind in ("garch", "t-copula"):
        for seed in range(args.seeds):
            for label, path in codes:
                with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
                    out = fh.name
                env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
                subprocess.run([sys.executable, os.path.abspath(__file__), "quality",
                                "--worker-json", out, "--kind", kind, "--seed", str(seed),
                                "--n-rows", str(args.n_rows), "--n-targets",
                                str(args.n_targets)],
                               env=env, check=True, cwd=tempfile.gettempdir())
                with open(out) as fh:
                    rows.append({"kind": kind, "seed": seed, "code": label, **json.load(fh)})
                os.unlink(out)
                print(json.dumps(rows[-1]), flush=True)
    print(f"\nheld-out scores, T={args.n_rows}, N={args.n_targets}, 63 steps, 1000 paths, "
          f"{args.seeds} data sets per kind, {date.today()} (lower is better)")
    print("| data | score | " + " | ".join(label for label, _ in codes) + " |")
    print("|---|---|" + "---|" * len(codes))
    for kind in ("garch", "t-copula"):
        for key in keys:
            cells = [np.mean([r[key] for r in rows if r["kind"] == kind and r["code"] == label])
                     for label, _ in codes]
            print(f"| {kind} | {key} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


# ---------------------------------------------------------------------------- tails
def clayton_uniforms(n, d, theta, rng):
    """Clayton copula by Marshall-Olkin: ``U_i = (1 + E_i / V)^(-1 / theta)``."""
    v = rng.gamma(1.0 / theta, 1.0, size=(n, 1))
    e = rng.exponential(size=(n, d))
    return (1.0 + e / v) ** (-1.0 / theta)


def tails(args) -> int:
    import torch
    from scipy import special

    torch.set_num_threads(1)
    from jointdist.models.dcc_garch import DCCGarchForecaster
    from jointdist.models.diffusion_copula.forecaster import PRESETS
    from jointdist.models.diffusion_copula import (
        ClassificationDiffusionCopula,
        DiffusionCopulaForecaster,
        FlowMatchingCopula,
        GaussianCopula,
        StudentTCopula,
        crps_on_joint_extremes,
        prob_k_simultaneous_tail_events,
        tail_dependence,
        threshold_weighted_crps,
    )

    d, theta, q, nu = args.n_targets, 2.0, 0.05, 4
    rows = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        u = clayton_uniforms(args.t_fit + args.t_test + 1, d, theta, rng)
        returns = 0.01 * special.stdtrit(nu, u)  # t4 marginals
        train, test = returns[: args.t_fit], returns[args.t_fit:args.t_fit + args.t_test]
        truth_u = clayton_uniforms(400_000, d, theta, np.random.default_rng(10_000 + seed))
        truth_x = 0.01 * special.stdtrit(nu, truth_u)
        # joint-extreme steps judged by the true 5 % quantiles
        lines = (np.full(d, 0.01 * special.stdtrit(nu, q)),
                 np.full(d, 0.01 * special.stdtrit(nu, 1 - q)))

        # the proper tail score: twCRPS of the equally weighted portfolio below its
        # true 5 % quantile, averaged over all test steps
        port_line = float(np.quantile(truth_x.mean(axis=1), q))

        def metrics(name, x, secs):
            lam = tail_dependence(x, q)[~np.eye(d, dtype=bool)].mean()
            pk = prob_k_simultaneous_tail_events(x, q)
            crps = crps_on_joint_extremes(x, test, q, 3, lines)
            tw = threshold_weighted_crps(x.mean(axis=1), test.mean(axis=1), port_line)
            rows.append({"seed": seed, "model": name, "lambda_0.05": float(lam),
                         **{f"P(k>={k})": float(pk[k]) for k in range(2, d + 1)},
                         "crps_joint_portfolio": crps["crps_portfolio"],
                         "crps_joint_mean": crps["crps_mean"],
                         "twcrps_portfolio": float(tw.mean()),
                         "n_joint_steps": crps["n_steps"], "seconds": secs})
            print(json.dumps(rows[-1]), flush=True)

        metrics("truth", truth_x, 0.0)
        # one marginal fit; each copula is fitted to the same in-sample PIT values
        # (what DiffusionCopulaForecaster(copula=...) does after the same marginal fit)
        start = time.perf_counter()
        model = DiffusionCopulaForecaster(copula="gaussian", returns=None,
                                          random_state=seed).fit(train)
        marginal_s = time.perf_counter() - start
        start = time.perf_counter()
        cdc = ClassificationDiffusionCopula(random_state=seed).fit(model.pit_)
        cdc_s = time.perf_counter() - start
        fast_times = PRESETS["fast"]["copula"]["sampling_times"]
        # (name, copula, seconds of its fit if it is fitted already): the sampler variants
        # share the one CDC fit (the sampler's settings do not enter the training)
        copulas = [("diffusion", cdc, cdc_s),
                   (f"diffusion, ODE on {fast_times} times (fast preset)",
                    copy.deepcopy(cdc).set_params(sampling_times=fast_times), cdc_s),
                   ("diffusion, ODE in t on 11 times (fast preset before 2026-12-01)",
                    _time_ode_copula(cdc, sampling_times=11), cdc_s),
                   ("diffusion, full OU",
                    ClassificationDiffusionCopula(covariance="full", random_state=seed),
                    None),
                   ("flow matching", FlowMatchingCopula(random_state=seed), None),
                   ("Gaussian copula", GaussianCopula(), None),
                   ("Student-t copula", StudentTCopula(), None)]
        for name, cop, fit_s in copulas:
            start = time.perf_counter()
            model.copula_ = cop if fit_s is not None else cop.fit(model.pit_)
            x = model.predict_samples(1, args.n_samples, random_state=seed)[:, 0]
            metrics(name, x, marginal_s + (fit_s or 0.0) + time.perf_counter() - start)
        start = time.perf_counter()
        dcc = DCCGarchForecaster(returns=None, dist="t", random_state=seed).fit(train)
        x = dcc.predict_samples(1, args.n_samples, random_state=seed)[:, 0]
        metrics("DCC-GARCH (t)", x, time.perf_counter() - start)
    keys = ["lambda_0.05", "P(k>=2)", f"P(k>={min(3, d)})", f"P(k>={d})",
            "crps_joint_portfolio", "crps_joint_mean", "twcrps_portfolio"]
    names = list(dict.fromkeys(r["model"] for r in rows))
    print(f"\nClayton(theta={theta}) copula, t{nu} marginals, N={d}, T_fit={args.t_fit}, "
          f"{args.t_test} test steps, {args.seeds} seed(s), {args.n_samples} samples, "
          f"{date.today()}: means over seeds")
    print("| model | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name in names:
        sel = [r for r in rows if r["model"] == name]
        cells = []
        for k in keys:
            v = np.mean([r[k] for r in sel])
            cells.append(f"{v:.4f}" if "crps" not in k else f"{1e3 * v:.4f}e-3")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


# ---------------------------------------------------------------------------- langevin
def langevin(args) -> int:
    """Annealed Langevin with the exact scores of a Gaussian copula (rho = 0.7).

    Mirrors ``ClassificationDiffusionCopula._langevin`` (K = 20 times evenly spaced in
    ``e^{-2t}`` on [0, 3], ``eta_s = step * max(sigma_s^2, sigma_1^2)``) with the score
    ``-(a_s Sigma + (1 - a_s) I)^{-1} x`` of the noised Gaussian in place of the network.
    """
    from scipy import stats

    rho = 0.7
    sigma = np.array([[1.0, rho], [rho, 1.0]])
    truth = 2 / np.pi * math.asin(rho)
    a = np.linspace(1.0, math.exp(-6.0), 20)

    def run(n_steps, step, final_steps=0, n=20_000, seed=0, mala=False):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, 2))
        for s in range(19, -1, -1):
            prec = np.linalg.inv(a[s] * sigma + (1 - a[s]) * np.eye(2))
            eta = step * max(1 - a[s], 1 - a[1])
            for _ in range(n_steps + (final_steps if s == 0 else 0)):
                prop = x - eta * x @ prec + math.sqrt(2 * eta) * rng.standard_normal(x.shape)
                if mala and s == 0:  # Metropolis adjustment with the exact density
                    def logp(v):
                        return -0.5 * np.einsum("ni,ij,nj->n", v, prec, v)

                    def logq(to, frm):
                        r = to - frm + eta * frm @ prec
                        return -(r**2).sum(1) / (4 * eta)

                    ratio = logp(prop) - logp(x) + logq(x, prop) - logq(prop, x)
                    keep = np.log(rng.uniform(size=n)) < ratio
                    prop = np.where(keep[:, None], prop, x)
                x = prop
        return stats.kendalltau(x[:2000, 0], x[:2000, 1])[0], np.corrcoef(x.T)[0, 1]

    print(f"exact Gaussian scores, rho = {rho}, true tau {truth:.3f} (tau from 2000 "
          "draws, sd about 0.01; correlation from 20,000)")
    print("| steps per time | step size | extra steps at t_0 | Metropolis at t_0 | tau "
          "| correlation |")
    print("|---|---|---|---|---|---|")
    for n_steps, step, final, mala in [(10, 0.5, 0, False), (10, 0.1, 0, False),
                                       (30, 0.5, 0, False), (100, 0.5, 0, False),
                                       (10, 0.5, 100, False), (10, 0.5, 0, True),
                                       (10, 0.5, 100, True)]:
        tau, corr = run(n_steps, step, final, mala=mala)
        print(f"| {n_steps} | {step} | {final} | {'yes' if mala else 'no'} | {tau:.3f} "
              f"| {corr:.3f} |")
    return 0


# ---------------------------------------------------------------------------- ode
class _ExactGaussianRatio:
    """Stands in for the CDC classifier: the exact ``F_s(x) = log p_s(x) - log
    p_{K-1}(x)`` of a Gaussian copula, ``p_s = N(0, a_s Sigma + (1 - a_s) I)`` -- what a
    perfect classifier learns (its ``F_{K-1}`` is zero by construction, and the sampler
    takes ``p_{K-1}`` for ``N(0, I)``)."""

    def __init__(self, sigma, alphas):
        import torch

        eye = np.eye(len(sigma))
        last = np.linalg.inv(alphas[-1] * sigma + (1 - alphas[-1]) * eye)
        self.quad = [torch.as_tensor(np.linalg.inv(a * sigma + (1 - a) * eye) - last,
                                     dtype=torch.float64) for a in alphas]

    def log_ratio(self, x, s):
        return -0.5 * ((x @ self.quad[s]) * x).sum(1)


def ode_in_time(cdc, x):
    """The ODE sampler before 2026-12-01: the same PEC trapezoidal scheme in ``t``
    (slope ``dx/dt = -Sigma grad F_t``, the first one at ``t_{K-1}``), for comparison."""
    t = cdc.times_
    idx = cdc._ode_indices()
    slope = cdc._drift(x, idx[0])
    for s, s_next in zip(idx[:-1], idx[1:]):
        h = float(t[s_next] - t[s])
        new_slope = cdc._drift(x + h * slope, s_next)
        x = (x + 0.5 * h * (slope + new_slope)).clamp(-8.0, 8.0)
        slope = new_slope
    return x


def _time_ode_copula(fitted, **params):
    """A copy of the fitted :class:`ClassificationDiffusionCopula` ``fitted`` (its
    classifier included) that samples with :func:`ode_in_time`, with ``params`` set."""

    class TimeODECopula(type(fitted)):
        def _ode(self, x):
            return ode_in_time(self, x)

    out = TimeODECopula(**fitted.get_params())
    out.__dict__.update(copy.deepcopy(fitted.__dict__))
    return out.set_params(**params)


def ode_study(args) -> int:
    import torch

    from jointdist.models.diffusion_copula import ClassificationDiffusionCopula

    torch.set_num_threads(1)
    cases = [("2-d, rho = 0.3", 2, 0.3), ("2-d, rho = 0.7", 2, 0.7), ("2-d, rho = 0.9", 2, 0.9),
             ("2-d, rho = -0.5", 2, -0.5), ("5-d, equicorrelation 0.8", 5, 0.8),
             ("10-d, equicorrelation 0.5", 10, 0.5)]
    counts = [None, 11, 8, 6]
    print("probability-flow ODE (PEC trapezoidal), K = 20 times on [0, 3], exact Gaussian "
          "log-ratios F_s - F_{K-1}: Kendall's tau of the output minus the truth (exact, "
          "float64); each cell: steps in t (the sampler before 2026-12-01) / steps in "
          "a = exp(-2t) (now)")
    print("| copula | true tau | " + " | ".join(f"{m or 20} times" for m in counts) + " |")
    print("|---" * (len(counts) + 2) + "|")
    biases = {m: [[], []] for m in counts}
    for name, d, rho in cases:
        sigma = np.full((d, d), rho) + (1 - rho) * np.eye(d)
        cdc = ClassificationDiffusionCopula(n_times=20, t_max=3.0)
        cdc.alphas_ = np.linspace(1.0, math.exp(-6.0), 20)
        cdc.times_ = -0.5 * np.log(cdc.alphas_)
        cdc.n_dims_ = d
        cdc.model_ = _ExactGaussianRatio(sigma, cdc.alphas_)
        cdc._set_covariance(np.eye(d), "cpu")
        truth = 2 / np.pi * math.asin(rho)
        cells = []
        for m in counts:
            cdc.sampling_times = m
            pair = []
            for j, sampler in enumerate((lambda z: ode_in_time(cdc, z), cdc._ode)):
                # the sampler is linear (no clamping at |x| <= 1): x_0 = x_T A, Cov = A'A
                a = sampler(torch.eye(d, dtype=torch.float64) * 1e-3).numpy() * 1e3
                cov = a.T @ a
                corr = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])
                bias = 2 / np.pi * math.asin(corr) - truth
                biases[m][j].append(abs(bias))
                pair.append(f"{bias:+.4f}")
            cells.append(" / ".join(pair))
        print(f"| {name} | {truth:.4f} | " + " | ".join(cells) + " |")
    print("| mean absolute bias | | " + " | ".join(
        f"{np.mean(biases[m][0]):.4f} / {np.mean(biases[m][1]):.4f}" for m in counts) + " |")
    print("| largest absolute bias | | " + " | ".join(
        f"{np.max(biases[m][0]):.4f} / {np.max(biases[m][1]):.4f}" for m in counts) + " |")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", nargs="?", default="speed",
                        choices=["speed", "quality", "tails", "langevin", "ode"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-targets", type=int, default=None)
    parser.add_argument("--n-rows", type=int, default=504)
    parser.add_argument("--copula", choices=["diffusion", "gaussian"], default="diffusion")
    parser.add_argument("--old", default=None,
                        help="directory with an older jointdist package to time alongside")
    parser.add_argument("--old-ref", default=REFERENCE_COMMIT,
                        help="speed: git commit whose jointdist to time alongside "
                             f"(default {REFERENCE_COMMIT}, today's code before issue 16's "
                             "carried LSTM state; 'none': the current code only)")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a median exceeds its budget")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="speed: sampling threads (default: the model's, 2)")
    parser.add_argument("--worker-json", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", type=int, default=2,
                        help="tails: data sets; quality: data sets per kind")
    parser.add_argument("--kind", default="garch", help=argparse.SUPPRESS)
    parser.add_argument("--t-fit", type=int, default=1000, help="tails: training steps")
    parser.add_argument("--t-test", type=int, default=2000, help="tails: test steps")
    parser.add_argument("--n-samples", type=int, default=20_000, help="tails: samples")
    args = parser.parse_args(argv)
    if args.n_targets is None:
        args.n_targets = 5 if args.study == "tails" else 10
    return {"speed": speed, "quality": quality, "tails": tails, "langevin": langevin,
            "ode": ode_study}[args.study](args)


if __name__ == "__main__":
    sys.exit(main())
