"""Mixture-density-network marginals (seed 002, section 3.2-3.3 and Appendix B).

For every target ``i`` the one-step-ahead increment ``y_t^i`` is modelled by a mixture of
Normal, Laplace and Student-t components (eq. 3) whose weights, locations, scales and
degrees of freedom are functions of the last ``k`` increments of that target (the
order-``k`` Markov assumption, eq. 4):

* an LSTM reads the window ``(y_{t-k}, ..., y_{t-1})``;
* an MLP reads auxiliary path features of the window (:func:`window_features`: rolling
  volatilities, mean, last absolute move, maximum drawdown, path length, trend
  strength) and a learned embedding of the target;
* a head maps both to the mixture parameters.

With ``carry_steps = R`` (the ``"fast"`` preset) the LSTM does not re-read each window
from the zero state: it reads a path in stretches that start ``k`` values before a
group of ``R`` consecutive targets, so the prediction of the ``j``-th target of a
group (``j = 0 .. R - 1``) has the LSTM state after ``k + j`` values (the features are
still those of the last ``k``).  It is trained, evaluated (PIT, validation NLL) and
sampled that way alike: while sampling, the state is carried from one step to the
next and the window is re-read only every ``R`` steps (:func:`carried_mixtures`).

The network is trained by the negative log-likelihood with an entropy bonus on the
mixture weights (eq. 5).  One network is shared by all targets (the target embedding
lets it specialise), which keeps the fit within our CPU budget; the paper trains one
per asset.  Everything runs on increments divided by a per-target scale (the standard
deviation of the training increments), undone on output.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from jointdist.models.diffusion_copula._torch_context import seeded_torch, torch_generator
from jointdist.models.diffusion_copula.mixture import NLTMixture, mixture_log_prob

__all__ = [
    "FEATURE_NAMES",
    "MDNConfig",
    "MDNOutput",
    "MixtureDensityNetwork",
    "build_windows",
    "carried_mixtures",
    "fit_mdn",
    "window_features",
]

#: Names of the auxiliary features computed by :func:`window_features`.
FEATURE_NAMES = ("log_vol_short", "log_vol_window", "mean", "last_abs", "max_drawdown",
                 "path_length", "trend_strength")

#: Standardized increments fed to the network are clipped to this many scales, so that
#: one extreme draw along a sampled path cannot saturate the recurrence.
INPUT_CLIP = 10.0


def window_features(windows):
    """Auxiliary path features of standardized windows (torch).

    Parameters
    ----------
    windows : Tensor of shape (B, k)
        Standardized increments, oldest first.

    Returns
    -------
    Tensor of shape (B, len(FEATURE_NAMES))
        Log rolling volatility over the last ``min(5, k)`` steps and over the window,
        mean increment, last absolute increment, maximum drawdown of the cumulated
        window, mean absolute increment (path length / k) and trend strength
        ``|sum r| / sum |r|``.
    """
    import torch

    short = windows[:, -min(5, windows.shape[1]):]
    vol_short = torch.log(torch.sqrt((short**2).mean(1)) + 1e-2)
    vol_win = torch.log(torch.sqrt((windows**2).mean(1)) + 1e-2)
    mean = windows.mean(1)
    last_abs = windows[:, -1].abs()
    cum = torch.cumsum(windows, dim=1)
    running_max = torch.cummax(torch.cat([torch.zeros_like(cum[:, :1]), cum], 1), dim=1)[0]
    drawdown = (running_max[:, 1:] - cum).amax(1)
    abs_sum = windows.abs().sum(1)
    path_length = abs_sum / windows.shape[1]
    trend = windows.sum(1).abs() / (abs_sum + 1e-6)
    return torch.stack([vol_short, vol_win, mean, last_abs, drawdown, path_length, trend], 1)


@dataclass
class MDNConfig:
    """Architecture of :class:`MixtureDensityNetwork` (seed 002, Appendix B).

    The paper's marginal network is ``lstm_hidden=128, lstm_layers=5`` per asset; the
    defaults of :class:`~jointdist.models.diffusion_copula.DiffusionCopulaForecaster`
    are much smaller so that a fit stays within two minutes on two CPU cores.
    """

    n_targets: int
    window: int = 14
    n_normal: int = 3
    n_laplace: int = 3
    n_student: int = 3
    lstm_hidden: int = 32
    lstm_layers: int = 1
    mlp_hidden: int = 32
    embedding_dim: int = 4
    temperature: float = 0.5
    #: None: every window is read from the zero state (order-``k`` Markov); an int
    #: ``R``: the LSTM state is carried over groups of ``R`` targets (module docstring).
    carry_steps: int | None = None

    @property
    def n_components(self) -> int:
        return self.n_normal + self.n_laplace + self.n_student


@dataclass
class MDNOutput:
    """Mixture parameters returned by :class:`MixtureDensityNetwork` (torch tensors).

    Attributes
    ----------
    log_weights, loc, scale : Tensor of shape (B, C)
    df : Tensor of shape (B, n_student)
    n_normal, n_laplace : int
    """

    log_weights: object
    loc: object
    scale: object
    df: object
    n_normal: int
    n_laplace: int

    def log_prob(self, y):
        """Mixture log density at ``y`` of shape (B,) (eq. 3)."""
        return mixture_log_prob(y, self.log_weights, self.loc, self.scale, self.df,
                                self.n_normal, self.n_laplace)

    def entropy_of_weights(self):
        """Entropy ``H(pi) = -sum_k pi_k log pi_k`` of the mixture weights, shape (B,)."""
        return -(self.log_weights.exp() * self.log_weights).sum(1)

    def to_numpy(self) -> NLTMixture:
        """The same mixtures as a float64 :class:`NLTMixture` (for CDF and inverse CDF)."""
        def np64(t):
            return t.detach().double().cpu().numpy()

        return NLTMixture(np.exp(np64(self.log_weights)), np64(self.loc), np64(self.scale),
                          np64(self.df), self.n_normal, self.n_laplace)


def MixtureDensityNetwork(config: MDNConfig):  # noqa: N802 - a factory that reads like a class
    """Build the mixture density network :class:`torch.nn.Module` from an :class:`MDNConfig`."""
    from jointdist.models.diffusion_copula._nets import MixtureDensityNetworkModule

    return MixtureDensityNetworkModule(config)


def build_windows(z: np.ndarray, window: int):
    """Training windows of standardized increments.

    Parameters
    ----------
    z : ndarray of shape (T, N)
        Standardized increments.
    window : int
        ``k``.

    Returns
    -------
    windows : ndarray of shape (T - k, N, k)
        ``windows[j, i] = z[j : j + k, i]``, the history of ``z[j + k, i]``.
    targets : ndarray of shape (T - k, N)
        ``z[k:]``.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(z[:-1], window, axis=0)  # (T - k, N, k)
    return np.ascontiguousarray(win), z[window:]


