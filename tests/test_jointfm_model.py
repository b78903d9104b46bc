"""JointFM network, config and weights I/O."""

import json

import numpy as np
import pytest
import torch

from jointdist.models.jointfm import JointFM, JointFMConfig, load_weights, save_weights
from jointdist.models.jointfm.weights import write_manifest


pytestmark = pytest.mark.usefixtures("torch_one_thread")


TINY = dict(context_length=96, max_horizon=8, patch_size=16, d_model=32, n_heads=4,
            n_blocks=2, d_ff=64, n_components=2, rank=2)


@pytest.fixture(scope="module", params=[0, 3, "full", "harmonic"],
                ids=["learned-factors", "empirical-dependence", "correlation-aware-full-rank",
                     "harmonic-drift"])
def net(request):
    torch.manual_seed(0)
    if request.param not in ("full", "harmonic"):
        return JointFM(JointFMConfig(**TINY, empirical_rank=request.param)).eval()
    harmonic = 12 if request.param == "harmonic" else 0
    model = JointFM(JointFMConfig(**TINY, empirical_rank="full", correlation_bias=True,
                                  harmonic_frequencies=harmonic))
    with torch.no_grad():  # they start at zero; give them something to do
        for lin in [*model.corr_bias, model.corr_embed]:
            lin.weight.normal_(0.0, 1.0)
            lin.bias.normal_(0.0, 0.5)
        if harmonic:
            for p in model.harmonic.parameters():
                p.normal_(0.0, 0.3)
    return model.eval()


def _ctx(B, T, N, seed=0):
    g = torch.Generator().manual_seed(seed)
    scale = torch.logspace(-2, 3, N)
    return torch.randn(B, T, N, generator=g).cumsum(1) * scale + 5 * scale


def test_config_json_round_trip(tmp_path):
    cfg = JointFMConfig(**TINY, heads=("gmm",), normalization="revin")
    cfg.to_json(tmp_path / "c.json")
    assert JointFMConfig.from_json(tmp_path / "c.json") == cfg
    assert json.loads((tmp_path / "c.json").read_text())["heads"] == ["gmm"]


