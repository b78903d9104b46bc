"""DiffusionCopulaForecaster: MDN marginals joined by a classification-diffusion copula."""

from __future__ import annotations

import numbers
import threading
import warnings
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

import numpy as np
from sklearn.base import clone

from jointdist.base import BaseJointForecaster, check_positive_int, check_target_array
from jointdist.models.diffusion_copula._torch_context import (
    resolve_device,
    seed_from,
    torch_threads,
)
from jointdist.models.diffusion_copula.copula import (
    ClassificationDiffusionCopula,
    FlowMatchingCopula,
    GaussianCopula,
    StudentTCopula,
)
from jointdist.models.diffusion_copula.marginals import (
    INPUT_CLIP,
    MDNConfig,
    _series,
    build_windows,
    carried_mixtures,
    fit_mdn,
    mdn_mixtures,
    raw_to_mixture,
)

__all__ = ["DiffusionCopulaForecaster", "PRESETS", "MAX_SAMPLE_SIZE", "WARN_SAMPLE_SIZE"]

_COPULAS = ("diffusion", "flow-matching", "gaussian", "student-t")
#: Values of the parameters left at None, per ``preset``.  ``"fast"`` is sized for two
#: CPU cores (a fit of T = 504, N = 10 in 15-17 CPU seconds, 1000 paths of 63 steps in
#: 5-6, measured 2026-12-01 on a loaded shared machine, where the code before the
#: carried state took 18-23 and 9-10; its LSTM state is carried over groups of 16
#: steps, its copula samples the ODE on 8 of its 20 training times); ``"paper"``
#: re-reads every window (the paper's order-k Markov LSTM) and has the architecture
#: and copula settings of seed 002 and its authors' code (LSTM 128 x 5; CDC with about 10 times,
#: Adam 5e-5, batch 1024, Langevin sampling), meant for a GPU: on two CPU cores one fit
#: takes many minutes.
PRESETS = {
    "fast": {"lstm_hidden": 16, "lstm_layers": 1, "carry_steps": 16,
             "copula": {"sampling_times": 8}},
    "paper": {"lstm_hidden": 128, "lstm_layers": 5, "carry_steps": None,
              "copula": {"n_times": 10, "hidden_size": 128, "learning_rate": 5e-5,
                         "batch_size": 1024, "max_steps": 20000, "eval_every": 500,
                         "sampler": "langevin"}},
}
#: ``predict_samples`` refuses above this many sampled values (n_samples * horizon *
#: n_targets, 0.8 GB of float64 output) unless ``max_sample_size`` is raised.
MAX_SAMPLE_SIZE = 10**8
#: ... and warns above this many (a minute or two of sampling on two cores).
WARN_SAMPLE_SIZE = 10**7
#: Sample paths are drawn in blocks of this many paths, each block with its own seed,
#: so that results do not depend on ``n_jobs`` (500: 7 % less CPU time than 250 for
#: 1000 paths, one block per thread of ``n_jobs=2``; 2026-12-01).
_BLOCK_PATHS = 500
#: Tolerance of the inverse marginal CDF while sampling: the tail probability of each
#: sampled value is within this relative error of its copula draw under the interpolated
#: Student-t tails of :meth:`NLTMixture.icdf` (``exact=False``), whose own relative error
#: is 6e-7 (median) to 2e-5 (at most, ``mixture.APPROX_T_TAIL_ERROR``, in tails below
#: 1e-7): together at most 3.5e-5 relative, so a CDF error below 1e-5 in absolute
#: terms everywhere (measured on the sampling mixtures of the speed benchmark, exact
#: tails: median 2.6e-7, 99 % 9.4e-6).  The copula draws themselves carry 1.5e-6 at
#: ``z = 5`` (float32 normal scores, relative rounding 6e-8, move ``Phi(z)`` by ``z^2 *
#: 6e-8`` relative).  Invisible in any Monte Carlo statistic: a thousand paths resolve
#: a tail probability to about ``1 / sqrt(1000 p)`` relative.  (The exact iterations,
#: one ``stdtr`` per value and component, would cost a third of the inverse CDF; 1e-5
#: instead of 1e-6 saves 9 % of it, 2026-12-01.)
SAMPLING_ICDF_TOL = 1e-5
#: Rough sampling cost per sampled value on two cores (for the messages): 5-6 CPU
#: seconds for 1000 x 63 x 10 values on our (loaded) machines (2026-12-01), two threads.
_SECONDS_PER_VALUE = 1e-5
#: Increments needed beyond the window: enough windows to train and to validate on.
_MIN_WINDOWS = 10
#: Below this many training windows the fit works but warns that it is unreliable.
_RELIABLE_WINDOWS = 100
#: Copula draws are clipped to [U_CLIP, 1 - U_CLIP] before the inverse marginal CDF.
U_CLIP = 1e-12