@dataclass
class MDNTrainResult:
    model: object
    n_epochs: int
    best_val_nll: float
    history: dict
    best_epoch: int = 0


def fit_mdn(windows, targets, config: MDNConfig, *, n_val_rows: int, learning_rate=3e-3,
            weight_decay=1e-5, entropy_weight=0.01, batch_size=256, max_epochs=200,
            patience=15, seed=0, device="cpu", verbose=False) -> MDNTrainResult:
    """Train a mixture density network by NLL minus an entropy bonus (eq. 5).

    Parameters
    ----------
    windows : ndarray of shape (M, N, k)
    targets : ndarray of shape (M, N)
        From :func:`build_windows`.  With ``config.carry_steps`` the series they were
        cut from is read in groups of that many targets instead (random offsets per
        epoch; see ``_chunk_batches``).
    config : MDNConfig
    n_val_rows : int
        The last ``n_val_rows`` time rows are the validation tail used for early
        stopping (0: no early stopping, train ``max_epochs``).
    learning_rate, weight_decay : float
        Adam settings (the paper: weight decay 1e-5, OneCycle with peak 3e-5 on a GPU;
        our small CPU budget needs a larger constant rate).
    entropy_weight : float
        ``lambda`` of eq. 5.  The paper writes ``+ lambda H(pi)`` but states that the
        term *encourages* diverse use of the components, which is ``- lambda H(pi)``
        in a loss to minimise; we follow the stated purpose.
    batch_size, max_epochs, patience : int
    seed : int
    device : torch.device
    verbose : bool

    Returns
    -------
    MDNTrainResult
        The model with the best validation NLL (in eval mode), the epochs run, that NLL,
        the per-epoch history and the epoch of the best NLL (``max_epochs`` without
        validation).
    """
    import torch

    m, n, k = windows.shape
    with seeded_torch(seed, device):
        model = MixtureDensityNetwork(config).to(device)
    gen = torch_generator(seed + 7, "cpu")
    n_train_rows = m - n_val_rows
    carry = getattr(config, "carry_steps", None)
    if carry is None:
        batches, val = _window_batches(windows, targets, n_train_rows, batch_size, device)
    else:
        batches, val = _chunk_batches(windows, targets, n_train_rows, carry, batch_size,
                                      device)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    best, best_state, bad, best_epoch = math.inf, None, 0, max_epochs
    history = {"train_nll": [], "val_nll": []}
    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=max_epochs, desc="MDN marginals", leave=False)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        total, n_obs = 0.0, 0
        for out, y in batches(model, gen):
            nll = -out.log_prob(y).mean()
            loss = nll - entropy_weight * out.entropy_of_weights().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += float(nll.detach()) * y.numel()
            n_obs += y.numel()
        history["train_nll"].append(total / max(n_obs, 1))
        if val is not None:
            model.eval()
            with torch.no_grad():
                v = float(val(model))
            history["val_nll"].append(v)
            if progress is not None:
                progress.set_postfix(val_nll=f"{v:.4f}")
            if v < best - 1e-4:
                best, bad, best_epoch = v, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
        if progress is not None:
            progress.update(1)
        if val is not None and bad >= patience:
            break
    if progress is not None:
        progress.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return MDNTrainResult(model, epoch, best, history, best_epoch)