@pytest.mark.parametrize("bad", [dict(context_length=100), dict(d_model=30),
                                 dict(heads=("nope",)), dict(heads=()),
                                 dict(normalization="mean"), dict(rank=-1),
                                 dict(n_blocks=0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        JointFMConfig(**{**TINY, **bad})
    with pytest.raises(ValueError, match="unknown"):
        JointFMConfig.from_dict({**TINY, "colour": 1})


@pytest.mark.parametrize("field, value, match", [
    ("max_nu", 2.5, "max_nu must be a finite number above 8"),  # was "math domain error"
    ("max_nu", 8.0, "above 8"),
    ("max_nu", float("inf"), "above 8"),
    ("max_nu", float("nan"), "max_nu must be a real number"),
    ("max_nu", "60", "max_nu must be a real number"),
    ("dropout", "0.1", "dropout must be a real number"),
    ("dependence_halflife", -1.0, "dependence_halflife must be >= 0"),
    ("dependence_halflife", float("nan"), "dependence_halflife must be a real number"),
    ("dependence_halflife", None, "dependence_halflife must be a real number"),
    ("heads", "skewt", "heads must be a list"),
    ("heads", ["skewt", 3], "heads must be a non-empty subset"),
    ("normalization", ["increment"], "normalization must be one of"),
    ("n_heads", 4.0, "n_heads must be a positive integer"),
    ("trained_n_targets", [0, 10], r"trained_n_targets\[0\] must be a positive integer"),
    ("trained_n_targets", [5, 2], r"trained_n_targets\[1\] must be an integer >= 5"),
    ("trained_n_targets", "1-10", "pair"),
    ("trained_n_targets", [10], "pair"),
])
def test_config_values_get_clear_errors(field, value, match):
    with pytest.raises(ValueError, match=match):
        JointFMConfig.from_dict({**TINY, field: value})


def test_config_from_json_names_the_file(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({**TINY, "max_nu": 2.5}))
    with pytest.raises(ValueError, match=r"c\.json: max_nu must be"):
        JointFMConfig.from_json(tmp_path / "c.json")
    (tmp_path / "c.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        JointFMConfig.from_json(tmp_path / "c.json")


def test_trained_n_targets_round_trips_and_is_optional(tmp_path):
    cfg = JointFMConfig(**TINY, trained_n_targets=(1, 10))
    cfg.to_json(tmp_path / "c.json")
    assert JointFMConfig.from_json(tmp_path / "c.json").trained_n_targets == (1, 10)
    JointFMConfig(**TINY).to_json(tmp_path / "old.json")  # unknown: not written
    assert "trained_n_targets" not in json.loads((tmp_path / "old.json").read_text())


def test_training_records_the_numbers_of_targets_in_the_model_config():
    from jointdist.models.jointfm.training import TrainConfig

    cfg = TrainConfig(model=dict(TINY), n_targets=(2, 7))
    assert cfg.model_config.trained_n_targets == (2, 7)


def test_output_shapes_any_n_and_horizon(net):
    for N in (1, 3, 13):
        out = net(_ctx(2, 96, N), horizon=5)
        for name, dist in out.distributions.items():
            assert dist.loc.shape == (2, 2, 5, N)
            z = torch.randn(4, 2, 5, N)
            lp = dist.log_prob(z)
            assert lp.shape == (4, 2, 5) and torch.isfinite(lp).all()
            assert dist.sample((3,)).shape == (3, 2, 5, N)
    with pytest.raises(ValueError, match="horizon"):
        net(_ctx(1, 96, 2), horizon=9)
    with pytest.raises(ValueError, match="at most 96"):
        net(_ctx(1, 97, 2))
    with pytest.raises(ValueError, match=r"\(B, T, N\)"):
        net(torch.zeros(96, 2))


def test_permutation_equivariance(net):
    x = _ctx(2, 96, 5)
    perm = torch.tensor([3, 0, 4, 2, 1])
    a, b = net(x), net(x[:, :, perm])
    for name in a.distributions:
        da, db = a.distributions[name], b.distributions[name]
        torch.testing.assert_close(db.loc, da.loc[..., perm], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(db.diag, da.diag[..., perm], rtol=1e-4, atol=1e-5)
        # eigenvector signs are arbitrary: compare the covariance the loadings give
        cov_a, cov_b = (d.factor @ d.factor.transpose(-1, -2) for d in (da, db))
        torch.testing.assert_close(cov_b, cov_a[..., perm, :][..., perm], rtol=1e-4,
                                   atol=1e-5)
        torch.testing.assert_close(db.logits, da.logits, rtol=1e-4, atol=1e-5)
        y = torch.randn(3, 2, 8, 5)
        torch.testing.assert_close(db.log_prob(y[..., perm]), da.log_prob(y), rtol=1e-4,
                                   atol=1e-4)


def test_scale_equivariance_of_the_samples(net):
    """Multiplying a series by c > 0 and shifting it multiplies/shifts its forecast."""
    x = _ctx(1, 96, 3)
    c = torch.tensor([10.0, 0.01, 3.0])
    a, b = net(x), net(x * c + 7.0)
    torch.testing.assert_close(b.scale, a.scale * c, rtol=1e-4, atol=0)
    torch.testing.assert_close(b.distributions["gmm"].loc, a.distributions["gmm"].loc,
                               rtol=1e-3, atol=1e-3)


def test_masked_past_and_padded_targets_are_ignored(net):
    x = _ctx(1, 96, 3)
    tmask = torch.arange(96)[None] >= 40  # the first 40 steps are "missing"
    x2 = x.clone()
    x2[:, :40] = 1e6 * torch.randn(1, 40, 3)
    a, b = net(x, time_mask=tmask), net(x2, time_mask=tmask)
    torch.testing.assert_close(a.distributions["gmm"].loc, b.distributions["gmm"].loc)
    # a shorter tensor is the same as a masked left part
    c = net(x[:, 40:])
    torch.testing.assert_close(a.distributions["gmm"].loc, c.distributions["gmm"].loc,
                               rtol=1e-4, atol=1e-5)
    # padding the target axis with masked junk columns changes nothing for the real ones
    xp = torch.cat([x, 1e3 * torch.randn(1, 96, 2)], dim=-1)
    vmask = torch.tensor([[True, True, True, False, False]])
    d = net(xp, target_mask=vmask)
    for name in a.distributions:
        torch.testing.assert_close(d.distributions[name].loc[..., :3],
                                   net(x).distributions[name].loc, rtol=1e-4, atol=1e-5)
        y = torch.randn(2, 1, 8, 3)
        yp = torch.cat([y, torch.zeros(2, 1, 8, 2)], -1)
        torch.testing.assert_close(d.distributions[name].log_prob(yp),
                                   net(x).distributions[name].log_prob(y), rtol=1e-4, atol=1e-4)


def test_features_are_used_but_not_predicted(net):
    x, f = _ctx(1, 96, 2), _ctx(1, 96, 3, seed=1)
    out = net(x, features=f)
    assert out.distributions["gmm"].loc.shape[-1] == 2
    assert not torch.allclose(out.distributions["gmm"].loc, net(x).distributions["gmm"].loc)


def _corr_of_increments(x):
    dx = np.diff(np.asarray(x, dtype=np.float64), axis=0)
    return np.corrcoef(dx.T)


def test_empirical_dependence_recovers_the_increment_correlation():
    from jointdist.models.jointfm.model import empirical_dependence

    rng = np.random.default_rng(0)
    C = np.array([[1.0, 0.8, -0.3], [0.8, 1.0, -0.1], [-0.3, -0.1, 1.0]])
    x = np.cumsum(rng.multivariate_normal(np.zeros(3), C, size=400), axis=0)
    z = torch.tensor(x[None] * [[1.0, 50.0, 0.01]], dtype=torch.float32)
    mask = torch.ones(1, 400, dtype=torch.bool)
    # full rank, equal weights: E E' is the sample correlation of the increments
    e = empirical_dependence(z, mask, rank=5, halflife=0.0)[0].double()
    assert e.shape == (3, 5) and torch.all(e[:, 3:] == 0)
    np.testing.assert_allclose((e @ e.T).numpy(), _corr_of_increments(x), atol=1e-4)
    # rank 1: the leading factor of the 0.8 pair, rows of norm <= 1
    e1 = empirical_dependence(z, mask, rank=1)[0, :, 0]
    assert torch.all(e1.abs() <= 1.0 + 1e-6) and e1[0] * e1[1] > 0.7
    # a masked past is ignored; a constant series gets a zero row
    z2 = z.clone()
    z2[:, :100] = 1e6
    z2[..., 2] = 3.0
    m2 = torch.arange(400)[None] >= 100
    e2 = empirical_dependence(z2, m2, rank=3, halflife=0.0)[0].double()
    assert torch.all(e2[2] == 0)
    np.testing.assert_allclose((e2 @ e2.T)[:2, :2].numpy(),
                               _corr_of_increments(x[100:, :2]), atol=1e-4)


def test_empirical_dependence_path_carries_the_context_correlation():
    """With full trust (kappa -> 1) and no learned loadings, the predicted one-step
    correlation is the context's; the marginal variance does not depend on kappa."""
    torch.manual_seed(0)
    net = JointFM(JointFMConfig(**TINY, empirical_rank=3, dependence_halflife=0.0)).eval()
    rng = np.random.default_rng(1)
    C = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.0]])
    x = np.cumsum(rng.multivariate_normal(np.zeros(3), C, size=96), axis=0)
    ctx = torch.tensor(x[None], dtype=torch.float32)
    variances = []
    with torch.no_grad():
        for bias in (-20.0, 20.0):  # kappa ~ 0 and kappa ~ 1
            for head in net.heads.values():
                head.trust.bias.fill_(bias)
                head.trust.weight.zero_()
                head.per_target.weight.view(-1, head.n_per_target, 32)[:, 2:2 + head.r] = 0
            dist = net(ctx, horizon=1).distributions["gmm"]
            cov = torch.diag_embed(dist.diag ** 2) + dist.factor @ dist.factor.transpose(-1, -2)
            cov = cov[0, 0, 0].double()
            variances.append(torch.diagonal(cov))
            sd = torch.sqrt(torch.diagonal(cov))
            corr = (cov / sd[:, None] / sd[None, :]).numpy()
            if bias > 0:
                np.testing.assert_allclose(corr, _corr_of_increments(x), atol=2e-3)
            else:
                np.testing.assert_allclose(corr, np.eye(3), atol=1e-4)
    torch.testing.assert_close(variances[0], variances[1], rtol=1e-3, atol=0)


def test_weights_round_trip(tmp_path, net):
    pt = save_weights(net, tmp_path / "m")
    assert pt.name == "m.pt" and (tmp_path / "m.json").is_file()
    loaded = load_weights(tmp_path / "m.pt")
    x = _ctx(2, 96, 4)
    torch.testing.assert_close(loaded(x).distributions["skewt"].loc,
                               net(x).distributions["skewt"].loc)
    save_weights(net, tmp_path / "h", half=True)
    assert (tmp_path / "h.pt").stat().st_size < 0.6 * pt.stat().st_size
    torch.testing.assert_close(load_weights(tmp_path / "h").state_dict()["pos_embed"],
                               net.state_dict()["pos_embed"], rtol=1e-3, atol=1e-4)


def test_tampered_or_missing_weights_are_refused(tmp_path, net):
    pt = save_weights(net, tmp_path / "m")
    data = bytearray(pt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pt.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"m\.pt.*corrupt or was modified"):
        load_weights(tmp_path / "m")
    (tmp_path / "m.sha256").unlink()
    with pytest.raises(FileNotFoundError, match=r"m\.sha256"):
        load_weights(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match=r"nothere\.pt"):
        load_weights(tmp_path / "nothere")


def test_manifest_covers_weights_and_config_in_sha256sum_format(tmp_path, net):
    import hashlib

    save_weights(net, tmp_path / "m")
    lines = (tmp_path / "m.sha256").read_text().splitlines()
    expected = [f"{hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()}  {name}"
                for name in ("m.pt", "m.json")]
    assert lines == expected


@pytest.mark.parametrize("edit", [
    {"normalization": "revin"},  # same tensors, other units: loaded silently before
    {"heads": ["gmm", "skewt"]},  # another default head
    {"dependence_halflife": 10.0},
    {"max_nu": 30.0},
    {"max_nu": 2.5},
])
def test_an_edited_config_is_refused(tmp_path, net, edit):
    save_weights(net, tmp_path / "m")
    js = tmp_path / "m.json"
    config = json.loads(js.read_text())
    if "heads" in edit:
        edit = {"heads": config["heads"][::-1]}
    js.write_text(json.dumps({**config, **edit}, indent=2) + "\n")
    with pytest.raises(ValueError, match=r"config file .*m\.json is corrupt or was modified"):
        load_weights(tmp_path / "m")
    # after the user re-records the manifest, invalid values still get a clear error
    write_manifest(tmp_path / "m")
    if edit.get("max_nu") == 2.5:
        with pytest.raises(ValueError, match=r"m\.json: max_nu must be a finite number"):
            load_weights(tmp_path / "m")
    else:
        assert load_weights(tmp_path / "m").config == JointFMConfig.from_dict(
            {**config, **edit})


def test_a_manifest_without_the_config_is_refused_with_the_remedy(tmp_path, net):
    import hashlib

    pt = save_weights(net, tmp_path / "m")
    (tmp_path / "m.sha256").write_text(
        f"{hashlib.sha256(pt.read_bytes()).hexdigest()}  m.pt\n")  # the old format
    with pytest.raises(ValueError, match=r"records no SHA-256 for the config file m\.json"
                                         r".*write_manifest"):
        load_weights(tmp_path / "m")
    write_manifest(tmp_path / "m")
    assert load_weights(tmp_path / "m").config == net.config
    assert load_weights(tmp_path / "m", verify=False).config == net.config


def test_pickled_code_is_refused_even_with_a_matching_hash(tmp_path, net):
    """weights_only=True: a checkpoint that pickles arbitrary objects does not load."""
    save_weights(net, tmp_path / "m")
    torch.save({"pos_embed": np.zeros(3, dtype=object)}, tmp_path / "m.pt")
    write_manifest(tmp_path / "m")
    with pytest.raises(ValueError, match="weights-only"):
        load_weights(tmp_path / "m")


def test_full_rank_dependence_is_the_whole_context_correlation():
    from jointdist.models.jointfm.model import context_correlation, empirical_dependence

    rng = np.random.default_rng(3)
    C = np.array([[1.0, 0.6, -0.4, 0.2], [0.6, 1.0, -0.2, 0.1], [-0.4, -0.2, 1.0, 0.3],
                  [0.2, 0.1, 0.3, 1.0]])
    x = np.cumsum(rng.multivariate_normal(np.zeros(4), C, size=300), axis=0)
    z = torch.tensor(x[None], dtype=torch.float32)
    mask = torch.ones(1, 300, dtype=torch.bool)
    corr = context_correlation(z, mask)
    np.testing.assert_allclose(corr[0].numpy(), _corr_of_increments(x), atol=1e-5)
    e = empirical_dependence(z, mask, rank="full", corr=corr)[0].double()
    assert e.shape == (4, 4)
    np.testing.assert_allclose((e @ e.T).numpy(), _corr_of_increments(x), atol=1e-4)
    # the same loadings as an explicit rank N
    e4 = empirical_dependence(z, mask, rank=4)[0].double()
    torch.testing.assert_close(e4 @ e4.T, e @ e.T)


def test_correlation_bias_config_round_trip_and_validation(tmp_path):
    cfg = JointFMConfig(**TINY, empirical_rank="full", correlation_bias=True)
    cfg.to_json(tmp_path / "c.json")
    back = JointFMConfig.from_json(tmp_path / "c.json")
    assert back.empirical_rank == "full" and back.correlation_bias is True
    # off (the default) is left out, so configs written before it stay byte-identical
    assert "correlation_bias" not in JointFMConfig(**TINY).to_dict()
    with pytest.raises(ValueError, match="empirical_rank must be an integer >= 0 or 'full'"):
        JointFMConfig(**TINY, empirical_rank="half")
    with pytest.raises(ValueError, match="empirical_rank"):
        JointFMConfig(**TINY, empirical_rank=-1)
    with pytest.raises(ValueError, match="correlation_bias must be true or false"):
        JointFMConfig(**TINY, correlation_bias=1)


def test_correlation_path_starts_as_the_network_without_it():
    """Zero-initialized, the correlation-aware attention computes the source network's
    function, so a warm start begins where the source ended; trained, it changes it."""
    torch.manual_seed(0)
    plain = JointFM(JointFMConfig(**TINY, empirical_rank="full")).eval()
    aware = JointFM(JointFMConfig(**TINY, empirical_rank="full", correlation_bias=True))
    missing = aware.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith(("corr_bias.", "corr_embed.")) for k in missing)
    aware.eval()
    x = _ctx(2, 96, 4)
    with torch.no_grad():
        a, b = plain(x), aware(x)
        for name in a.distributions:
            torch.testing.assert_close(b.distributions[name].loc, a.distributions[name].loc)
            torch.testing.assert_close(b.distributions[name].factor,
                                       a.distributions[name].factor)
        aware.corr_bias[0].weight.fill_(1.0)
        c = aware(x)
    assert not torch.allclose(c.distributions["gmm"].loc, a.distributions["gmm"].loc)


def test_correlation_features_of_padded_targets_and_feature_series():
    from jointdist.models.jointfm.model import correlation_features

    corr = torch.tensor([[[1.0, 0.5, -0.2], [0.5, 1.0, 0.9], [-0.2, 0.9, 1.0]]])
    pair, node = correlation_features(corr, n_features=1)
    assert pair.shape == (1, 4, 4, 3) and node.shape == (1, 4, 3)
    torch.testing.assert_close(pair[0, :3, :3, 0], corr[0] - torch.eye(3))
    assert torch.all(pair[0, 3, :, :2] == 0) and torch.all(pair[0, :, 3, :2] == 0)
    torch.testing.assert_close(pair[0, ..., 2], torch.eye(4))
    torch.testing.assert_close(node[0, 0], torch.tensor([0.15, 0.35, 0.5]))
    assert torch.all(node[0, 3] == 0)
    # a padded third target: the summaries are those of the two real ones
    padded, node_p = correlation_features(corr, 0, torch.tensor([[True, True, False]]))
    torch.testing.assert_close(node_p[0, :2], torch.tensor([[0.5, 0.5, 0.5]] * 2))
    assert torch.all(padded[0, 2, :, :2] == 0) and torch.all(node_p[0, 2] == 0)


def test_correlation_aware_attention_runs_under_bfloat16_autocast():
    """The float attention bias (with -inf for padded keys) meets bfloat16 queries under
    autocast, as on a GPU: the log-densities stay float32 and finite."""
    torch.manual_seed(0)
    net = JointFM(JointFMConfig(**TINY, empirical_rank="full", correlation_bias=True))
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(_ctx(2, 96, 4), target_mask=mask)
        lp = out.distributions["gmm"].log_prob(torch.randn(3, 2, 8, 4))
    assert lp.dtype == torch.float32 and torch.isfinite(lp).all()


def test_trust_offset_is_a_fixed_logit_added_to_the_learned_trust(tmp_path):
    """``trust_offset = c`` computes the network whose trust biases are raised by c (the
    prior towards full trust of issue 19), and its config round-trips."""
    torch.manual_seed(0)
    cfg = JointFMConfig(**TINY, empirical_rank="full", correlation_bias=True,
                        trust_offset=4.0)
    prior = JointFM(cfg).eval()
    shifted = JointFM(JointFMConfig(**TINY, empirical_rank="full",
                                    correlation_bias=True)).eval()
    shifted.load_state_dict(prior.state_dict())
    with torch.no_grad():
        for head in shifted.heads.values():
            head.trust.bias.add_(4.0)
        x = _ctx(2, 96, 4)
        a, b = prior(x), shifted(x)
    for name in a.distributions:
        torch.testing.assert_close(a.distributions[name].factor, b.distributions[name].factor)
        torch.testing.assert_close(a.distributions[name].diag, b.distributions[name].diag)
    cfg.to_json(tmp_path / "c.json")
    assert JointFMConfig.from_json(tmp_path / "c.json").trust_offset == 4.0
    # the default (0) is left out, so configs written before it stay byte-identical
    assert "trust_offset" not in JointFMConfig(**TINY, empirical_rank=3).to_dict()
    for bad in (float("inf"), float("nan"), "4", True):
        with pytest.raises(ValueError, match="trust_offset"):
            JointFMConfig(**TINY, empirical_rank="full", trust_offset=bad)


def _component_covariances(dist):
    """``diag(diag^2) + F F'`` of every (system, component, horizon), float64."""
    d, f = dist.diag.double(), dist.factor.double()
    return torch.diag_embed(d ** 2) + f @ f.transpose(-1, -2)


def test_total_share_keeps_the_variance_and_gives_the_context_correlation_at_full_trust():
    """``dependence_share="total"``: the marginal variances are those of the diagonal
    form (the learned part alone), whatever kappa; at kappa -> 1 every component's
    correlation is the context's even with learned loadings on (the diagonal form
    mixes in the loadings' own, by their share ||F||^2 / (s^2 + ||F||^2) of the
    variance); at kappa -> 0 both forms are the learned part."""
    torch.manual_seed(0)
    kw = dict(**TINY, empirical_rank="full", dependence_halflife=0.0)
    diagonal = JointFM(JointFMConfig(**kw)).eval()
    total = JointFM(JointFMConfig(**kw, dependence_share="total")).eval()
    total.load_state_dict(diagonal.state_dict())
    rng = np.random.default_rng(1)
    C = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.0]])
    x = np.cumsum(rng.multivariate_normal(np.zeros(3), C, size=96), axis=0)
    ctx = torch.tensor(x[None], dtype=torch.float32)
    with torch.no_grad():
        for net in (diagonal, total):  # large learned loadings, so the forms differ
            for head in net.heads.values():
                head.per_target.bias.view(-1, head.n_per_target)[:, 2:2 + head.r] = 1.5
        out = {}
        for bias in (-30.0, 30.0):
            for net in (diagonal, total):
                for head in net.heads.values():
                    head.trust.weight.zero_()
                    head.trust.bias.fill_(bias)
            out[bias] = [_component_covariances(net(ctx).distributions[name])
                         for net in (diagonal, total) for name in ("gmm", "skewt")]
    # at kappa -> 0 the two forms are the same network
    for d_cov, t_cov in zip(out[-30.0][:2], out[-30.0][2:]):
        torch.testing.assert_close(t_cov, d_cov, rtol=1e-5, atol=1e-8)
    for d_lo, t_hi, d_hi in zip(out[-30.0][:2], out[30.0][2:], out[30.0][:2]):
        var = torch.diagonal(d_lo, dim1=-2, dim2=-1)
        torch.testing.assert_close(torch.diagonal(t_hi, dim1=-2, dim2=-1), var,
                                   rtol=1e-3, atol=0)
        sd = var.sqrt()
        corr_total = (t_hi / sd[..., :, None] / sd[..., None, :]).numpy()
        target = np.broadcast_to(_corr_of_increments(x), corr_total.shape)
        np.testing.assert_allclose(corr_total, target, atol=2e-3)
        sd_d = torch.diagonal(d_hi, dim1=-2, dim2=-1).sqrt()
        corr_diag = (d_hi / sd_d[..., :, None] / sd_d[..., None, :]).numpy()
        # the diagonal form mixes in the learned loadings' correlation
        assert np.abs(corr_diag - target).max() > 0.1
    cfg = JointFMConfig(**kw, dependence_share="total")
    assert JointFMConfig.from_dict(cfg.to_dict()).dependence_share == "total"
    assert "dependence_share" not in JointFMConfig(**kw).to_dict()
    for bad in ("full", None, 1):
        with pytest.raises(ValueError, match="dependence_share"):
            JointFMConfig(**kw, dependence_share=bad)


