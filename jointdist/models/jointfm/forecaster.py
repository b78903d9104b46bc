"""JointFMForecaster: zero-shot joint sample paths from a pretrained JointFM."""

from __future__ import annotations

import copy
import numbers
import threading
import warnings

import numpy as np
import torch

from jointdist.base import BaseJointForecaster, check_horizon, check_n_samples, check_target_array
from jointdist.models.jointfm.heads import JointSkewTMixture
from jointdist.models.jointfm.weights import (
    DEFAULT_WEIGHTS,
    WEIGHTS_DIR,
    load_weights,
    resolve_checkpoint,
)

__all__ = ["JointFMForecaster"]

#: Fewest history rows accepted: the increment normalization needs two increments.
MIN_HISTORY_ROWS = 3

#: What was checked of the shipped checkpoint beyond the numbers of targets it was
#: trained on (tests/test_jointfm_forecaster.py::test_default_checkpoint_scales_to_100_targets).
_DEFAULT_CHECKPOINT_TESTED = (
    "What was tested for the shipped checkpoint: N = 100 random walks driven by three "
    "common factors, where the one-step scenarios kept the context's correlation pattern "
    "(correlation 0.99 between the 4,950 pairwise correlations of the context and of the "
    "scenarios) and every target's one-step spread (0.79 to 1.31 times the context's); "
    "calibration, other dependence structures and larger N were not tested. Check the "
    "forecasts on held-out data (e.g. jointdist.metrics.energy_score) before relying on "
    "them.")

_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def _cached_model(checkpoint, device):
    """Load a checkpoint once per (files, device); forecasters share the frozen module."""
    stem = resolve_checkpoint(checkpoint)
    key = (str(stem.resolve()), str(device))
    # a change to the weights, the config or the manifest loads (and verifies) again
    files = [stem.with_suffix(s) for s in (".pt", ".json", ".sha256")]
    mtime = tuple(f.stat().st_mtime_ns if f.is_file() else None for f in files)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        model = load_weights(stem, device=device)
        for p in model.parameters():
            p.requires_grad_(False)
        _CACHE[key] = (mtime, model)
        return model


#: rows of the float64 samples mapped per block by _affine_inplace (about 256 KiB)
_AFFINE_BLOCK_BYTES = 1 << 18


