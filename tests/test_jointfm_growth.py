"""Function-preserving growth of a JointFM into a larger configuration (Net2Net)."""

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jointdist.models.jointfm import JointFM, JointFMConfig, TrainConfig, load_weights, train
from jointdist.models.jointfm.growth import grow

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL = dict(context_length=64, max_horizon=8, patch_size=16, d_model=16, n_heads=2,
             n_blocks=1, d_ff=24, n_components=2, rank=1, empirical_rank="full",
             correlation_bias=True)


def _trained_like(cfg, seed):
    """A network whose weights are all non-trivial (the zero-initialized correlation
    maps and head biases too), so that every grown tensor matters."""
    torch.manual_seed(seed)
    net = JointFM(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for head in net.heads.values():  # trust kappa near 1/2, where it is sensitive
            head.trust.bias.sub_(head.trust.bias.mean())
    return net.eval()


def _log_probs(net, context, future, features=None, target_mask=None):
    with torch.no_grad():
        out = net(context, features=features, target_mask=target_mask, horizon=8)
        z = out.normalize(future)
        return {h: d.log_prob(z) for h, d in out.distributions.items()}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.sampled_from([1, 2, 3]), extra_ff=st.integers(0, 20),
       extra_blocks=st.integers(0, 2), n_targets=st.integers(1, 4),
       n_features=st.integers(0, 2), normalization=st.sampled_from(["increment",
                                                                   "increment_stats"]),
       seed=st.integers(0, 2**16))
def test_grown_network_computes_the_source_function(k, extra_ff, extra_blocks, n_targets,
                                                    n_features, normalization, seed):
    src_cfg = JointFMConfig(**{**SMALL, "normalization": normalization})
    src = _trained_like(src_cfg, seed)
    dst_cfg = dataclasses.replace(src_cfg, d_model=16 * k, n_heads=2 * k,
                                  d_ff=24 + extra_ff, n_blocks=1 + extra_blocks)
    big = grow(src, dst_cfg, random_state=seed)
    assert big.config == dst_cfg
    assert big.n_parameters >= src.n_parameters
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(2, 50, n_targets, generator=g).cumsum(1) * 3.0
    future = context[:, -1:] + torch.randn(2, 8, n_targets, generator=g).cumsum(1)
    features = (torch.randn(2, 50, n_features, generator=g) if n_features else None)
    mask = torch.ones(2, n_targets, dtype=torch.bool)
    mask[1, 0] = n_targets == 1  # a padded target in the second system
    a = _log_probs(src, context, future, features, mask)
    b = _log_probs(big, context, future, features, mask)
    for head in a:
        torch.testing.assert_close(b[head], a[head], rtol=1e-6, atol=1e-4)


def test_grow_noise_breaks_the_symmetry_of_the_copies_and_moves_little():
    src = _trained_like(JointFMConfig(**SMALL), 0)
    dst = dataclasses.replace(src.config, d_model=32, n_heads=4, d_ff=40)
    exact, noisy = grow(src, dst), grow(src, dst, noise=1e-3, random_state=1)
    w = noisy.state_dict()["time_layers.0.ff.0.weight"]  # (40, 32): 16 copied channels
    assert not torch.equal(w[:, :16], w[:, 16:])  # the copies differ...
    w0 = exact.state_dict()["time_layers.0.ff.0.weight"]
    assert torch.equal(w0[:, :16], w0[:, 16:])
    context = torch.randn(3, 64, 3).cumsum(1)
    future = context[:, -1:] + torch.randn(3, 8, 3).cumsum(1)
    a, b = _log_probs(src, context, future), _log_probs(noisy, context, future)
    for head in a:  # ... and the function moves by far less than the log-density's size
        assert 0 < float((a[head] - b[head]).abs().max()) < 0.05 * float(a[head].abs().mean())


@pytest.mark.parametrize("change, match", [
    (dict(d_model=24, n_heads=3), "integer factor"),
    (dict(d_model=32, n_heads=2), "n_heads must grow"),
    (dict(d_ff=16), "cannot shrink"),
    (dict(n_components=3), "n_components"),
    (dict(rank=2), "rank"),
])
def test_grow_refuses_what_is_not_a_growth(change, match):
    src = JointFM(JointFMConfig(**SMALL))
    with pytest.raises(ValueError, match=match):
        grow(src, dataclasses.replace(src.config, **change))
    with pytest.raises(ValueError, match="noise"):
        grow(src, src.config, noise=-1.0)


def test_training_run_grown_from_a_checkpoint(tmp_path):
    """``init_mode="grow"``: a run of the larger configuration starts from the function
    of the source run (lr ~ 0 for the one step)."""
    base = dict(out_dir=str(tmp_path / "src"), steps=1, batch_size=2, n_futures=4,
                n_targets=(1, 3), levels=[0, 1], t_in=1.0, t_out=0.125, warmup_steps=1,
                val_every=0, checkpoint_every=1, num_threads=1)
    model = {k: v for k, v in SMALL.items()}
    train(TrainConfig(model=model, **base), progress=False)
    big_model = {**model, "d_model": 32, "n_heads": 4, "d_ff": 32, "n_blocks": 2}
    grown = TrainConfig(model=big_model, **{**base, "out_dir": str(tmp_path / "big")},
                        init_from=str(tmp_path / "src" / "last" / "jointfm"),
                        init_mode="grow", grow_noise=0.0, lr=1e-12)
    train(grown, progress=False)
    src = load_weights(tmp_path / "src" / "last" / "jointfm").eval()
    big = load_weights(tmp_path / "big" / "last" / "jointfm").eval()
    assert big.config.d_model == 32 and big.n_parameters > 2 * src.n_parameters
    context = torch.randn(2, 64, 3).cumsum(1)
    future = context[:, -1:] + torch.randn(2, 8, 3).cumsum(1)
    a, b = _log_probs(src, context, future), _log_probs(big, context, future)
    for head in a:
        torch.testing.assert_close(b[head], a[head], rtol=1e-6, atol=1e-4)
    with pytest.raises(ValueError, match="init_mode"):
        TrainConfig(model=model, init_mode="widen")
    with pytest.raises(ValueError, match="grow_noise"):
        TrainConfig(model=model, grow_noise=-0.1)
    with pytest.raises(ValueError, match="init_from"):
        TrainConfig(model=model, init_mode="grow")  # nothing to grow from