def _ewma_reference(x, m, halflife):
    """The RiskMetrics recursion of ``devolatilize``, step by step (numpy)."""
    ref = np.zeros_like(x)
    for b in range(x.shape[0]):
        obs = m[b] > 0
        v = (x[b][obs] ** 2).mean(0)
        if halflife == np.inf:
            ref[b] = v
            continue
        lam = 2 ** (-1 / halflife)
        for t in np.flatnonzero(obs):
            ref[b, t] = v
            v = lam * v + (1 - lam) * x[b, t] ** 2
        ref[b, ~obs] = (x[b][obs] ** 2).mean(0)  # before the first observation: vbar
    return ref


def test_devolatilized_correlation_is_the_correlation_of_standardized_residuals():
    """A common volatility regime that the two series do not share attenuates the raw
    increments' correlation; dividing by the EWMA volatility before each step
    (``volatility_halflife``) recovers it.  ``devolatilize`` equals the RiskMetrics
    recursion started at the mean square, over a masked (left-padded) past too."""
    from jointdist.models.jointfm.model import context_correlation, devolatilize

    rng = np.random.default_rng(3)
    B, T, N = 3, 60, 4
    x = rng.standard_normal((B, T, N)) * np.exp(rng.standard_normal((B, 1, N)))
    m = np.ones((B, T))
    m[1, :10] = 0
    m[2, :58] = 0
    x = x * m[..., None]
    ref = np.where(m[..., None] > 0, x / np.sqrt(_ewma_reference(x, m, 7.0)), 0.0)
    got = devolatilize(torch.tensor(x), torch.tensor(m), 7.0).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    # standardized residuals do not depend on a series' scale
    scaled = devolatilize(torch.tensor(x * [1e-3, 1.0, 1e3, 7.0]), torch.tensor(m), 7.0)
    np.testing.assert_allclose(scaled.numpy(), ref, rtol=1e-9, atol=1e-12)
    # two series with correlation 0.6 whose log-volatilities move in opposite ways
    # (+-1.5 sin, period 800 steps): pooling raw increments attenuates the estimate to
    # about rho / I0(3) = 0.12; standardized residuals recover most of it (the noise of
    # a 10-step volatility estimate keeps it a little below rho: 0.56-0.58 on seeds 0-2)
    n, rho = 4000, 0.6
    e = rng.standard_normal((n, 2)) @ np.linalg.cholesky([[1.0, rho], [rho, 1.0]]).T
    swing = 1.5 * np.sin(2 * np.pi * np.arange(n) / 800)
    z = torch.tensor(np.cumsum(e * np.exp(np.stack([swing, -swing], 1)), axis=0)[None])
    mask = torch.ones(1, n, dtype=torch.bool)
    raw = context_correlation(z, mask)[0, 0, 1].item()
    devol = context_correlation(z, mask, volatility_halflife=10.0)[0, 0, 1].item()
    assert raw < 0.2 and 0.5 < devol < rho + 0.04  # sd of the estimate ~0.012
    with pytest.raises(ValueError, match="volatility_halflife"):
        JointFMConfig(**TINY, empirical_rank=3, volatility_halflife=-1.0)
    assert "volatility_halflife" not in JointFMConfig(**TINY, empirical_rank=3).to_dict()


