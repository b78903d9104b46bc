"""The harmonic drift path of JointFM: the sinusoid fits and their learned use."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jointdist.models.jointfm import JointFM, JointFMConfig
from jointdist.models.jointfm.harmonic import harmonic_cycles, harmonic_fit

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = dict(context_length=96, max_horizon=8, patch_size=16, d_model=32, n_heads=4,
            n_blocks=2, d_ff=64, n_components=2, rank=2, empirical_rank="full",
            correlation_bias=True)


def _cycle_levels(T, cycles, amp, phase, drift=0.0, horizon=0):
    """Levels whose increments are ``drift + amp sin(w t + phase)``, t = 1, 2, ...,
    and the future increments' cumulative sums minus the context's mean cycle part."""
    w = 2 * math.pi * cycles / T
    t = torch.arange(1, T + horizon, dtype=torch.float64)
    inc = drift + amp * torch.sin(w * t + phase)
    levels = torch.cat([torch.zeros(1, dtype=torch.float64), inc[:T - 1].cumsum(0)])
    cycle = amp * torch.sin(w * t + phase)
    future = (cycle[T - 1:] - cycle[:T - 1].mean()).cumsum(0)
    return levels, future


def test_a_noise_free_cycle_on_the_grid_is_found_and_extrapolated_exactly():
    T, H = 96, 8
    cycles = torch.linspace(1.0, 20.0, 39, dtype=torch.float64)  # steps of 0.5
    levels, future = _cycle_levels(T, 6.5, 0.7, 1.1, drift=0.3, horizon=H)
    z = torch.stack([levels, -2.0 * levels], dim=-1)[None]  # (1, T, 2)
    stat, ext = harmonic_fit(z, torch.ones(1, T, dtype=torch.bool), cycles, H)
    assert stat.shape == (1, 2, 39) and ext.shape == (1, 2, 39, H)
    k = int(torch.argmax(stat[0, 0]))
    assert cycles[k] == 6.5 and stat[0, 0, k] > 1e3  # the whole variance is explained
    torch.testing.assert_close(ext[0, 0, k], future, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(ext[0, 1, k], -2.0 * future, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(stat[0, 1], stat[0, 0], rtol=1e-8, atol=1e-8)


def test_the_statistic_is_chi_squared_with_two_degrees_of_freedom_in_white_noise():
    """Without a cycle, n log(TSS / RSS) at a fixed frequency has mean 2 (chi-squared, 2 df, up
    to O(1/T)); 4,000 draws per frequency give a Monte Carlo error of 2/sqrt(4000) =
    0.032 on the mean, and the tolerance is 6 of those."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(400, 252, 10, generator=g, dtype=torch.float64).cumsum(1)
    cycles = torch.tensor([1.0, 2.5, 7.0, 19.0, 60.0], dtype=torch.float64)
    stat, _ = harmonic_fit(z, torch.ones(400, 252, dtype=torch.bool), cycles, 5)
    means = stat.mean(dim=(0, 1))
    assert torch.all((means - 2.0).abs() < 0.19), means
    tail = (stat > -2 * math.log(0.05)).double().mean(dim=(0, 1))  # P(chi2_2 > q) = 5%
    assert torch.all((tail - 0.05).abs() < 0.02), tail


def test_the_masked_past_and_constant_series_are_ignored():
    T, H = 96, 8
    cycles = torch.linspace(1.0, 20.0, 20, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, T, 3, generator=g, dtype=torch.float64).cumsum(1)
    z[:, :, 2] = 4.0  # a series that does not move
    mask = (torch.arange(T) >= 30)[None].expand(2, T)
    junk = z.clone()
    junk[:, :30] = 1e6 * torch.randn(2, 30, 3, generator=g, dtype=torch.float64)
    a, b = harmonic_fit(z, mask, cycles, H), harmonic_fit(junk, mask, cycles, H)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    stat, ext = a
    assert torch.all(stat[:, 2] == 0) and torch.all(ext[:, 2] == 0)
    assert torch.isfinite(stat).all() and torch.isfinite(ext).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.01, 100.0), trend=st.floats(-5, 5),
       n=st.integers(1, 4))