class DiffusionCopulaForecaster(BaseJointForecaster):
    """Diffusion-copula forecaster of seed 002 (Huk, Wang & Bresar 2026).

    The joint one-step predictive density factorises by Sklar's theorem (seed 002,
    eqs. 1 and 6) into

    * **marginals** -- for each target a mixture of Normal, Laplace and Student-t
      components (eq. 3) whose parameters come from an LSTM + MLP on the last
      ``window`` increments and their path features (eqs. 4-5; see
      :mod:`~jointdist.models.diffusion_copula.marginals`), and
    * a **copula** on the probability integral transforms ``u = F(y | past)`` of the
      training increments -- by default the classification-diffusion copula (eqs. 7-9;
      :class:`~jointdist.models.diffusion_copula.ClassificationDiffusionCopula`), which
      like the paper does not depend on the past.

    Multi-step paths are sampled autoregressively: at every step each path draws a
    copula vector ``u``, maps it through the inverse marginal CDFs conditioned on that
    path's own past (eq. 10: its last ``window`` increments, or with ``carry_steps``
    the LSTM state carried along the path), and appends the result to its window.
    The paths advance together in blocks of 500 (a loop over the horizon,
    vectorized over paths and targets; the blocks run on ``n_jobs`` threads).  Because
    the copula is time-invariant its vectors do not depend on the paths: each block
    draws them for many steps at once.  Targets with constant increments are
    continued deterministically.  The base class cumulates the sampled increments to
    levels.

    Parameters
    ----------
    copula : {"diffusion", "flow-matching", "gaussian", "student-t"} or copula estimator, \
default="diffusion"
        The dependence model.  ``"diffusion"`` is a
        :class:`~jointdist.models.diffusion_copula.ClassificationDiffusionCopula` with
        the preset's settings (probability-flow ODE sampler on 8 of the 20 training
        times for ``"fast"``); ``"flow-matching"`` a
        :class:`~jointdist.models.diffusion_copula.FlowMatchingCopula` (seed 002's
        third dependence model, default settings);
        ``"gaussian"`` a :class:`~jointdist.models.diffusion_copula.GaussianCopula` and
        ``"student-t"`` a :class:`~jointdist.models.diffusion_copula.StudentTCopula`
        (parametric benchmarks).
        An estimator instance (e.g. ``ClassificationDiffusionCopula(sampler="langevin")``)
        is cloned and fitted; when its ``random_state`` is None it gets one derived
        from this forecaster's, and a ``ClassificationDiffusionCopula`` inherits
        ``device``, ``n_threads`` and ``verbose``.
    returns : {"diff", "log", "pct"} or None, default="diff"
        Increments the model works on (see :func:`jointdist.base.increments_from_levels`);
        None when ``y`` already holds returns.
    window : int, default=14
        Markov order ``k`` (eq. 4): number of past increments the marginals condition on.
    n_normal, n_laplace, n_student : int, default=3
        Mixture components of each family (paper: 3 + 3 + 3).
    preset : {"fast", "paper"}, default="fast"
        Values of the parameters left at None (``lstm_hidden``, ``lstm_layers`` and,
        for ``copula="diffusion"``, the copula's settings); see ``PRESETS``.
    lstm_hidden : int or None, default=None
        LSTM width (``"fast"``: 16; ``"paper"``: 128).
    lstm_layers : int or None, default=None
        LSTM depth (``"fast"``: 1; ``"paper"``: 5).
    carry_steps : int >= 0 or None, default=None
        How the LSTM reads the past (``"fast"``: 16; ``"paper"``: 0).  0: every window
        of ``window`` increments is read from the zero state (the paper's order-``k``
        Markov marginals; while sampling, each path's window is re-read at every
        step).  ``R > 0``: the LSTM state is carried along the series in groups of
        ``R`` steps, each read from ``window`` increments before the group's first
        step, so the ``j``-th prediction of a group (``j < R``) has read ``window + j``
        increments (the path features are still those of the last ``window``);
        trained, evaluated (``pit_``, ``marginal_pit``) and sampled that way alike.
        Sampling then takes one LSTM step per value instead of ``window`` (the window
        is re-read once per group), and training reads ``window + R - 1`` increments
        for ``R`` predictions (see
        :mod:`~jointdist.models.diffusion_copula.marginals`).
    mlp_hidden : int, default=32
        Width of the feature MLP and of the head.
    embedding_dim : int, default=4
        Size of the target embedding of the shared marginal network.
    temperature : float, default=0.5
        Softmax temperature of the mixture weights (paper: 0.5).
    entropy_weight : float, default=0.01
        Weight ``lambda`` of the entropy bonus on the mixture weights (eq. 5).
    learning_rate : float, default=3e-3
        Adam learning rate of the marginal network.
    weight_decay : float, default=1e-5
    batch_size : int, default=256
    max_epochs : int, default=150
    patience : int, default=15
        Epochs without validation improvement before the marginal training stops.
    validation_fraction : float in [0, 0.5], default=0.2
        Fraction of the most recent training windows held out for early stopping of
        the marginal network (and passed on to a diffusion copula given by name).
        0 trains for ``max_epochs`` without validation.
    refit_full : bool, default=True
        After early stopping has chosen the number of epochs, train the marginal
        network again from the same initialisation on *all* windows for that many
        epochs, so that the most recent history is learned from too (otherwise the
        last ``validation_fraction`` of it never is).
    n_jobs : int, default=2
        Threads of ``predict_samples``; the paths are split into blocks of 500 with
        their own seeds, so the samples do not depend on ``n_jobs``.
    max_sample_size : int or None, default=MAX_SAMPLE_SIZE
        ``predict_samples`` refuses with a ``ValueError`` when ``n_samples * horizon *
        n_targets`` exceeds this (10**8 values: 0.8 GB of output and many minutes of
        sampling); None lifts the limit.  Above ``WARN_SAMPLE_SIZE`` (10**7) it
        warns with an estimate of the time.  Sampling can be interrupted (Ctrl-C)
        between steps; ``verbose=True`` shows a progress bar.
    device : str or torch.device, default="auto"
        See :func:`jointdist.device.resolve_device`.
    n_threads : int or None, default=1
        torch intra-op threads while fitting and sampling, restored afterwards (the
        networks are small; see ``_torch_context.torch_threads``).  None leaves torch's
        setting.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the training (initialisation, batches, diffusion noise) and, when
        ``predict_samples`` gets no seed, the sampling.
    verbose : bool, default=False
        Progress bars while training and sampling (quiet otherwise).

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_targets,)
        Mean and standard deviation of the training increments; the networks see
        ``(increment - center_) / scale_`` (scale 1 for deterministic targets).
    deterministic_targets_ : ndarray of bool of shape (n_targets,)
        Targets whose increments never vary (a constant series, or a straight line
        under ``returns="diff"``; judged relative to their level): they are continued
        deterministically with that increment, like in the other forecasters, and the
        networks and the copula model the others (``modelled_targets_``) jointly.
    modelled_targets_ : ndarray of int
        Indices of the other targets; the columns of ``pit_`` and of the copula.
    marginal_config_ : MDNConfig
    marginal_model_ : torch.nn.Module
        The trained mixture density network (shared by the targets).
    marginal_history_ : dict
        Per-epoch ``train_nll`` and ``val_nll`` (standardized units).
    n_marginal_epochs_ : int
        Epochs of the final marginal training (the refit when ``refit_full``).
    marginal_best_epoch_ : int
        Epoch of the best validation NLL.
    pit_ : ndarray of shape (n_windows, n_modelled_targets)
        In-sample PIT values ``u_t = F(y_t | past)`` of the increments that have a full
        window; the copula is fitted on them.
    copula_ : ClassificationDiffusionCopula, GaussianCopula or None
        The fitted copula (None when fewer than two targets are modelled: then there
        is no dependence to model).
    last_window_ : ndarray of shape (window, n_targets)
        Standardized last increments, where sample paths start.
    device_ : torch.device

    Notes
    -----
    The ``"fast"`` preset is far smaller than the paper (LSTM 16 x 1 instead of
    128 x 5, one network shared by all targets instead of one per asset) so that a
    fit on 504 steps of 10 series takes about 15-20 s on two CPU cores;
    ``preset="paper"`` or the individual parameters reach the paper's values.
    Sampling 1000 paths of 63 steps for 10 series costs about 5-6 CPU seconds on a
    loaded machine (see ``docs/models/diffusion_copula.md``); most of it is now the
    copula's classifier gradients and the inverse CDFs, the LSTM (carried state)
    under a tenth.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.models.diffusion_copula import DiffusionCopulaForecaster
    >>> y = np.cumsum(np.random.default_rng(0).standard_t(4, size=(200, 2)), axis=0)
    >>> model = DiffusionCopulaForecaster(copula="gaussian", max_epochs=5, random_state=0)
    >>> model.fit(y).predict_samples(horizon=3, n_samples=50).shape
    (50, 3, 2)
    """

    def __init__(self, copula="diffusion", *, preset="fast", returns="diff", window=14,
                 n_normal=3, n_laplace=3, n_student=3, lstm_hidden=None, lstm_layers=None,
                 carry_steps=None, mlp_hidden=32, embedding_dim=4, temperature=0.5,
                 entropy_weight=0.01, learning_rate=3e-3, weight_decay=1e-5, batch_size=256,
                 max_epochs=150, patience=15, validation_fraction=0.2, refit_full=True,
                 device="auto",
                 n_threads=1, n_jobs=2, max_sample_size=MAX_SAMPLE_SIZE, random_state=None,
                 verbose=False):
        self.copula = copula
        self.preset = preset
        self.returns = returns
        self.window = window
        self.n_normal = n_normal
        self.n_laplace = n_laplace
        self.n_student = n_student
        self.lstm_hidden = lstm_hidden
        self.lstm_layers = lstm_layers
        self.carry_steps = carry_steps
        self.mlp_hidden = mlp_hidden
        self.embedding_dim = embedding_dim
        self.temperature = temperature
        self.entropy_weight = entropy_weight
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.refit_full = refit_full
        self.device = device
        self.n_threads = n_threads
        self.n_jobs = n_jobs
        self.max_sample_size = max_sample_size
        self.random_state = random_state
        self.verbose = verbose

    def __setstate__(self, state):
        super().__setstate__(state)
        if "carry_steps" not in state:  # pickled before it existed: windows re-read
            self.carry_steps = 0

    # ------------------------------------------------------------------ checks
    def _min_history_length(self, n_targets: int) -> int:
        self._check_params()
        return self.window + _MIN_WINDOWS + (0 if self.returns is None else 1)

    def _resolved(self, name):
        """A parameter's value, from the preset when it is None."""
        value = getattr(self, name)
        return PRESETS[self.preset][name] if value is None else value

    def _carry_steps(self):
        """``carry_steps`` with the preset's value for None (0 where the preset has None)."""
        value = self._resolved("carry_steps")
        return 0 if value is None else value

    def _check_params(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}; got {self.preset!r}.")
        check_positive_int(self.window, "window")
        for name in ("n_normal", "n_laplace", "n_student"):
            check_positive_int(getattr(self, name), name, minimum=0)
        if self.n_normal + self.n_laplace + self.n_student < 1:
            raise ValueError("The mixture needs at least one component; n_normal, n_laplace "
                             "and n_student are all 0.")
        for name in ("mlp_hidden", "embedding_dim", "batch_size", "max_epochs", "patience",
                     "n_jobs"):
            check_positive_int(getattr(self, name), name)
        for name in ("lstm_hidden", "lstm_layers"):
            check_positive_int(self._resolved(name), name)
        check_positive_int(self._carry_steps(), "carry_steps", minimum=0)
        for name in ("temperature", "learning_rate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, numbers.Real) and v > 0):
                raise ValueError(f"{name} must be a positive number; got {v!r}.")
        for name in ("entropy_weight", "weight_decay"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, numbers.Real) and v >= 0):
                raise ValueError(f"{name} must be a number >= 0; got {v!r}.")
        vf = self.validation_fraction
        if isinstance(vf, bool) or not (isinstance(vf, numbers.Real) and 0 <= vf <= 0.5):
            raise ValueError(f"validation_fraction must be in [0, 0.5]; got {vf!r}.")
        if self.n_threads is not None:
            check_positive_int(self.n_threads, "n_threads")
        if self.max_sample_size is not None:
            check_positive_int(self.max_sample_size, "max_sample_size")
        if isinstance(self.copula, str):
            if self.copula not in _COPULAS:
                raise ValueError(f"copula must be one of {_COPULAS} or a copula estimator; "
                                 f"got {self.copula!r}.")
        elif not all(hasattr(self.copula, m) for m in ("fit", "sample", "log_density")):
            raise ValueError("copula must be 'diffusion', 'flow-matching', 'gaussian', "
                             "'student-t' or an "
                             "estimator with "
                             f"fit, sample and log_density methods; got {self.copula!r}.")

    def _make_copula(self, seed: int):
        if isinstance(self.copula, str):
            if self.copula == "gaussian":
                return GaussianCopula()
            if self.copula == "student-t":
                return StudentTCopula()
            if self.copula == "flow-matching":
                return FlowMatchingCopula(
                    validation_fraction=min(self.validation_fraction, 0.3),
                    device=self.device, n_threads=self.n_threads, random_state=seed,
                    verbose=self.verbose)
            return ClassificationDiffusionCopula(
                validation_fraction=min(self.validation_fraction, 0.3), device=self.device,
                n_threads=self.n_threads, random_state=seed, verbose=self.verbose,
                **PRESETS[self.preset]["copula"])
        cop = clone(self.copula)
        params = cop.get_params()
        if params.get("random_state", 0) is None:
            cop.set_params(random_state=seed)
        if isinstance(cop, (ClassificationDiffusionCopula, FlowMatchingCopula)):
            cop.set_params(device=self.device, n_threads=self.n_threads,
                           verbose=self.verbose or cop.verbose)
        return cop

    # ------------------------------------------------------------------ fit
    def _fit(self, y, X):
        self._check_params()
        increments = self._history_increments(y)
        n_inc, n_targets = increments.shape
        if n_inc < self.window + _MIN_WINDOWS:
            raise ValueError(f"DiffusionCopulaForecaster needs at least window + "
                             f"{_MIN_WINDOWS} = {self.window + _MIN_WINDOWS} increments; "
                             f"got {n_inc}.")
        self.device_ = resolve_device(self.device)
        base_seed = seed_from(self.random_state)
        seeds = np.random.default_rng(base_seed).integers(0, 2**31 - 1, size=2)

        self.center_ = increments.mean(axis=0)
        scale = increments.std(axis=0)
        # constant increments up to rounding, judged relative to the series' level (as in
        # DCC: steps of 1e-12 vary, a straight line at 1e12 does not)
        deterministic = self._constant_increment_targets(y, increments)
        self.deterministic_targets_ = deterministic
        self.modelled_targets_ = np.flatnonzero(~deterministic)
        self.scale_ = np.where(deterministic, 1.0, scale)
        # the exact repeated value (a mean adds rounding to a constant)
        self.center_[deterministic] = increments[-1, deterministic]
        z = (increments - self.center_) / self.scale_
        z[:, deterministic] = 0.0
        zm = z[:, self.modelled_targets_]
        self.last_window_ = zm[-self.window:].copy()
        n_mod = zm.shape[1]
        if n_mod == 0:  # nothing varies: every target is continued deterministically
            self.marginal_config_ = self.marginal_model_ = self.copula_ = None
            self.marginal_history_, self.n_marginal_epochs_ = {}, 0
            self.marginal_best_epoch_ = 0
            self.pit_ = np.empty((n_inc - self.window, 0))
            return self
        if n_inc - self.window < _RELIABLE_WINDOWS:
            warnings.warn(f"DiffusionCopulaForecaster fitted on {n_inc - self.window} "
                          f"windows: mixture-density marginals and a copula learned from "
                          f"fewer than {_RELIABLE_WINDOWS} are unreliable.", UserWarning,
                          stacklevel=3)
        windows, targets = build_windows(zm, self.window)  # (M, N, k), (M, N)
        n_windows = windows.shape[0]
        n_val = int(round(self.validation_fraction * n_windows))
        n_val = min(n_val, n_windows - 5)

        self.marginal_config_ = MDNConfig(
            n_targets=n_mod, window=self.window, n_normal=self.n_normal,
            n_laplace=self.n_laplace, n_student=self.n_student,
            lstm_hidden=self._resolved("lstm_hidden"),
            lstm_layers=self._resolved("lstm_layers"), mlp_hidden=self.mlp_hidden,
            embedding_dim=self.embedding_dim, temperature=float(self.temperature),
            carry_steps=int(self._carry_steps()) or None)
        train = dict(learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                     entropy_weight=self.entropy_weight, batch_size=self.batch_size,
                     seed=int(seeds[0]), device=self.device_, verbose=self.verbose)
        with torch_threads(self.n_threads):
            result = fit_mdn(windows, targets, self.marginal_config_, n_val_rows=n_val,
                             max_epochs=self.max_epochs, patience=self.patience, **train)
            self.marginal_history_ = result.history
            self.marginal_best_epoch_ = result.best_epoch
            if self.refit_full and n_val > 0:
                # the epoch count chosen by early stopping, now on the whole history
                result = fit_mdn(windows, targets, self.marginal_config_, n_val_rows=0,
                                 max_epochs=max(1, result.best_epoch),
                                 patience=self.patience, **train)
            self.marginal_model_ = result.model
            self.n_marginal_epochs_ = result.n_epochs
            # PIT of the training increments (seed 002, section 3.4: u = F(y | past))
            self.pit_ = self._pit_standardized(windows, targets)
        if n_mod >= 2:
            self.copula_ = self._make_copula(int(seeds[1])).fit(self.pit_)
        else:  # one modelled target: no dependence to model
            self.copula_ = None
        return self

    def _pit_standardized(self, windows, targets):
        if getattr(self.marginal_config_, "carry_steps", None):
            mix = carried_mixtures(self.marginal_model_, _series(windows, targets),
                                   self.device_)
            return mix.cdf(targets)
        m, n, k = windows.shape
        tidx = np.tile(np.arange(n), m)
        mix = mdn_mixtures(self.marginal_model_, windows.reshape(m * n, k), tidx, self.device_)
        return mix.cdf(targets.reshape(m * n)).reshape(m, n)

    # ------------------------------------------------------------------ public helpers
    def marginal_pit(self, y):
        """PIT values of a (new) stretch of data under the fitted marginals.

        Parameters
        ----------
        y : array-like of shape (n_timesteps, n_targets)
            Levels (or returns when ``returns=None``) in the units of the training data,
            e.g. the history followed by data that the model has not seen.  Each
            increment with ``window`` increments before it inside ``y`` is evaluated
            conditionally on those (the observed past, not sampled paths).

        Returns
        -------
        ndarray of shape (n_increments - window, n_targets)
            ``u_t = F_i(y_t | y_{t-window..t-1})``; uniform when the marginals are
            calibrated (seed 002, Appendix D.1.5).  NaN in the columns of deterministic
            targets (a point mass has no PIT).
        """
        self._check_fitted_model()
        values = check_target_array(y, name="y")
        if values.shape[1] != self.n_targets_:
            raise ValueError(f"y has {values.shape[1]} target(s) but the model was fitted on "
                             f"{self.n_targets_}.")
        increments = self._history_increments(values)
        if increments.shape[0] <= self.window:
            raise ValueError(f"y must give more than window={self.window} increments; got "
                             f"{increments.shape[0]}.")
        out = np.full((increments.shape[0] - self.window, self.n_targets_), np.nan)
        if self.modelled_targets_.size:
            cols = self.modelled_targets_
            z = (increments[:, cols] - self.center_[cols]) / self.scale_[cols]
            windows, targets = build_windows(z, self.window)
            with torch_threads(self.n_threads):
                out[:, cols] = self._pit_standardized(windows, targets)
        return out

    def _check_fitted_model(self):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "deterministic_targets_")

    # ------------------------------------------------------------------ sampling
    def _check_sample_size(self, horizon, n_samples):
        size = n_samples * horizon * self.n_targets_
        budget = getattr(self, "max_sample_size", MAX_SAMPLE_SIZE)
        gb = size * 8 / 1e9
        if budget is not None and size > budget:
            raise ValueError(
                f"predict_samples(horizon={horizon}, n_samples={n_samples}) for "
                f"{self.n_targets_} targets asks for {size:.3g} values ({gb:.2g} GB of "
                f"output, roughly {size * _SECONDS_PER_VALUE / 60:.0f} minutes of sampling "
                f"on two cores), above max_sample_size={budget:.3g}.  Ask for fewer "
                "samples or a shorter horizon, or raise max_sample_size (None: no limit).")
        if size > WARN_SAMPLE_SIZE:
            warnings.warn(
                f"predict_samples will draw {size:.3g} values ({gb:.2g} GB of output); "
                f"expect roughly {size * _SECONDS_PER_VALUE:.0f} s on two cores.  It can "
                "be interrupted with Ctrl-C; verbose=True shows progress.", UserWarning,
                stacklevel=4)

    def _predict_samples(self, horizon, n_samples, rng):
        self._check_sample_size(horizon, n_samples)
        out = np.empty((n_samples, horizon, self.n_targets_))
        det = self.deterministic_targets_
        out[:, :, det] = self.center_[det]  # constant increments continue unchanged
        cols = self.modelled_targets_
        if cols.size == 0:
            return out
        starts = list(range(0, n_samples, _BLOCK_PATHS))
        seeds = rng.integers(0, 2**31 - 1, size=len(starts))
        stop = threading.Event()
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(starts) * horizon, desc="sampling paths", leave=False)

        def run(b):
            m = min(_BLOCK_PATHS, n_samples - starts[b])
            x = self._sample_block(m, horizon, np.random.default_rng(seeds[b]), stop,
                                   progress)
            out[starts[b]:starts[b] + m, :, cols] = x * self.scale_[cols] + self.center_[cols]

        pool = ThreadPoolExecutor(max_workers=min(self.n_jobs, len(starts)))
        futures = [pool.submit(run, b) for b in range(len(starts))]
        try:
            pending = set(futures)
            while pending:  # short waits keep the main thread responsive to Ctrl-C
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                for f in done:
                    f.result()  # re-raise a worker's exception here
        except BaseException:
            stop.set()  # running blocks stop at their next step, queued ones never start
            for f in futures:
                f.cancel()
            raise
        finally:
            pool.shutdown(wait=not stop.is_set())
            if progress is not None:
                progress.close()
        return out

    def _sample_block(self, n_paths, horizon, rng, stop, progress):
        """Standardized increments of ``n_paths`` paths, shape (n_paths, horizon, n_mod).

        At every step each path maps its copula vector through the inverse marginal
        CDFs conditioned on its own last ``window`` increments (eq. 10) and appends the
        result to its window: a loop over the horizon, vectorized over paths and
        targets.  The copula is time-invariant, so its vectors for several steps are
        drawn at once (about 8192 per call).  During the first ``window`` steps the
        windows of all paths begin with the same observed increments: the LSTM reads
        that common beginning once per target and each path only its own draws.
        """
        if getattr(self.marginal_config_, "carry_steps", None):
            return self._sample_block_carried(n_paths, horizon, rng, stop, progress)
        import torch

        n = self.modelled_targets_.size
        k = self.window
        windows = np.tile(self.last_window_.T, (n_paths, 1))  # (P N, k), target fastest
        tidx = np.tile(np.arange(n), n_paths)
        out = np.empty((n_paths, horizon, n))
        with torch_threads(self.n_threads):
            observed = torch.as_tensor(self.last_window_.T, dtype=torch.float32,
                                       device=self.device_)
            for h, u in enumerate(self._copula_steps(n_paths, horizon, n, rng)):
                if stop.is_set():
                    return out
                state = None
                if h < k:  # LSTM state after the observed part of the windows
                    with torch.no_grad():
                        state = tuple(s.repeat(1, n_paths, 1) for s in
                                      self.marginal_model_.lstm_state(observed[:, h:]))
                mix = mdn_mixtures(self.marginal_model_, windows, tidx, self.device_,
                                   state=state, n_known=k - h)
                x = mix.icdf(u.reshape(-1), tol=SAMPLING_ICDF_TOL, exact=False)  # eq. 10
                out[:, h] = x.reshape(n_paths, n)
                windows = np.concatenate([windows[:, 1:], x[:, None]], axis=1)
                if progress is not None:
                    progress.update(1)
        return out

    def _sample_block_carried(self, n_paths, horizon, rng, stop, progress):
        """``_sample_block`` for a marginal network with ``carry_steps = R``.

        The LSTM state is carried along each path: one LSTM step per sampled value,
        except every ``R`` steps, where the path's last ``window`` values are read from
        the zero state again (at the first step the observed ones, shared by all
        paths) -- the reading the network was trained and its PIT values computed
        with (:func:`~jointdist.models.diffusion_copula.marginals.carried_mixtures`).
        Everything but the inverse CDFs stays in float32 torch tensors.
        """
        import torch

        net = self.marginal_model_
        cfg = self.marginal_config_
        carry = cfg.carry_steps
        n = self.modelled_targets_.size
        out = np.empty((n_paths, horizon, n))
        with torch_threads(self.n_threads), torch.no_grad():
            observed = torch.as_tensor(self.last_window_.T, dtype=torch.float32,
                                       device=self.device_)  # (N, k)
            windows = observed.repeat(n_paths, 1)  # (P N, k), target fastest
            tidx = torch.arange(n, device=self.device_).repeat(n_paths)
            shared = tuple(s.repeat(1, n_paths, 1) for s in net.lstm_state(observed))
            state = x_t = None
            for h, u in enumerate(self._copula_steps(n_paths, horizon, n, rng)):
                if stop.is_set():
                    return out
                if h == 0:
                    state = shared
                elif h % carry == 0:  # a new group: the last k values from the zero state
                    state = net.lstm_state(windows)
                else:  # one more value on the carried state
                    _, state = net.lstm(x_t.clamp(-INPUT_CLIP, INPUT_CLIP)[:, None, None],
                                        state)
                raw = net.head_from_lstm(state[0][-1], windows.clamp(-INPUT_CLIP, INPUT_CLIP),
                                         tidx)
                mix = raw_to_mixture(raw.double().cpu().numpy(), cfg)
                x = mix.icdf(u.reshape(-1), tol=SAMPLING_ICDF_TOL, exact=False)  # eq. 10
                out[:, h] = x.reshape(n_paths, n)
                x_t = torch.as_tensor(x, dtype=torch.float32, device=self.device_)
                windows = torch.cat([windows[:, 1:], x_t[:, None]], 1)
                if progress is not None:
                    progress.update(1)
        return out

    def _copula_steps(self, n_paths, horizon, n, rng):
        """The copula vectors of every step, (n_paths, n) each, in order.

        The copula is time-invariant, so the vectors of several steps come from one
        call (about 8192 vectors each).
        """
        per_draw = max(1, 8192 // n_paths)
        for first in range(0, horizon, per_draw):
            steps = min(per_draw, horizon - first)
            u = self._copula_draws(n_paths * steps, n, rng).reshape(n_paths, steps, n)
            for j in range(steps):
                yield u[:, j]

    def _copula_draws(self, size, n, rng):
        if self.copula_ is None:  # a single modelled target
            u = rng.uniform(size=(size, n))
        else:
            u = self.copula_.sample(size, rng)
        return np.clip(u, U_CLIP, 1.0 - U_CLIP)
