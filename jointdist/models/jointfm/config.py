"""Architecture hyper-parameters of JointFM, saved next to the weights as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = ["JointFMConfig", "NORMALIZATIONS", "HEADS"]

#: Scale handling of the context and outputs (see docs/models/jointfm.md, "Scale handling").
NORMALIZATIONS = ("increment", "increment_stats", "revin")
#: Distributional heads.
HEADS = ("gmm", "skewt")


@dataclass
class JointFMConfig:
    """Architecture of a :class:`~jointdist.models.jointfm.JointFM` network.

    Parameters
    ----------
    context_length : int, default=504
        Longest context ``T`` (in steps); shorter contexts are left-padded and masked.
    max_horizon : int, default=63
        Number of horizons the decoder predicts; any ``H <= max_horizon`` can be used.
    patch_size : int, default=24
        Steps per patch; ``context_length`` must be a multiple of it.
    d_model : int, default=64
        Width of the token embeddings.
    n_heads : int, default=4
        Attention heads (``d_model`` must be divisible by it).
    n_blocks : int, default=2
        Number of blocks; each block is one time-attention layer followed by one
        variable-attention layer.
    d_ff : int, default=128
        Hidden width of the feed-forward layers and of the decoder MLP.
    dropout : float, default=0.0
    heads : tuple of str, default=("gmm", "skewt")
        Distributional heads the network carries (any non-empty subset of
        ``("gmm", "skewt")``); they share the trunk.
    n_components : int, default=3
        Mixture components ``K`` of each head.
    rank : int, default=2
        Rank ``r`` of the low-rank part of the covariance / scale matrices
        ``diag(d) + L L'`` (``L`` has one row of ``r`` loadings per target, so the
        parameter count is independent of ``N``).
    normalization : {"increment", "increment_stats", "revin"}, default="increment"
        Scale handling (chosen by the experiment recorded in the docs).
        ``"increment"``: every series is mapped to ``(x - x_T) / s`` with ``x_T`` its last
        value and ``s`` the standard deviation of its context increments;
        ``"increment_stats"``: the same, plus ``log s`` and the context mean and standard
        deviation (in units of ``s``) fed to the network as a per-series token;
        ``"revin"``: ``(x - mean) / std`` of the context levels (the "naive" scaling).
    max_nu : float, default=60.0
        Upper bound of the skew-t degrees of freedom (``nu = 2 + (max_nu - 2) sigmoid``).
    cf_iterations : int, default=40
        Continued-fraction terms of the Student-t CDF in the skew-t log-density.
    empirical_rank : int, default=0
        Rank ``q`` of the *empirical dependence* path (0 disables it).  The network
        reads the correlation matrix ``C`` of the context's target increments (weighted
        by ``dependence_halflife``) and its top-``q`` eigen-loadings ``E`` (``E E'`` is
        the best rank-``q`` approximation of ``C``); every target, horizon and component
        gets a learned trust ``kappa`` in (0, 1), and the covariance becomes
        ``s (I - kappa comm) s + (s sqrt(kappa) E)(s sqrt(kappa) E)' + L L'`` -- the
        empirical correlation, shrunk by ``kappa``, at an unchanged marginal variance.
        The learned loadings ``L`` alone did not pick up cross-target correlation in
        training (docs/models/jointfm.md, "Cross-target dependence").
    dependence_halflife : float, default=252.0
        Half-life in steps of the exponential weights of that correlation estimate
        (0: equal weights).
    """

    context_length: int = 504
    max_horizon: int = 63
    patch_size: int = 24
    d_model: int = 64
    n_heads: int = 4
    n_blocks: int = 2
    d_ff: int = 128
    dropout: float = 0.0
    heads: tuple = ("gmm", "skewt")
    n_components: int = 3
    rank: int = 2
    normalization: str = "increment"
    max_nu: float = 60.0
    cf_iterations: int = 40
    empirical_rank: int = 0
    dependence_halflife: float = 252.0

    def __post_init__(self):
        self.heads = tuple(self.heads)
        for name in ("context_length", "max_horizon", "patch_size", "d_model", "n_heads",
                     "n_blocks", "d_ff", "n_components", "cf_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 0:
            raise ValueError(f"rank must be a non-negative integer; got {self.rank!r}.")
        if isinstance(self.empirical_rank, bool) or not isinstance(self.empirical_rank, int) \
                or self.empirical_rank < 0:
            raise ValueError(f"empirical_rank must be a non-negative integer; "
                             f"got {self.empirical_rank!r}.")
        if not self.dependence_halflife >= 0.0:
            raise ValueError(f"dependence_halflife must be >= 0; got "
                             f"{self.dependence_halflife!r}.")
        if self.context_length % self.patch_size:
            raise ValueError(f"context_length ({self.context_length}) must be a multiple of "
                             f"patch_size ({self.patch_size}).")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads "
                             f"({self.n_heads}).")
        if not self.heads or any(h not in HEADS for h in self.heads) \
                or len(set(self.heads)) != len(self.heads):
            raise ValueError(f"heads must be a non-empty subset of {HEADS}; got {self.heads!r}.")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}; "
                             f"got {self.normalization!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}.")
        if not self.max_nu > 2.0:
            raise ValueError(f"max_nu must be > 2; got {self.max_nu!r}.")

    @property
    def n_patches(self) -> int:
        return self.context_length // self.patch_size

    def to_dict(self) -> dict:
        out = asdict(self)
        out["heads"] = list(self.heads)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "JointFMConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown JointFMConfig field(s) {sorted(unknown)}.")
        return cls(**data)

    def to_json(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path) -> "JointFMConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"JointFM config file {path} does not exist.") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"JointFM config file {path} is not valid JSON ({exc}).") from exc
        return cls.from_dict(data)