def test_fits_are_unchanged_by_a_trend_and_equivariant_in_scale_and_order(seed, scale,
                                                                          trend, n):
    """A constant increment is the intercept: it changes neither statistic nor
    extrapolation; scaling a series scales its extrapolation only; permuting the series
    permutes the outputs."""
    T = 64
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(1, T, n, generator=g, dtype=torch.float64).cumsum(1)
    cycles = torch.linspace(1.0, 10.0, 7, dtype=torch.float64)
    mask = torch.ones(1, T, dtype=torch.bool)
    stat, ext = harmonic_fit(z, mask, cycles, 5)
    line = trend * torch.arange(T, dtype=torch.float64)[None, :, None]
    stat_t, ext_t = harmonic_fit(scale * z + line, mask, cycles, 5)
    torch.testing.assert_close(stat_t, stat, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(ext_t, scale * ext, rtol=1e-6, atol=1e-8 * scale)
    perm = torch.randperm(n, generator=g)
    stat_p, ext_p = harmonic_fit(z[..., perm], mask, cycles, 5)
    torch.testing.assert_close(stat_p, stat[:, perm])
    torch.testing.assert_close(ext_p, ext[:, perm])


def test_config_validation_and_round_trip(tmp_path):
    cfg = JointFMConfig(**TINY, harmonic_frequencies=12, harmonic_max_cycles=30.0)
    cfg.to_json(tmp_path / "c.json")
    back = JointFMConfig.from_json(tmp_path / "c.json")
    assert (back.harmonic_frequencies, back.harmonic_max_cycles) == (12, 30.0)
    torch.testing.assert_close(harmonic_cycles(back),
                               torch.linspace(1.0, 30.0, 12, dtype=torch.float64))
    # off (the default) is left out, so configs written before it stay byte-identical
    assert not any(k.startswith("harmonic") for k in JointFMConfig(**TINY).to_dict())
    with pytest.raises(ValueError, match="harmonic_frequencies must be an integer >= 0"):
        JointFMConfig(**TINY, harmonic_frequencies=-1)
    # the grid is only checked when the path is on: a short context without it is fine
    assert JointFMConfig(**{**TINY, "context_length": 32}).harmonic_frequencies == 0
    for low, high in [(0.0, 5.0), (6.0, 5.0), (1.0, 48.0)]:  # 48 = context_length / 2
        with pytest.raises(ValueError, match="harmonic grid"):
            JointFMConfig(**TINY, harmonic_frequencies=4, harmonic_min_cycles=low,
                          harmonic_max_cycles=high)


def _nets():
    torch.manual_seed(0)
    plain = JointFM(JointFMConfig(**TINY)).eval()
    cfg = JointFMConfig(**TINY, harmonic_frequencies=39, harmonic_max_cycles=20.0)
    harmonic = JointFM(cfg)
    missing = harmonic.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("harmonic.") for k in missing)
    assert "harmonic.cycles" not in harmonic.state_dict()  # it follows from the config
    return plain, harmonic.eval()


def test_the_path_starts_as_the_network_without_it_and_its_gate_adds_the_cycle():
    """Zero-initialized, the gate leaves the source network's function unchanged (a warm
    start begins where the source ended).  With the gate at 1, the location of every
    component moves by the fitted cycle's extrapolation, which on a cycle-dominated
    context is the true one."""
    plain, harmonic = _nets()
    T, H = 96, 8
    levels, future = _cycle_levels(T, 6.5, 1.0, 0.4, horizon=H)
    g = torch.Generator().manual_seed(1)
    noise = 1e-3 * torch.randn(T, generator=g, dtype=torch.float64).cumsum(0)
    x = torch.stack([levels + noise, 3.0 * torch.randn(T, generator=g,
                                                       dtype=torch.float64).cumsum(0)],
                    -1)[None].float()
    with torch.no_grad():
        a, b = plain(x), harmonic(x)
        for name in a.distributions:
            torch.testing.assert_close(b.distributions[name].loc, a.distributions[name].loc)
            torch.testing.assert_close(b.distributions[name].diag, a.distributions[name].diag)
        harmonic.harmonic.gate[2].bias.fill_(1.0 / harmonic.harmonic.GATE_SCALE)  # g = 1
        c = harmonic(x)
    shift = (c.distributions["gmm"].loc - a.distributions["gmm"].loc)[0]  # (K, H, N)
    torch.testing.assert_close(c.distributions["skewt"].loc - a.distributions["skewt"].loc,
                               c.distributions["gmm"].loc - a.distributions["gmm"].loc)
    expected = (future / float(c.scale[0, 0])).float()  # normalized units
    for k in range(shift.shape[0]):
        torch.testing.assert_close(shift[k, :, 0], expected, rtol=0, atol=0.02)
    assert float(shift[..., 1].abs().max()) < float(shift[..., 0].abs().max())


