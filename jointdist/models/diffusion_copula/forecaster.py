"""DiffusionCopulaForecaster: MDN marginals joined by a classification-diffusion copula."""

from __future__ import annotations

import numbers
import warnings
from concurrent.futures import ThreadPoolExecutor

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
    GaussianCopula,
)
from jointdist.models.diffusion_copula.marginals import (
    MDNConfig,
    build_windows,
    fit_mdn,
    mdn_mixtures,
)

__all__ = ["DiffusionCopulaForecaster"]

_COPULAS = ("diffusion", "gaussian")
#: Increments needed beyond the window: enough windows to train and to validate on.
_MIN_WINDOWS = 10
#: Below this many training windows the fit works but warns that it is unreliable.
_RELIABLE_WINDOWS = 100
#: Copula draws are clipped to [U_CLIP, 1 - U_CLIP] before the inverse marginal CDF.
U_CLIP = 1e-12
#: The horizon is cut into this many blocks of steps for the copula draws.
_COPULA_BLOCKS = 8


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
    path's own last ``window`` increments (eq. 10), and appends the result to its
    window.  All paths advance together (a loop over the horizon, vectorized over
    paths and targets).  Because the copula is time-invariant its vectors do not
    depend on the paths: they are drawn in blocks of steps by a worker thread while
    the marginal loop runs.  The base class cumulates the sampled increments to
    levels.

    Parameters
    ----------
    copula : {"diffusion", "gaussian"} or copula estimator, default="diffusion"
        The dependence model.  ``"diffusion"`` is a
        :class:`~jointdist.models.diffusion_copula.ClassificationDiffusionCopula` with
        its defaults (probability-flow ODE sampler); ``"gaussian"`` a
        :class:`~jointdist.models.diffusion_copula.GaussianCopula` (for comparison).
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
    lstm_hidden : int, default=32
        LSTM width (paper: 128).
    lstm_layers : int, default=1
        LSTM depth (paper: 5).
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
        Progress bars while training.

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_targets,)
        Mean and standard deviation of the training increments; the networks see
        ``(increment - center_) / scale_``.
    marginal_config_ : MDNConfig
    marginal_model_ : torch.nn.Module
        The trained mixture density network (shared by the targets).
    marginal_history_ : dict
        Per-epoch ``train_nll`` and ``val_nll`` (standardized units).
    n_marginal_epochs_ : int
    pit_ : ndarray of shape (n_windows, n_targets)
        In-sample PIT values ``u_t = F(y_t | past)`` of the increments that have a full
        window; the copula is fitted on them.
    copula_ : ClassificationDiffusionCopula or GaussianCopula
        The fitted copula.
    last_window_ : ndarray of shape (window, n_targets)
        Standardized last increments, where sample paths start.
    device_ : torch.device

    Notes
    -----
    Defaults are far smaller than the paper's (LSTM 32 x 1 instead of 128 x 5, one
    network shared by all targets instead of one per asset) so that a fit on 504
    steps of 10 series takes well under two minutes on two CPU cores; every paper
    value is reachable through the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.models.diffusion_copula import DiffusionCopulaForecaster
    >>> y = np.cumsum(np.random.default_rng(0).standard_t(4, size=(200, 2)), axis=0)
    >>> model = DiffusionCopulaForecaster(copula="gaussian", max_epochs=5, random_state=0)
    >>> model.fit(y).predict_samples(horizon=3, n_samples=50).shape
    (50, 3, 2)
    """

    def __init__(self, copula="diffusion", *, returns="diff", window=14, n_normal=3,
                 n_laplace=3, n_student=3, lstm_hidden=32, lstm_layers=1, mlp_hidden=32,
                 embedding_dim=4, temperature=0.5, entropy_weight=0.01, learning_rate=3e-3,
                 weight_decay=1e-5, batch_size=256, max_epochs=150, patience=15,
                 validation_fraction=0.2, device="auto", n_threads=1, random_state=None,
                 verbose=False):
        self.copula = copula
        self.returns = returns
        self.window = window
        self.n_normal = n_normal
        self.n_laplace = n_laplace
        self.n_student = n_student
        self.lstm_hidden = lstm_hidden
        self.lstm_layers = lstm_layers
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
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _min_history_length(self, n_targets: int) -> int:
        self._check_params()
        return self.window + _MIN_WINDOWS + (0 if self.returns is None else 1)

    def _check_params(self) -> None:
        check_positive_int(self.window, "window")
        for name in ("n_normal", "n_laplace", "n_student"):
            check_positive_int(getattr(self, name), name, minimum=0)
        if self.n_normal + self.n_laplace + self.n_student < 1:
            raise ValueError("The mixture needs at least one component; n_normal, n_laplace "
                             "and n_student are all 0.")
        for name in ("lstm_hidden", "lstm_layers", "mlp_hidden", "embedding_dim",
                     "batch_size", "max_epochs", "patience"):
            check_positive_int(getattr(self, name), name)
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
        if isinstance(self.copula, str):
            if self.copula not in _COPULAS:
                raise ValueError(f"copula must be one of {_COPULAS} or a copula estimator; "
                                 f"got {self.copula!r}.")
        elif not all(hasattr(self.copula, m) for m in ("fit", "sample", "log_density")):
            raise ValueError("copula must be 'diffusion', 'gaussian' or an estimator with "
                             f"fit, sample and log_density methods; got {self.copula!r}.")

    def _make_copula(self, seed: int):
        if isinstance(self.copula, str):
            if self.copula == "gaussian":
                return GaussianCopula()
            return ClassificationDiffusionCopula(
                validation_fraction=min(self.validation_fraction, 0.3), device=self.device,
                n_threads=self.n_threads, random_state=seed, verbose=self.verbose)
        cop = clone(self.copula)
        params = cop.get_params()
        if params.get("random_state", 0) is None:
            cop.set_params(random_state=seed)
        if isinstance(cop, ClassificationDiffusionCopula):
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
        if n_inc - self.window < _RELIABLE_WINDOWS:
            warnings.warn(f"DiffusionCopulaForecaster fitted on {n_inc - self.window} "
                          f"windows: mixture-density marginals and a copula learned from "
                          f"fewer than {_RELIABLE_WINDOWS} are unreliable.", UserWarning,
                          stacklevel=3)
        self.device_ = resolve_device(self.device)
        base_seed = seed_from(self.random_state)
        seeds = np.random.default_rng(base_seed).integers(0, 2**31 - 1, size=2)

        self.center_ = increments.mean(axis=0)
        scale = increments.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        z = (increments - self.center_) / self.scale_
        windows, targets = build_windows(z, self.window)  # (M, N, k), (M, N)
        n_windows = windows.shape[0]
        n_val = int(round(self.validation_fraction * n_windows))
        n_val = min(n_val, n_windows - 5)

        self.marginal_config_ = MDNConfig(
            n_targets=n_targets, window=self.window, n_normal=self.n_normal,
            n_laplace=self.n_laplace, n_student=self.n_student, lstm_hidden=self.lstm_hidden,
            lstm_layers=self.lstm_layers, mlp_hidden=self.mlp_hidden,
            embedding_dim=self.embedding_dim, temperature=float(self.temperature))
        with torch_threads(self.n_threads):
            result = fit_mdn(windows, targets, self.marginal_config_, n_val_rows=n_val,
                             learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                             entropy_weight=self.entropy_weight, batch_size=self.batch_size,
                             max_epochs=self.max_epochs, patience=self.patience,
                             seed=int(seeds[0]), device=self.device_, verbose=self.verbose)
            self.marginal_model_ = result.model
            self.marginal_history_ = result.history
            self.n_marginal_epochs_ = result.n_epochs
            # PIT of the training increments (seed 002, section 3.4: u = F(y | past))
            self.pit_ = self._pit_standardized(windows, targets)
        self.copula_ = self._make_copula(int(seeds[1])).fit(self.pit_)
        self.last_window_ = z[-self.window:].copy()
        return self

    def _pit_standardized(self, windows, targets):
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
            calibrated (seed 002, Appendix D.1.5).
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
        z = (increments - self.center_) / self.scale_
        windows, targets = build_windows(z, self.window)
        with torch_threads(self.n_threads):
            return self._pit_standardized(windows, targets)

    def _check_fitted_model(self):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "copula_")

    # ------------------------------------------------------------------ sampling
    def _predict_samples(self, horizon, n_samples, rng):
        n = self.n_targets_
        # Copula vectors for blocks of steps, drawn in a worker thread while the
        # marginal loop runs (torch, numpy and scipy release the GIL, so the two use
        # both cores).  Each block has its own seed drawn up front: deterministic.
        block = max(1, -(-horizon // _COPULA_BLOCKS))
        starts = list(range(0, horizon, block))
        seeds = rng.integers(0, 2**31 - 1, size=len(starts))
        windows = np.tile(self.last_window_.T, (n_samples, 1))  # (S N, k), target fastest
        tidx = np.tile(np.arange(n), n_samples)
        out = np.empty((n_samples, horizon, n))

        def draw(b):
            steps = min(block, horizon - starts[b])
            with torch_threads(self.n_threads):
                u = self.copula_.sample(n_samples * steps, np.random.default_rng(seeds[b]))
            return np.clip(u, U_CLIP, 1.0 - U_CLIP).reshape(n_samples, steps, n)

        with ThreadPoolExecutor(max_workers=1) as pool, torch_threads(self.n_threads):
            futures = [pool.submit(draw, b) for b in range(len(starts))]
            for b, start in enumerate(starts):
                u = futures[b].result()
                for j in range(u.shape[1]):  # autoregressive over steps, vectorized
                    mix = mdn_mixtures(self.marginal_model_, windows, tidx, self.device_)
                    x = mix.icdf(u[:, j].reshape(-1))  # eq. 10, standardized units
                    out[:, start + j] = x.reshape(n_samples, n)
                    windows = np.concatenate([windows[:, 1:], x[:, None]], axis=1)
        return out * self.scale_ + self.center_
