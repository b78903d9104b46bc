"""torch modules of the diffusion-copula models, at module level so that they pickle.

Imported lazily by :mod:`.copula` and :mod:`.marginals` (importing jointdist does not
import torch).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from jointdist.models.diffusion_copula.copula import CDCConfig
from jointdist.models.diffusion_copula.marginals import (
    FEATURE_NAMES,
    INPUT_CLIP,
    MDNConfig,
    MDNOutput,
    window_features,
)

__all__ = ["CDCClassifierModule", "MixtureDensityNetworkModule"]


class _ResidualBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.lin1 = nn.Linear(width, width)
        self.lin2 = nn.Linear(width, width)

    def forward(self, h):
        return h + self.lin2(torch.nn.functional.silu(self.lin1(self.norm(h))))


class CDCClassifierModule(nn.Module):
    """Residual MLP ``x -> K`` logits (plus an optional quadratic form per class)."""

    def __init__(self, cfg: CDCConfig):
        super().__init__()
        self.config = cfg
        self.inp = nn.Linear(cfg.n_dims, cfg.hidden_size)
        self.blocks = nn.ModuleList(_ResidualBlock(cfg.hidden_size)
                                    for _ in range(cfg.n_blocks))
        self.out = nn.Linear(cfg.hidden_size, cfg.n_times)
        nn.init.zeros_(self.out.weight)  # start from uniform class probabilities
        nn.init.zeros_(self.out.bias)
        if cfg.quadratic_head:
            self.quad = nn.Parameter(torch.zeros(cfg.n_times, cfg.n_dims, cfg.n_dims))
        else:
            self.register_parameter("quad", None)

    def forward(self, x):
        h = torch.nn.functional.silu(self.inp(x))
        for block in self.blocks:
            h = block(h)
        logits = self.out(torch.nn.functional.silu(h))
        if self.quad is not None:
            k, d = self.quad.shape[0], self.quad.shape[1]
            a = 0.5 * (self.quad + self.quad.transpose(1, 2))  # (K, d, d) symmetric
            # x' A_k x for all k with one matmul: (B, d) @ (d, K d) -> (B, K, d)
            xa = (x @ a.permute(1, 0, 2).reshape(d, k * d)).reshape(-1, k, d)
            logits = logits - 0.5 * (xa * x[:, None, :]).sum(-1)
        return logits

    def log_ratio(self, x, s: int):
        """``F_s(x) = logit_s(x) - logit_{K-1}(x)`` only (cheaper than all K logits)."""
        h = torch.nn.functional.silu(self.inp(x))
        for block in self.blocks:
            h = block(h)
        w = self.out.weight[s] - self.out.weight[-1]
        f = torch.nn.functional.silu(h) @ w + (self.out.bias[s] - self.out.bias[-1])
        if self.quad is not None:
            diff = self.quad[s] - self.quad[-1]
            a = 0.5 * (diff + diff.T)
            f = f - 0.5 * ((x @ a) * x).sum(-1)
        return f


class MixtureDensityNetworkModule(nn.Module):
    """LSTM + MLP mixture density network; ``forward`` returns an :class:`MDNOutput`."""

    def __init__(self, cfg: MDNConfig):
        super().__init__()
        self.config = cfg
        self.lstm = nn.LSTM(1, cfg.lstm_hidden, num_layers=cfg.lstm_layers,
                            batch_first=True)
        self.embedding = nn.Embedding(cfg.n_targets, cfg.embedding_dim)
        n_feat = len(FEATURE_NAMES) + cfg.embedding_dim
        self.mlp = nn.Sequential(nn.Linear(n_feat, cfg.mlp_hidden), nn.SiLU(),
                                 nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden), nn.SiLU())
        c = cfg.n_components
        self.head = nn.Sequential(
            nn.Linear(cfg.lstm_hidden + cfg.mlp_hidden, cfg.mlp_hidden), nn.SiLU(),
            nn.Linear(cfg.mlp_hidden, 3 * c + cfg.n_student))
        # break the symmetry of the components: start the scales of each family at
        # 0.5, 1 and 2 (and so on), the Student-t degrees of freedom near 5
        with torch.no_grad():
            last = self.head[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()
            fam = [cfg.n_normal, cfg.n_laplace, cfg.n_student]
            scales = np.concatenate([np.geomspace(0.5, 2.0, m) if m > 1 else np.ones(m)
                                     for m in fam])
            inv_softplus = np.log(np.expm1(scales))
            last.bias[2 * c:3 * c] = torch.as_tensor(inv_softplus, dtype=torch.float32)
            last.bias[3 * c:] = float(np.log(np.expm1(3.0)))  # df = 2 + 3

    def lstm_state(self, windows):
        """LSTM state ``(h, c)`` after reading ``windows`` (B, j) from the zero state."""
        x = windows.clamp(-INPUT_CLIP, INPUT_CLIP)
        _, state = self.lstm(x[:, :, None])
        return state

    def head_output(self, windows, target_idx, state=None, n_known=0):
        """Raw head output (B, 3 C + n_student): logits, locations and the
        pre-softplus scales and degrees of freedom.

        ``state`` (from :meth:`lstm_state`) is the LSTM state after the first
        ``n_known`` values of each window, which are then not read again: the same
        output as from the whole window, for less work when many windows share their
        beginning (the first steps of sampled paths).
        """
        x = windows.clamp(-INPUT_CLIP, INPUT_CLIP)
        if state is None:
            _, (h, _) = self.lstm(x[:, :, None])
        elif n_known >= x.shape[1]:
            h = state[0]
        else:
            _, (h, _) = self.lstm(x[:, n_known:, None], state)
        return self.head_from_lstm(h[-1], x, target_idx)

    def head_from_lstm(self, h_top, windows, target_idx):
        """Raw head output from the top LSTM layer's output ``h_top`` (B, lstm_hidden)
        and the (clamped) windows (B, k) that the path features are computed on."""
        feats = torch.cat([window_features(windows), self.embedding(target_idx)], 1)
        return self.head(torch.cat([h_top, self.mlp(feats)], 1))

    def chunk_output(self, seqs, target_idx):
        """Raw head outputs along sequences read with a carried LSTM state.

        ``seqs`` (B, L) with ``L >= k`` are read from the zero state; the output at
        position ``j = 0 .. L - k`` is the prediction of the value after
        ``seqs[:, :k + j]``: the LSTM state after those ``k + j`` values, the path
        features of the last ``k`` of them.  Shape (B, L - k + 1, 3 C + n_student).
        """
        k = self.config.window
        x = seqs.clamp(-INPUT_CLIP, INPUT_CLIP)
        hs, _ = self.lstm(x[:, :, None])  # (B, L, H): the top layer after each value
        b, n_out = x.shape[0], x.shape[1] - k + 1
        h_top = hs[:, k - 1:].reshape(b * n_out, -1)
        windows = x.unfold(1, k, 1).reshape(b * n_out, k)
        raw = self.head_from_lstm(h_top, windows, target_idx.repeat_interleave(n_out))
        return raw.reshape(b, n_out, -1)

    def output_from_raw(self, out) -> MDNOutput:
        """:class:`MDNOutput` of raw head outputs (B, 3 C + n_student)."""
        cfg = self.config
        c = cfg.n_components
        logits, loc = out[:, :c], out[:, c:2 * c]
        scale = F.softplus(out[:, 2 * c:3 * c]) + 1e-3
        df = 2.0 + F.softplus(out[:, 3 * c:]) + 1e-3  # finite variance
        # temperature scaling of the weights (Appendix B: tau = 0.5)
        log_weights = torch.log_softmax(logits / cfg.temperature, dim=1)
        return MDNOutput(log_weights, loc, scale, df, cfg.n_normal, cfg.n_laplace)

    def forward(self, windows, target_idx) -> MDNOutput:
        return self.output_from_raw(self.head_output(windows, target_idx))


class FlowVelocityModule(nn.Module):
    """Residual MLP ``(x, t) -> v`` of the flow-matching copula; ``t`` enters through
    Fourier features ``(t, sin 2 pi j t, cos 2 pi j t)``, j = 1..n_frequencies."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        n_time = 1 + 2 * cfg.n_frequencies
        self.inp = nn.Linear(cfg.n_dims + n_time, cfg.hidden_size)
        self.blocks = nn.ModuleList(_ResidualBlock(cfg.hidden_size)
                                    for _ in range(cfg.n_blocks))
        self.out = nn.Linear(cfg.hidden_size, cfg.n_dims)
        nn.init.zeros_(self.out.weight)  # start from the zero velocity field
        nn.init.zeros_(self.out.bias)
        freq = 2.0 * np.pi * np.arange(1, cfg.n_frequencies + 1)
        self.register_buffer("freq", torch.as_tensor(freq, dtype=torch.float32))

    def forward(self, x, t):
        """Velocity at points ``x`` (B, d) and times ``t`` (B,) in [0, 1]."""
        angle = t[:, None] * self.freq.to(x.dtype)
        feats = torch.cat([x, t[:, None], torch.sin(angle), torch.cos(angle)], 1)
        h = torch.nn.functional.silu(self.inp(feats))
        for block in self.blocks:
            h = block(h)
        return self.out(torch.nn.functional.silu(h))