def test_the_path_learns_the_gate_and_the_score_from_the_likelihood():
    _, harmonic = _nets()
    harmonic.train()
    with torch.no_grad():
        harmonic.harmonic.gate[2].bias.fill_(0.05)
    levels, _ = _cycle_levels(104, 6.5, 1.0, 0.4)
    x = levels.float()[None, :, None].expand(2, 104, 3).contiguous()
    # noisy enough that the softmax over the frequencies is not one-hot
    x = x + 1.5 * torch.randn(2, 104, 3, generator=torch.Generator().manual_seed(5)).cumsum(1)
    out = harmonic(x[:, :96], horizon=8)
    y = out.normalize(x[:, 96:])
    loss = -out.distributions["gmm"].log_prob(y).mean()
    loss.backward()
    h = harmonic.harmonic
    # the zero-initialized output layers get gradients first ...
    for p in (h.gate[2].weight, h.gate[2].bias, h.log_temperature):
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # ... and once they are not zero, the hidden layers behind them do too
    harmonic.zero_grad()
    with torch.no_grad():
        h.gate[2].weight.normal_(0.0, 0.01)
        h.score[2].weight.normal_(0.0, 0.01)
    out = harmonic(x[:, :96], horizon=8)
    (-out.distributions["gmm"].log_prob(out.normalize(x[:, 96:])).mean()).backward()
    for p in (h.gate[0].weight, h.score[0].weight, h.score[2].weight):
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_the_path_keeps_permutation_equivariance_and_padded_targets_out():
    _, harmonic = _nets()
    with torch.no_grad():
        for p in harmonic.harmonic.parameters():
            p.normal_(0.0, 0.3)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 96, 4, generator=g).cumsum(1) * torch.tensor([0.1, 1.0, 10.0, 3.0])
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        a, b = harmonic(x), harmonic(x[..., perm])
        torch.testing.assert_close(b.distributions["gmm"].loc,
                                   a.distributions["gmm"].loc[..., perm], rtol=1e-4,
                                   atol=1e-5)
        xp = torch.cat([x, 1e3 * torch.randn(2, 96, 2, generator=g)], dim=-1)
        mask = torch.tensor([[True] * 4 + [False] * 2] * 2)
        d = harmonic(xp, target_mask=mask)
    torch.testing.assert_close(d.distributions["gmm"].loc[..., :4],
                               a.distributions["gmm"].loc, rtol=1e-4, atol=1e-5)
    assert torch.all(d.distributions["gmm"].loc[..., 4:] == 0)


def test_the_path_runs_under_bfloat16_autocast_and_on_an_explicit_device():
    """As on a GPU: the fits run in float64 on the model's device, the heads in float32."""
    _, harmonic = _nets()
    harmonic = harmonic.to(torch.device("cpu"))
    assert harmonic.harmonic.cycles.device.type == "cpu"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = harmonic(torch.randn(2, 96, 3).cumsum(1))
        lp = out.distributions["skewt"].log_prob(torch.randn(4, 2, 8, 3))
    assert lp.dtype == torch.float32 and torch.isfinite(lp).all()
    assert np.isfinite(out.distributions["gmm"].sample((5,)).numpy()).all()