def test_auto_volatility_halflife_is_chosen_by_quasi_likelihood_per_series():
    """``select_volatility_halflife``: a series with constant volatility keeps ``inf``
    (it is not standardized by a noisy estimate), one whose volatility jumps by 6x every
    100 steps gets a short half-life, and the chosen variances are that candidate's
    recursion.  The one-pass filters equal the recursion for every candidate, over a
    masked past too, also for half-lives short enough to need several blocks."""
    from jointdist.models.jointfm.model import (AUTO_VOLATILITY_HALFLIVES, _ewma_variances,
                                                select_volatility_halflife)

    rng = np.random.default_rng(5)
    T = 600
    regime = np.where((np.arange(T) // 100) % 2 == 0, 1.0, 6.0)
    x = rng.standard_normal((2, T, 2))
    x[:, :, 1] *= regime
    m = np.ones((2, T))
    index, var = select_volatility_halflife(torch.tensor(x), torch.tensor(m))
    chosen = np.asarray(AUTO_VOLATILITY_HALFLIVES)[index.numpy()]
    assert np.all(chosen[:, 0] == np.inf)
    assert np.all(chosen[:, 1] <= 20.0)
    for b in range(2):
        for n in range(2):
            ref = _ewma_reference(x[b:b + 1], m[b:b + 1], chosen[b, n])[0, :, n]
            np.testing.assert_allclose(var[b, :, n].numpy(), ref, rtol=1e-10)
    m[1, :250] = 0
    x = x * m[..., None]
    obs = m[..., None].repeat(2, -1) > 0
    for grid in (AUTO_VOLATILITY_HALFLIVES, (0.05, 0.3, 3.0, np.inf)):
        got = _ewma_variances(torch.tensor(x), torch.tensor(m), grid).numpy()
        for g, hl in enumerate(grid):
            ref = _ewma_reference(x, m, hl)
            np.testing.assert_allclose(got[g][obs], ref[obs], rtol=1e-9, atol=1e-300)


def test_devolatilized_correlation_ignores_a_drift_and_auto_keeps_constant_volatility():
    """The increments are centred before they are standardized, so adding a linear
    trend to every series (a constant drift in the increments) leaves the estimate
    exactly unchanged, for a fixed half-life and for ``"auto"``.  Where every series'
    volatility is constant, ``"auto"`` chooses no standardization and gives the raw
    increments' correlation; where the volatilities swing in opposite ways, it recovers
    the correlation as a fixed half-life does."""
    from jointdist.models.jointfm.model import context_correlation

    rng = np.random.default_rng(2)
    T, rho = 800, 0.6
    e = rng.standard_normal((T, 3)) @ np.linalg.cholesky(
        [[1.0, rho, 0.2], [rho, 1.0, 0.0], [0.2, 0.0, 1.0]]).T
    z = torch.tensor(np.cumsum(e, axis=0)[None])
    trend = torch.tensor(np.arange(T)[:, None] * np.array([[0.5, -2.0, 30.0]]))[None]
    mask = torch.ones(1, T, dtype=torch.bool)
    for vh in (10.0, "auto"):
        torch.testing.assert_close(context_correlation(z + trend, mask, 0.0, vh),
                                   context_correlation(z, mask, 0.0, vh))
    torch.testing.assert_close(context_correlation(z, mask, 0.0, "auto"),
                               context_correlation(z, mask, 0.0, 0.0))
    swing = 1.5 * np.sin(2 * np.pi * np.arange(4000) / 800)
    e = rng.standard_normal((4000, 2)) @ np.linalg.cholesky([[1.0, rho], [rho, 1.0]]).T
    z = torch.tensor(np.cumsum(e * np.exp(np.stack([swing, -swing], 1)), axis=0)[None])
    mask = torch.ones(1, 4000, dtype=torch.bool)
    auto = context_correlation(z, mask, 0.0, "auto")[0, 0, 1].item()
    assert context_correlation(z, mask)[0, 0, 1].item() < 0.2 and 0.5 < auto < rho + 0.04


def test_auto_volatility_halflife_config_and_forward():
    """``volatility_halflife="auto"`` round-trips through the config, other strings are
    refused, and the network runs with it."""
    cfg = JointFMConfig(**TINY, empirical_rank="full", correlation_bias=True,
                        volatility_halflife="auto")
    assert JointFMConfig.from_dict(cfg.to_dict()).volatility_halflife == "auto"
    with pytest.raises(ValueError, match="volatility_halflife"):
        JointFMConfig(**TINY, empirical_rank=3, volatility_halflife="garch")
    torch.manual_seed(0)
    out = JointFM(cfg).eval()(_ctx(2, 96, 3), horizon=4)
    for dist in out.distributions.values():
        assert torch.isfinite(dist.log_prob(torch.zeros(2, 4, 3))).all()