def _window_batches(windows, targets, n_train_rows, batch_size, device):
    """Shuffled minibatches of whole windows, each read from the zero state, and the
    validation NLL on the windows of rows ``n_train_rows:``."""
    import torch

    m, n, k = windows.shape
    tidx = np.tile(np.arange(n), (m, 1))

    def flat(rows):
        w = torch.as_tensor(windows[rows].reshape(-1, k), dtype=torch.float32, device=device)
        t = torch.as_tensor(tidx[rows].reshape(-1), dtype=torch.long, device=device)
        y = torch.as_tensor(targets[rows].reshape(-1), dtype=torch.float32, device=device)
        return w, t, y

    w_tr, t_tr, y_tr = flat(slice(0, n_train_rows))
    n_obs = w_tr.shape[0]

    def batches(model, gen):
        perm = torch.randperm(n_obs, generator=gen).to(device)
        for start in range(0, n_obs, batch_size):
            b = perm[start:start + batch_size]
            yield model(w_tr[b], t_tr[b]), y_tr[b]

    if n_train_rows == m:
        return batches, None
    w_va, t_va, y_va = flat(slice(n_train_rows, m))

    def val(model):
        return -model(w_va, t_va).log_prob(y_va).mean()

    return batches, val


def _series(windows, targets):
    """The standardized series (T, N) that ``build_windows`` cut into ``windows``."""
    return np.concatenate([windows[0].T, targets], axis=0)


def _chunk_batches(windows, targets, n_train_rows, carry, batch_size, device):
    """Minibatches of stretches read with a carried LSTM state (``MDNConfig.carry_steps``).

    Every epoch cuts the training rows into groups of ``carry`` consecutive targets
    from a random offset (so that each target is predicted at every position of a
    group over the epochs; the at most ``2 carry - 2`` rows at the two ends that no
    whole group covers in an epoch are left out of it), and shuffles the (group,
    target) sequences into batches of about ``batch_size`` predictions.  The validation
    NLL is that of :func:`carried_mixtures` on rows ``n_train_rows:``, the groups
    starting at its first row.
    """
    import torch

    m, n, k = windows.shape
    z = torch.as_tensor(_series(windows, targets), dtype=torch.float32, device=device)
    seqs_per_batch = max(1, int(round(batch_size / carry)))
    tidx_all = torch.arange(n, device=device)

    def batches(model, gen):
        offset = int(torch.randint(carry, (1,), generator=gen))
        if n_train_rows < carry:  # too few rows for one group: one shorter group
            starts, span = torch.zeros(1, dtype=torch.long), n_train_rows
        else:
            offset = min(offset, n_train_rows - carry)
            starts = torch.arange(offset, n_train_rows - carry + 1, carry)
            span = carry
        idx = (starts[:, None] + torch.arange(k + span - 1)).to(device)
        seqs = z[idx].permute(0, 2, 1).reshape(-1, k + span - 1)  # (G N, L)
        ys = z[idx[:, k - 1:] + 1].permute(0, 2, 1).reshape(-1, span)  # (G N, span)
        tidx = tidx_all.repeat(starts.numel())
        perm = torch.randperm(seqs.shape[0], generator=gen).to(device)
        for start in range(0, seqs.shape[0], seqs_per_batch):
            b = perm[start:start + seqs_per_batch]
            raw = model.chunk_output(seqs[b], tidx[b])
            yield model.output_from_raw(raw.reshape(-1, raw.shape[-1])), ys[b].reshape(-1)

    if n_train_rows == m:
        return batches, None
    z_val = z[n_train_rows:]  # the windows and targets of rows n_train_rows:
    y_val = z_val[k:].reshape(-1)

    def val(model):
        raw = _carried_raw(model, z_val, carry)
        return -model.output_from_raw(raw.reshape(-1, raw.shape[-1])).log_prob(y_val).mean()

    return batches, val