def _affine_inplace(samples, loc, scale):
    """``samples = loc + scale * samples`` in place, for samples (B, n, H, N) and
    loc, scale (B, N), float64.

    The same values as the broadcast ``samples *= scale; samples += loc``, about twice
    as fast: each system's rows are taken as ``(n, H * N)`` with ``scale`` and ``loc``
    tiled over the horizons, so numpy's inner loop runs over ``H * N`` elements instead
    of ``N``, and both operations run on one cache-sized block of rows before the next
    (one pass over the ~50 MB of ``predict_samples(63, 10000)`` at ``N = 10``, not two).
    """
    B, n, H, N = samples.shape
    if not samples.flags.c_contiguous:
        samples *= scale[:, None, None, :]
        samples += loc[:, None, None, :]
        return
    rows = max(1, _AFFINE_BLOCK_BYTES // (8 * H * N))
    for b in range(B):
        flat = samples[b].reshape(n, H * N)
        s_b, l_b = np.tile(scale[b], H), np.tile(loc[b], H)
        for start in range(0, n, rows):
            block = flat[start:start + rows]
            block *= s_b
            block += l_b


def _network_units(values, normalization, what="y"):
    """Per-series affine map of a float64 history onto the float32 network's units.

    The network normalizes each series itself, but in float32: at a level of 1e8 the
    spacing of float32 numbers is 8, so unit steps are lost before the network sees them
    (the one-step spread came out 15 times too wide).  So the history is mapped here, in
    float64, to ``z = (x - x_T) / s``, with ``x_T`` the last value and ``s`` the
    root-mean-square increment (drift included), the map of the ``"increment"``
    normalization; the samples are mapped back with the same ``(loc, scale)`` in float64.
    The network's own map of ``z`` is then close to the identity, and for the
    ``"increment"`` and ``"revin"`` normalizations, which the network is equivariant to,
    the forecast is the one of exact arithmetic.  ``"increment_stats"`` feeds ``log s``
    to the network, so there only the shift is done here.

    Parameters
    ----------
    values : ndarray (T, N) float64, finite
    normalization : str
        The checkpoint's ``config.normalization``.
    what : str
        Name used in error messages.

    Returns
    -------
    z : ndarray (T, N) float32
    loc, scale : ndarrays (N,) float64, with ``values = loc + scale * z``

    Raises
    ------
    ValueError
        If the increments overflow float64, or the mapped values are too large for the
        float32 network (only possible with ``"increment_stats"``).
    """
    loc = values[-1].copy()
    with np.errstate(over="ignore", invalid="ignore"):
        dx = np.diff(values, axis=0)
        if not np.isfinite(dx).all():
            raise ValueError(f"{what} has increments too large for float64 (values near "
                             f"{np.abs(values).max():.3g}); rescale it before forecasting.")
        if normalization == "increment_stats":
            scale = np.ones_like(loc)
        else:
            # root-mean-square increment, computed relative to the largest one (no
            # overflow of the squares for huge series)
            peak = np.abs(dx).max(axis=0)
            unit = np.where(peak > 0, peak, 1.0)
            rms = peak * np.sqrt(np.mean((dx / unit) ** 2, axis=0))
            scale = np.where(rms > 0, rms, 1.0)  # a constant series stays at z = 0
        z = (values - loc) / scale
    # the network sums squares of the values over the context in float32
    limit = np.sqrt(np.finfo(np.float32).max / (4 * values.shape[0]))
    spread = np.abs(z).max()
    if not spread < limit:
        raise ValueError(f"{what} spans {spread:.3g} around its last values, beyond the "
                         f"float32 range the network computes in (sums of squares: at most "
                         f"{limit:.3g} for {values.shape[0]} rows); its normalization "
                         f"{normalization!r} reads the series' scale, so it cannot be "
                         "rescaled here. Divide y by a constant and multiply the forecasts "
                         "back.")
    return z.astype(np.float32), loc, scale


class JointFMForecaster(BaseJointForecaster):
    """Zero-shot joint forecasts from a pretrained JointFM network (seed 000).

    ``fit`` only stores the most recent ``context_length`` rows of the history (no
    parameters are estimated); ``predict_samples`` runs the network once and draws
    coherent sample paths from the chosen distributional head (see
    :mod:`jointdist.models.jointfm.heads`).  ``fit`` warns when ``y`` has more targets
    than the checkpoint was trained with (``config.trained_n_targets``; at most 10 for
    the shipped one), saying what was tested beyond that.

    Parameters
    ----------
    checkpoint : "default", str or Path, default="default"
        Weights to use: "default" is the checkpoint shipped in
        ``jointdist/models/jointfm/weights``; otherwise the stem or ``.pt`` file of a
        checkpoint written by :func:`~jointdist.models.jointfm.save_weights` (``.pt`` +
        ``.json`` + ``.sha256``).  The manifest ``.sha256`` holds the SHA-256 of the
        weights and of the config; both are verified when loading.
    head : {"skewt", "gmm"} or None, default=None
        Distributional head; None is the first head of the checkpoint's config.
    device : str or torch.device, default="auto"
        See :func:`jointdist.resolve_device`.
    n_samples_batch : int, default=10000
        Samples drawn per chunk (bounds memory; the result does not depend on it for a
        given seed only when it is not smaller than ``n_samples``).
    context_length : int or None, default=None
        Use at most this many recent rows (None: the model's ``context_length``).
    random_state : int, numpy.random.Generator or None, default=None
        Seed of ``predict_samples`` calls made without one.

    Attributes
    ----------
    model_ : JointFM
        The network (shared with other forecasters of the same checkpoint until
        :meth:`finetune` makes a private copy).
    context_ : ndarray of shape (n_context, n_targets)
        The stored context (the last rows of ``y``, float64).
    context_loc_, context_scale_ : ndarrays of shape (n_targets,)
        The per-series map to the network's units, computed in float64:
        ``network_context_ = (context_ - context_loc_) / context_scale_`` (the last value
        and the root-mean-square increment; a shift only for an ``"increment_stats"``
        checkpoint), so that a series at a high level keeps its steps in float32.
        Samples are mapped back with the same values, in float64.
    network_context_ : ndarray of shape (n_context, n_targets), float32
        What the network is given.
    features_, network_features_ : ndarrays of shape (n_context, n_features) or None
        The features, as given (float64) and mapped the same way (float32).
    n_targets_, n_timesteps_, columns_, index_, last_observation_ :
        As in :class:`~jointdist.base.BaseJointForecaster`.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.models.jointfm import JointFMForecaster
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(300, 3)), axis=0)
    >>> fc = JointFMForecaster(random_state=0).fit(y)
    >>> fc.predict_samples(horizon=10, n_samples=100).shape
    (100, 10, 3)
    """

    _accepts_exogenous = True

    def __init__(self, checkpoint="default", *, head=None, device="auto",
                 n_samples_batch=10000, context_length=None, random_state=None):
        self.checkpoint = checkpoint
        self.head = head
        self.device = device
        self.n_samples_batch = n_samples_batch
        self.context_length = context_length
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _load(self):
        from jointdist.device import resolve_device

        dev = resolve_device(self.device)
        model = _cached_model(self.checkpoint, dev)
        head = self.head if self.head is not None else model.config.heads[0]
        if head not in model.config.heads:
            raise ValueError(f"head={self.head!r} is not in this checkpoint; it has "
                             f"{list(model.config.heads)}.")
        if isinstance(self.n_samples_batch, bool) or not isinstance(
                self.n_samples_batch, numbers.Integral) or self.n_samples_batch < 1:
            raise ValueError(f"n_samples_batch must be a positive integer; got "
                             f"{self.n_samples_batch!r}.")
        return model, head, dev

    def _max_context(self, model) -> int:
        T = model.config.context_length
        if self.context_length is None:
            return T
        if isinstance(self.context_length, bool) or not isinstance(
                self.context_length, numbers.Integral) or not \
                self._min_context(model) <= self.context_length <= T:
            raise ValueError(f"context_length must be an integer in "
                             f"[{self._min_context(model)}, {T}]; got {self.context_length!r}.")
        return int(self.context_length)

    @staticmethod
    def _min_context(model) -> int:
        # shorter contexts are masked; training shortened contexts down to two patches
        return 2 * model.config.patch_size

    def _min_history_length(self, n_targets: int) -> int:
        return MIN_HISTORY_ROWS

    def _warn_short(self, n_rows, model, what="y"):
        if n_rows < self._min_context(model):
            warnings.warn(f"{what} has {n_rows} rows, fewer than the {self._min_context(model)}"
                          " the network was trained with at least: the missing steps are "
                          "masked, and the forecast is an extrapolation of what it learned.",
                          UserWarning, stacklevel=4)

    def _warn_many_targets(self, n_targets, model, what="y"):
        """One warning when ``n_targets`` exceeds the numbers the weights were trained on."""
        trained = model.config.trained_n_targets
        if trained is None or n_targets <= trained[1]:
            return
        shipped = resolve_checkpoint(self.checkpoint).resolve() == \
            (WEIGHTS_DIR / DEFAULT_WEIGHTS).resolve()
        tested = (_DEFAULT_CHECKPOINT_TESTED if shipped else
                  f"Nothing beyond {trained[1]} targets was tested for this checkpoint.")
        warnings.warn(f"{what} has {n_targets} targets, more than the {trained[1]} this "
                      f"checkpoint was trained with (systems of {trained[0]} to {trained[1]}"
                      " targets). The network takes any number of targets, but beyond "
                      f"{trained[1]} its forecasts are an extrapolation. {tested}",
                      UserWarning, stacklevel=4)

    # ------------------------------------------------------------------ fit
    def _fit(self, y, X):
        model, head, _ = self._load()
        T = self._max_context(model)
        self._warn_short(y.shape[0], model)
        self._warn_many_targets(y.shape[1], model)
        self.model_ = model
        self.head_ = head
        self.context_ = y[-T:].copy()
        self.features_ = None if X is None else X[-T:].copy()
        # mapped to the network's float32 units in float64 (see _network_units)
        mode = model.config.normalization
        self.network_context_, self.context_loc_, self.context_scale_ = _network_units(
            self.context_, mode)
        self.network_features_ = (None if X is None else
                                  _network_units(self.features_, mode, what="X")[0])

    def _forward(self, contexts, features, time_mask, target_mask, horizon):
        model = self.model_
        dev = next(model.parameters()).device
        with torch.no_grad():
            out = model(torch.as_tensor(contexts, device=dev),
                        time_mask=None if time_mask is None else torch.as_tensor(
                            time_mask, device=dev),
                        target_mask=None if target_mask is None else torch.as_tensor(
                            target_mask, device=dev),
                        features=None if features is None else torch.as_tensor(
                            features, device=dev),
                        horizon=horizon, heads=[self.head_])
        return out

    def _check_horizon_fits(self, horizon):
        H = self.model_.config.max_horizon
        if horizon > H:
            raise ValueError(f"horizon={horizon} exceeds the checkpoint's max_horizon={H}; "
                             "JointFM predicts at most that many steps ahead.")

    def _draw(self, out, n_samples, rng, loc, scale):
        """Samples (B, n, H, N) float64 in observed units, drawn in chunks.

        The network's output is in the units of its input ``z``; ``loc`` and ``scale``
        (B, N) float64 map those back to observed units (``x = loc + scale * z``).
        """
        dist = out.distributions[self.head_]
        dev = dist.loc.device
        gen = torch.Generator(device=dev).manual_seed(int(rng.integers(0, 2**62)))
        chunks, left = [], n_samples
        while left > 0:
            n = min(left, int(self.n_samples_batch))
            kw = {"gamma_rng": rng} if isinstance(dist, JointSkewTMixture) else {}
            chunks.append(dist.sample_numpy(n, generator=gen, affine=(out.loc, out.scale),
                                            **kw))  # (B, n, H, N) float64
            left -= n
        samples = chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=1)
        _affine_inplace(samples, loc, scale)
        return samples

    # ------------------------------------------------------------------ sampling
    def _predict_samples(self, horizon, n_samples, rng):
        self._check_horizon_fits(horizon)
        feats = None if self.network_features_ is None else self.network_features_[None]
        out = self._forward(self.network_context_[None], feats, None, None, horizon)
        return self._draw(out, n_samples, rng, self.context_loc_[None],
                          self.context_scale_[None])[0]

    def predict_samples_batch(self, histories, horizon, n_samples=1000, random_state=None):
        """Zero-shot sample paths for many series sets at once (one forward pass).

        Uses the forecaster's checkpoint and head; ``fit`` is not needed.

        Parameters
        ----------
        histories : sequence of array-like of shape (n_timesteps_i, n_targets_i)
            Histories of possibly different lengths and numbers of targets; each is cut
            to its last ``context_length`` rows and padded/masked internally.
        horizon : int
        n_samples : int, default=1000
        random_state : int, Generator or None, default=None

        Returns
        -------
        ndarray of shape (n_series, n_samples, horizon, n_targets) when all series sets
        have the same number of targets, else a list of (n_samples, horizon, n_targets_i)
        arrays.
        """
        horizon = check_horizon(horizon)
        n_samples = check_n_samples(n_samples)
        model, head, _ = self._load()
        if not hasattr(self, "model_"):
            self.model_, self.head_ = model, head
        self._check_horizon_fits(horizon)
        T = self._max_context(self.model_)
        if isinstance(histories, np.ndarray) and histories.ndim == 3:
            histories = list(histories)
        if not isinstance(histories, (list, tuple)) or len(histories) == 0:
            raise ValueError("histories must be a non-empty sequence of 2-D arrays or a "
                             "3-D array (n_series, n_timesteps, n_targets).")
        arrays, locs, scales = [], [], []
        mode = self.model_.config.normalization
        for i, h in enumerate(histories):
            a = check_target_array(h, name=f"histories[{i}]")
            if a.shape[0] < MIN_HISTORY_ROWS:
                raise ValueError(f"histories[{i}] has {a.shape[0]} rows; JointFM needs at "
                                 f"least {MIN_HISTORY_ROWS}.")
            self._warn_short(a.shape[0], self.model_, what=f"histories[{i}]")
            z, loc, scale = _network_units(a[-T:], mode, what=f"histories[{i}]")
            arrays.append(z)
            locs.append(loc)
            scales.append(scale)
        S = len(arrays)
        L = max(a.shape[0] for a in arrays)
        N = max(a.shape[1] for a in arrays)
        self._warn_many_targets(N, self.model_, what="a series set in histories")
        ctx = np.zeros((S, L, N), np.float32)
        tmask = np.zeros((S, L), bool)
        vmask = np.zeros((S, N), bool)
        loc_all, scale_all = np.zeros((S, N)), np.ones((S, N))
        for i, a in enumerate(arrays):
            ctx[i, L - a.shape[0]:, :a.shape[1]] = a
            # left padding repeats the first row (the model masks it anyway)
            ctx[i, :L - a.shape[0], :a.shape[1]] = a[0]
            tmask[i, L - a.shape[0]:] = True
            vmask[i, :a.shape[1]] = True
            loc_all[i, :a.shape[1]], scale_all[i, :a.shape[1]] = locs[i], scales[i]
        out = self._forward(ctx, None, tmask, vmask, horizon)
        samples = self._draw(out, n_samples, self._rng(random_state), loc_all, scale_all)
        if all(a.shape[1] == N for a in arrays):
            return samples
        return [samples[i, :, :, :a.shape[1]] for i, a in enumerate(arrays)]

    # ------------------------------------------------------------------ finetuning
    def finetune(self, y=None, *, steps=100, lr=1e-4, batch_size=16, horizon=None,
                 random_state=None):
        """Fine-tune a private copy of the network on windows of one history.

        Windows of the history are split into a context (the rows before a cut) and the
        next ``horizon`` rows; the loss is the NLL of those rows (one future per window,
        all heads).  The forecaster is then refitted on ``y`` with the tuned network;
        a later :meth:`fit` starts again from the checkpoint (fit resets the state).

        Parameters
        ----------
        y : array-like of shape (n_timesteps, n_targets) or None
            History; None uses the one given to ``fit``.
        steps : int, default=100
        lr : float, default=1e-4
        batch_size : int, default=16
        horizon : int or None
            Future length of the windows; None is ``min(max_horizon, n_timesteps // 4)``.
        random_state : int or None

        Returns
        -------
        self
        """
        from types import SimpleNamespace

        from jointdist.models.jointfm.training import jointfm_loss

        if y is None:
            if not hasattr(self, "context_"):
                raise ValueError("finetune needs y, or a fitted forecaster.")
            values = np.asarray(self.context_, dtype=np.float64)
        else:
            values = check_target_array(y, name="y")
        steps = check_n_samples(steps)
        model, _, dev = self._load()
        c = model.config
        min_ctx = self._min_context(model)
        H = min(c.max_horizon, values.shape[0] // 4) if horizon is None else check_horizon(horizon)
        H = min(H, c.max_horizon)
        if values.shape[0] < min_ctx + H:
            raise ValueError(f"finetune needs at least {min_ctx + H} rows "
                             f"({min_ctx} of context + horizon {H}); y has {values.shape[0]}.")
        net = copy.deepcopy(getattr(self, "model_", model)).to(dev)
        for p in net.parameters():
            p.requires_grad_(True)
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
        rng = np.random.default_rng(random_state)
        T = c.context_length
        n_rows, n_targets = values.shape
        for _ in range(steps):
            cuts = rng.integers(min_ctx, n_rows - H + 1, batch_size)
            ctx = np.zeros((batch_size, T, n_targets), np.float32)
            fut = np.zeros((batch_size, 1, H, n_targets), np.float32)
            tmask = np.zeros((batch_size, T), bool)
            for i, k in enumerate(cuts):
                # each window in the network's units of its context, mapped in float64
                window = values[max(0, k - T):k + H]
                n_ctx = k - max(0, k - T)
                _, loc, scale = _network_units(window[:n_ctx], c.normalization)
                z = ((window - loc) / scale).astype(np.float32)
                ctx[i, T - n_ctx:] = z[:n_ctx]
                ctx[i, :T - n_ctx] = z[0]
                tmask[i, T - n_ctx:] = True
                fut[i, 0] = z[n_ctx:]
            ctx, fut, tmask = (torch.as_tensor(a, device=dev) for a in (ctx, fut, tmask))
            batch = SimpleNamespace(context=ctx, futures=fut, context_features=None,
                                    target_mask=torch.ones(batch_size, values.shape[1],
                                                           dtype=torch.bool, device=dev))
            loss, _ = jointfm_loss(net, batch, time_mask=tmask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.finetune_loss_ = float(loss.detach())
        self.model_ = net
        if y is not None:
            fitted_model = net
            self.fit(y)
            self.model_ = fitted_model
        return self
