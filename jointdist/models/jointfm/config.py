"""Architecture hyper-parameters of JointFM, saved next to the weights as JSON."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = ["JointFMConfig", "NORMALIZATIONS", "HEADS"]

#: Scale handling of the context and outputs (see docs/models/jointfm.md, "Scale handling").
NORMALIZATIONS = ("increment", "increment_stats", "revin")
#: Distributional heads.
HEADS = ("gmm", "skewt")
#: Which variance the empirical dependence path takes its share kappa of.
DEPENDENCE_SHARES = ("diagonal", "total")


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
        Upper bound of the skew-t degrees of freedom (``nu = 2 + (max_nu - 2) sigmoid``);
        finite and above 8, the degrees of freedom the skew-t head starts from.
    cf_iterations : int, default=40
        Continued-fraction terms of the Student-t CDF in the skew-t log-density.
    empirical_rank : int or "full", default=0
        Rank ``q`` of the *empirical dependence* path (0 disables it; ``"full"``: ``q = N``,
        the whole context correlation, no truncation).  The network
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
    volatility_halflife : float or "auto", default=0.0
        0: that correlation is of the raw increments.  ``> 0``: of the increments,
        centred, divided by their exponentially weighted volatility before each step,
        with this half-life in steps (standardized residuals, as in DCC's first stage;
        raw increments attenuate the correlation where volatilities vary).  ``"auto"``:
        the half-life chosen per series by quasi-likelihood among
        ``AUTO_VOLATILITY_HALFLIVES`` (``inf``: not standardized), see
        :func:`~jointdist.models.jointfm.model.select_volatility_halflife`.  It feeds
        the empirical path and, with ``correlation_bias``, the trunk.
    correlation_bias : bool, default=False
        Let the trunk see the context correlation ``C``: every variable-attention layer
        adds a learned per-head bias ``w_h . (c_ij, |c_ij|, 1[i = j])`` to its attention
        logits, and each target's token gets a learned embedding of its mean and largest
        correlation with the others, so that the trust ``kappa`` (and everything else)
        can depend on the context's cross-series structure.
    trust_offset : float, default=0.0
        A fixed logit added to the learned trust, ``kappa = sigmoid(raw + trust_offset)``:
        a prior towards full trust (``kappa -> 1``) that the network corrects where its
        inputs call for it.  Because the sigmoid saturates, a large offset (e.g. 4:
        ``kappa >= 0.98`` where ``raw >= 0``) makes shrinking the context's correlation
        cost consistent evidence in training, instead of the default's free shrinkage
        (issue 19: the learned shrinkage of v2 did not generalize to held-out systems).
        Ignored without the empirical path.
    dependence_share : {"diagonal", "total"}, default="diagonal"
        Which variance the empirical path takes its share ``kappa`` of.  ``"diagonal"``
        (the form above, every checkpoint up to v4): the diagonal part ``s^2`` only, so
        the learned loadings ``L`` add variance the context correlation does not reach
        and the component's correlation is ``kappa C`` *diluted* by ``s^2 / (s^2 +
        ||L||^2)``.  ``"total"``: the whole variance ``v = s^2
        + ||L||^2``, ``S = (1 - kappa)(s^2 + L L') + kappa (v^1/2 C v^1/2)`` (``C`` as
        ``E E'`` plus its residual diagonal), so the correlation is ``(1 - kappa)
        corr_L + kappa C`` at the same marginal variance: ``kappa = 1`` means the
        context's correlation (issue 19; on the v2 weights, whose learned loadings are
        small, it changes little by itself: docs/models/jointfm.md, "Why full trust
        still misses").  Ignored without the empirical path.
    harmonic_frequencies : int, default=0
        Frequencies of the *harmonic drift* path (0 disables it).  For every target the
        network fits one sinusoid ``c cos(w t) + s sin(w t)`` (with an intercept) to the
        context's normalized increments at each of this many frequencies, evenly spaced
        from ``harmonic_min_cycles`` to ``harmonic_max_cycles`` cycles per
        ``context_length`` steps, and reads each fit's likelihood-ratio statistic ``F =
        n log(TSS / RSS)`` (``n`` increments, total and residual sums of squares).  The location of
        every head gets ``g_h sum_w p_w E_w(h)``: ``E_w(h)`` is the fitted sinusoid's
        extrapolation summed over the next ``h`` steps, ``p_w`` a learned softmax over
        the frequencies that starts at ``exp(F_w / 2)`` (the posterior of the frequency
        of one sinusoid in white noise under a flat prior), and ``g_h`` a learned gate
        per horizon that starts at 0 (a warm start begins from the source network's
        function).  Sinusoidal forcing is the part of the curriculum the patches did not
        learn to extrapolate (docs/models/jointfm.md, "Where v2's distance is at level 7").
    harmonic_min_cycles, harmonic_max_cycles : float, default=1.0, 20.0
        The frequency grid of that path, in cycles per ``context_length`` steps
        (``0 < min <= max < context_length / 2``; checked only when the path is on).
    trained_n_targets : (int, int) or None, default=None
        Smallest and largest number of targets of the systems the weights were trained
        on, recorded by the training script (not an architecture setting: the network
        takes any number).  :class:`~jointdist.models.jointfm.JointFMForecaster` warns
        when it is given more targets than the largest; None means unknown.
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
    volatility_halflife: float | str = 0.0
    correlation_bias: bool = False
    trust_offset: float = 0.0
    dependence_share: str = "diagonal"
    harmonic_frequencies: int = 0
    harmonic_min_cycles: float = 1.0
    harmonic_max_cycles: float = 20.0
    trained_n_targets: tuple | None = None

    def __post_init__(self):
        if isinstance(self.heads, str) or not isinstance(self.heads, (list, tuple)):
            raise ValueError(f"heads must be a list of head names from {HEADS}; got "
                             f"{self.heads!r}.")
        self.heads = tuple(self.heads)
        for name in ("context_length", "max_horizon", "patch_size", "d_model", "n_heads",
                     "n_blocks", "d_ff", "n_components", "cf_iterations"):
            setattr(self, name, _integer(name, getattr(self, name), minimum=1))
        self.rank = _integer("rank", self.rank, minimum=0)
        self.harmonic_frequencies = _integer("harmonic_frequencies",
                                             self.harmonic_frequencies, minimum=0)
        if self.empirical_rank != "full":
            try:
                self.empirical_rank = _integer("empirical_rank", self.empirical_rank,
                                               minimum=0)
            except ValueError:
                raise ValueError(f"empirical_rank must be an integer >= 0 or 'full'; got "
                                 f"{self.empirical_rank!r}.") from None
        if not isinstance(self.correlation_bias, bool):
            raise ValueError(f"correlation_bias must be true or false; got "
                             f"{self.correlation_bias!r}.")
        if isinstance(self.volatility_halflife, str) and self.volatility_halflife != "auto":
            raise ValueError(f"volatility_halflife must be a number >= 0 or 'auto'; got "
                             f"{self.volatility_halflife!r}.")
        names = ["dropout", "max_nu", "dependence_halflife", "trust_offset",
                 "harmonic_min_cycles", "harmonic_max_cycles"]
        if self.volatility_halflife != "auto":
            names.append("volatility_halflife")
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or math.isnan(value):
                raise ValueError(f"{name} must be a real number; got {value!r}.")
            setattr(self, name, float(value))
        if not math.isfinite(self.trust_offset):
            raise ValueError(f"trust_offset must be finite; got {self.trust_offset!r}.")
        if not isinstance(self.dependence_share, str) \
                or self.dependence_share not in DEPENDENCE_SHARES:
            raise ValueError(f"dependence_share must be one of {DEPENDENCE_SHARES}; got "
                             f"{self.dependence_share!r}.")
        if self.volatility_halflife != "auto" \
                and not 0.0 <= self.volatility_halflife < math.inf:
            raise ValueError(f"volatility_halflife must be finite and >= 0 (0: raw "
                             f"increments) or 'auto'; got {self.volatility_halflife!r}.")
        if not self.dependence_halflife >= 0.0:
            raise ValueError(f"dependence_halflife must be >= 0 (0: equal weights); got "
                             f"{self.dependence_halflife!r}.")
        if self.context_length % self.patch_size:
            raise ValueError(f"context_length ({self.context_length}) must be a multiple of "
                             f"patch_size ({self.patch_size}).")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads "
                             f"({self.n_heads}).")
        if not self.heads or any(not isinstance(h, str) or h not in HEADS for h in self.heads) \
                or len(set(self.heads)) != len(self.heads):
            raise ValueError(f"heads must be a non-empty subset of {HEADS}; got {self.heads!r}.")
        if not isinstance(self.normalization, str) or self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}; "
                             f"got {self.normalization!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}.")
        if not 8.0 < self.max_nu < math.inf:
            # the skew-t head starts at nu = 8: sigmoid(bias) = 6 / (max_nu - 2)
            raise ValueError(f"max_nu must be a finite number above 8 (the skew-t degrees "
                             f"of freedom start at 8 and stay below max_nu); got "
                             f"{self.max_nu!r}.")
        if self.harmonic_frequencies and not (0.0 < self.harmonic_min_cycles
                                              <= self.harmonic_max_cycles
                                              < self.context_length / 2):
            raise ValueError(f"the harmonic grid needs 0 < harmonic_min_cycles <= "
                             f"harmonic_max_cycles < context_length / 2 "
                             f"({self.context_length / 2:g}); got "
                             f"{self.harmonic_min_cycles!r} and "
                             f"{self.harmonic_max_cycles!r}.")
        if self.trained_n_targets is not None:
            pair = self.trained_n_targets
            if isinstance(pair, (str, bytes)) or not isinstance(pair, (list, tuple)) \
                    or len(pair) != 2:
                raise ValueError(f"trained_n_targets must be None or a pair (min, max); got "
                                 f"{pair!r}.")
            low = _integer("trained_n_targets[0]", pair[0], minimum=1)
            high = _integer("trained_n_targets[1]", pair[1], minimum=low)
            self.trained_n_targets = (low, high)

    @property
    def n_patches(self) -> int:
        return self.context_length // self.patch_size

    def to_dict(self) -> dict:
        out = asdict(self)
        out["heads"] = list(self.heads)
        if self.trained_n_targets is None:
            del out["trained_n_targets"]  # unknown: configs written before it stay as they were
        else:
            out["trained_n_targets"] = list(self.trained_n_targets)
        if not self.correlation_bias:
            del out["correlation_bias"]  # off: configs written before it stay as they were
        if self.trust_offset == 0.0:
            del out["trust_offset"]  # the same for the trust prior
        if self.dependence_share == "diagonal":
            del out["dependence_share"]  # and for the share of the empirical path
        if self.volatility_halflife == 0.0:
            del out["volatility_halflife"]  # and for the correlation estimate
        if self.harmonic_frequencies == 0:  # and for the harmonic drift path
            for name in ("harmonic_frequencies", "harmonic_min_cycles",
                         "harmonic_max_cycles"):
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "JointFMConfig":
        if not isinstance(data, dict):
            raise ValueError(f"a JointFMConfig is a JSON object of fields; got "
                             f"{type(data).__name__}.")
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
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"JointFM config file {path}: {exc}") from exc


def _integer(name: str, value, *, minimum: int) -> int:
    """``value`` as an ``int >= minimum`` (bools refused), else a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        need = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {need}; got {value!r}.")
    return int(value)