def _carried_raw(model, z, carry):
    """Raw head outputs (T - k, N, out) for the targets ``z[k:]`` of a standardized
    series ``z`` (T, N) (torch), read in groups of ``carry`` from its start."""
    import torch

    k = model.config.window
    n_rows, n = z.shape[0] - k, z.shape[1]
    tidx = torch.arange(n, device=z.device)
    parts = []
    n_full = n_rows // carry
    if n_full:  # the whole groups in one call
        idx = (torch.arange(n_full) * carry)[:, None] + torch.arange(k + carry - 1)
        seqs = z[idx.to(z.device)].permute(0, 2, 1).reshape(-1, k + carry - 1)
        raw = model.chunk_output(seqs, tidx.repeat(n_full))  # (G N, carry, out)
        parts.append(raw.reshape(n_full, n, carry, -1).permute(0, 2, 1, 3).reshape(
            n_full * carry, n, -1))
    rest = n_rows - n_full * carry
    if rest:  # a last, shorter group
        seqs = z[n_full * carry:].T  # (N, k + rest)
        raw = model.chunk_output(seqs[:, :k + rest - 1], tidx)  # (N, rest, out)
        parts.append(raw.permute(1, 0, 2))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def carried_mixtures(model, z, device) -> NLTMixture:
    """Mixtures of the targets ``z[k:]`` of a standardized series ``z`` (T, N), read as
    the ``carry_steps`` model is sampled (groups of ``carry_steps`` from ``z``'s start).

    Returns
    -------
    NLTMixture with batch shape (T - k, N), in standardized units
    """
    import torch

    zt = torch.as_tensor(z, dtype=torch.float32, device=device)
    with torch.no_grad():
        raw = _carried_raw(model, zt, model.config.carry_steps)
    n_rows, n = raw.shape[0], raw.shape[1]
    mix = raw_to_mixture(raw.reshape(n_rows * n, -1).double().cpu().numpy(), model.config)
    c = mix.weights.shape[1]
    return NLTMixture(mix.weights.reshape(n_rows, n, c), mix.loc.reshape(n_rows, n, c),
                      mix.scale.reshape(n_rows, n, c), mix.df.reshape(n_rows, n, -1),
                      mix.n_normal, mix.n_laplace)


def mdn_mixtures(model, windows, target_idx, device, chunk_size=65536, *, state=None,
                 n_known=0) -> NLTMixture:
    """Evaluate the network on standardized windows and return numpy mixtures.

    The network's raw output is turned into mixture parameters in float64 numpy (the
    same transforms as :meth:`MixtureDensityNetworkModule.forward`: tempered
    log-softmax, softplus), cheaper there than in torch on narrow column slices.

    Parameters
    ----------
    model : MixtureDensityNetwork
    windows : ndarray or Tensor of shape (B, k)
    target_idx : ndarray or Tensor of shape (B,)
    state : tuple of Tensor, optional
        LSTM state after the first ``n_known`` values of every window (see
        ``head_output``), shapes (lstm_layers, B, lstm_hidden).
    n_known : int, default=0

    Returns
    -------
    NLTMixture with batch shape (B,), in standardized units
    """
    import torch

    w = torch.as_tensor(windows, dtype=torch.float32, device=device)
    t = torch.as_tensor(target_idx, dtype=torch.long, device=device)
    parts = []
    with torch.no_grad():
        for start in range(0, w.shape[0], chunk_size):
            sl = slice(start, start + chunk_size)
            st = None if state is None else tuple(s[:, sl] for s in state)
            parts.append(model.head_output(w[sl], t[sl], st, n_known))
    raw = (parts[0] if len(parts) == 1 else torch.cat(parts)).double().cpu().numpy()
    return raw_to_mixture(raw, model.config)


def raw_to_mixture(raw: np.ndarray, cfg: MDNConfig) -> NLTMixture:
    """Mixture parameters from the raw head output (B, 3 C + n_student), in float64.

    ``weights = softmax(logits / temperature)``, ``scale = softplus + 1e-3``, ``df = 2
    + softplus + 1e-3`` (as in the module's ``forward``, which does it in torch).
    """
    c = cfg.n_components
    logits = raw[:, :c] / cfg.temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    r = raw[:, 2 * c:]
    soft = np.maximum(r, 0.0) + np.log1p(np.exp(-np.abs(r)))  # softplus, overflow-free
    return NLTMixture(weights, np.ascontiguousarray(raw[:, c:2 * c]), soft[:, :c] + 1e-3,
                      2.0 + soft[:, c:] + 1e-3, cfg.n_normal, cfg.n_laplace)
