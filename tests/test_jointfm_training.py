"""JointFM pretraining: loss, resumable checkpoints, validation CSV, the command line."""

import csv
import json

import numpy as np
import pytest
import torch

from jointdist.models.jointfm import JointFM, JointFMConfig, TrainConfig, load_weights, train
from jointdist.models.jointfm.training import _lr_lambda, jointfm_loss


pytestmark = pytest.mark.usefixtures("torch_one_thread")


MODEL = dict(context_length=64, max_horizon=8, patch_size=16, d_model=32, n_heads=4,
             n_blocks=1, d_ff=64, n_components=2, rank=1)


def _cfg(tmp_path, **kw):
    base = dict(model=MODEL, out_dir=str(tmp_path / "run"), steps=4, batch_size=4,
                n_futures=6, n_targets=(1, 3), levels=[0, 1, 2], t_in=1.0, t_out=0.125,
                warmup_steps=2, val_every=2, val_levels=[1], val_systems=3,
                val_n_targets=2, val_futures=30, val_samples=30, checkpoint_every=2,
                num_threads=1, energy_weight=0.1, energy_samples=4)
    base.update(kw)
    return TrainConfig(**base)


def test_train_writes_checkpoints_csv_and_resumes_exactly(tmp_path):
    cfg = _cfg(tmp_path)
    res = train(cfg, progress=False)
    assert res["step"] == 4
    run = tmp_path / "run"
    rows = list(csv.DictReader(open(run / "validation.csv")))
    assert [r["step"] for r in rows] == ["2", "4"]
    for key in ("skewt_ed_1", "skewt_ratio_1", "gmm_ed", "gmm_ratio", "gmm_hs_ed_1"):
        assert np.isfinite(float(rows[-1][key]))
    assert (run / "best" / "jointfm.pt").is_file() and (run / "last" / "jointfm.sha256").is_file()
    straight = load_weights(run / "last" / "jointfm").state_dict()
    # interrupted (time limit) after one step, then resumed: the weights of a straight run
    cfg2 = _cfg(tmp_path, out_dir=str(tmp_path / "run2"))
    assert train(cfg2, progress=False, stop_after=0)["step"] == 1
    assert train(cfg2, progress=False)["step"] == 4
    resumed = load_weights(tmp_path / "run2" / "last" / "jointfm").state_dict()
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], rtol=1e-5, atol=1e-6)
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["model"]["d_model"] == 32


def test_warm_start_adds_a_path_to_trained_weights(tmp_path):
    """A run with the empirical dependence path starts from a run without it: every
    shared tensor is copied, the new trust maps keep their initialization."""
    src = _cfg(tmp_path, steps=1, val_every=0)
    train(src, progress=False)
    dst = _cfg(tmp_path, steps=1, val_every=0, out_dir=str(tmp_path / "warm"),
               model={**MODEL, "empirical_rank": 2},
               init_from=str(tmp_path / "run" / "last" / "jointfm"), lr=1e-12,
               warmup_steps=1)
    train(dst, progress=False)
    old = load_weights(tmp_path / "run" / "last" / "jointfm").state_dict()
    new = load_weights(tmp_path / "warm" / "last" / "jointfm").state_dict()
    assert set(new) - set(old) == {f"heads.{h}.trust.{p}" for h in ("gmm", "skewt")
                                   for p in ("weight", "bias")}
    for k, v in old.items():  # lr ~ 0: the warm-started weights are the source's
        torch.testing.assert_close(new[k], v, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="shares no parameter"):
        from jointdist.models.jointfm.training import warm_start

        warm_start(torch.nn.Linear(2, 2), tmp_path / "run" / "last" / "jointfm")


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(model=MODEL, steps=100, warmup_steps=10, min_lr_ratio=0.1)
    f = _lr_lambda(cfg)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 100))


def test_train_config_validation(tmp_path):
    with pytest.raises(ValueError, match="curriculum"):
        _cfg(tmp_path, curriculum="random")
    (tmp_path / "c.json").write_text(json.dumps({"model": MODEL, "learning_rate": 1}))
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_json(tmp_path / "c.json")


def test_command_line(tmp_path):
    from jointdist.models.jointfm.train import main

    cfg = _cfg(tmp_path, steps=2, val_every=0)
    cfg.to_json(tmp_path / "c.json")
    assert main(["--config", str(tmp_path / "c.json"), "--no-progress"]) == 0
    assert (tmp_path / "run" / "checkpoint_last.pt").is_file()
    assert main(["--config", str(tmp_path / "missing.json")]) == 2


@pytest.mark.slow
def test_loss_falls_clearly_on_a_tiny_fixed_sde_set():
    from jointdist.datasets.sde import SDEStream

    torch.manual_seed(0)
    stream = SDEStream(levels=[1, 2], batch_size=8, n_targets=(2, 3), context_length=64,
                       horizon=8, n_futures=16, t_in=1.0, t_out=0.125, random_state=0,
                       device="cpu")
    batches = [stream.sample_batch() for _ in range(2)]
    net = JointFM(JointFMConfig(**{**MODEL, "heads": ("gmm",)}))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for step in range(300):
        loss, _ = jointfm_loss(net, batches[step % 2])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < first - 0.3, (first, last)  # nats per target and horizon


def _torchrun(config, *args):
    """Two CPU ranks (gloo) under torchrun; returns the finished process."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", "-m", "jointdist.models.jointfm.train",
           "--config", str(config), "--no-progress", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_ddp_two_cpu_ranks_keep_own_streams_agree_on_stops_and_resume_exactly(tmp_path):
    cfg = _cfg(tmp_path, steps=6, val_every=3, checkpoint_every=2, energy_weight=0.0)
    cfg.to_json(tmp_path / "c.json")
    straight = _torchrun(tmp_path / "c.json")
    summary = [json.loads(line) for line in straight.stdout.splitlines()
               if line.startswith("{")]
    assert len(summary) == 1 and summary[0]["step"] == 6  # one line, from rank 0
    ck = torch.load(tmp_path / "run" / "checkpoint_last.pt", weights_only=True)
    states = json.loads(ck["stream_state"])
    assert len(states) == 2 and states[0] != states[1]  # the ranks draw different systems
    # a time limit reached by the ranks at different moments stops both (no hang), and
    # resuming gives the straight run's weights: each rank resumes its own stream
    _torchrun(tmp_path / "c.json", "--out-dir", str(tmp_path / "cut"), "--stop-after", "0")
    assert torch.load(tmp_path / "cut" / "checkpoint_last.pt", weights_only=True)["step"] == 1
    resumed = _torchrun(tmp_path / "c.json", "--out-dir", str(tmp_path / "cut"))
    assert "resumed from" in resumed.stderr
    a = load_weights(tmp_path / "run" / "last" / "jointfm").state_dict()
    b = load_weights(tmp_path / "cut" / "last" / "jointfm").state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------
# Ready for a GPU: devices, autocast, the time budget, command-line overrides.
# --------------------------------------------------------------------------------------
def _tiny_batch(n_targets=(2, 3), n_futures=8, seed=0):
    from jointdist.datasets.sde import SDEStream

    stream = SDEStream(levels=[1, 2], batch_size=4, n_targets=n_targets, context_length=64,
                       horizon=8, n_futures=n_futures, t_in=1.0, t_out=0.125,
                       random_state=seed, device="cpu")
    return stream.sample_batch()


def test_training_generator_is_made_on_the_model_device(tmp_path, monkeypatch):
    """Sampling on CUDA refuses a CPU generator: the loop's generator must be created for
    the model's device, not with ``torch.Generator()`` (CPU whatever the device)."""
    from jointdist.models.jointfm import training

    made = {}

    class RecordingGenerator(torch.Generator):
        def __new__(cls, *args, **kwargs):
            g = super().__new__(cls, *args, **kwargs)
            made[id(g)] = kwargs.get("device", args[0] if args else None)
            return g

    seen = []
    original = training.jointfm_loss

    def spy(net, batch, **kw):
        seen.append((kw["generator"], batch.context.device,
                     next(net.parameters()).device))
        return original(net, batch, **kw)

    monkeypatch.setattr(torch, "Generator", RecordingGenerator)
    monkeypatch.setattr(training, "jointfm_loss", spy)
    train(_cfg(tmp_path, steps=2, val_every=0, dependence_weight=0.5,
               dependence_samples=4), progress=False)
    assert len(seen) == 2
    for gen, batch_device, model_device in seen:
        assert made[id(gen)] is not None, "generator created without a device"
        assert torch.device(made[id(gen)]) == model_device == batch_device


def test_loss_refuses_a_generator_on_another_device():
    class FakeCudaGenerator:
        device = torch.device("cuda", 0)

    torch.manual_seed(0)
    net = JointFM(JointFMConfig(**MODEL))
    with pytest.raises(ValueError, match="generator is on cuda:0 but the model"):
        jointfm_loss(net, _tiny_batch(), energy_weight=0.1, energy_samples=4,
                     generator=FakeCudaGenerator())


def test_bfloat16_autocast_training_step_on_cpu():
    """The autocast path (bf16 trunk, float32 heads, no GradScaler) for one full step."""
    torch.manual_seed(0)
    net = JointFM(JointFMConfig(**MODEL))
    batch = _tiny_batch()
    trunk_dtypes = []
    hook = net.patch_embed.register_forward_hook(
        lambda mod, inp, out: trunk_dtypes.append(out.dtype))
    ref, _ = jointfm_loss(net, batch, amp=True)  # CPU: True means CUDA only -> float32
    loss, parts = jointfm_loss(net, batch, amp="always", energy_weight=0.1,
                               energy_samples=4, dependence_weight=0.5,
                               dependence_samples=4, generator=torch.Generator().manual_seed(0))
    hook.remove()
    assert trunk_dtypes == [torch.float32, torch.bfloat16]
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    nll = parts["gmm"] + parts["skewt"]
    assert nll == pytest.approx(float(ref.detach()), rel=0.05)  # bf16 trunk, same model
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    opt.step()
    after = net.state_dict()
    assert all(after[k].dtype == torch.float32 for k in after)
    assert any(not torch.equal(before[k], after[k]) for k in after)


def test_train_runs_with_autocast_always(tmp_path):
    res = train(_cfg(tmp_path, steps=2, val_every=0, amp="always"), progress=False)
    assert res["step"] == 2 and np.isfinite(res["last_loss"])
    with pytest.raises(ValueError, match="amp"):
        _cfg(tmp_path, amp="fp16")


class _FakeClock:
    """One second per call: the loop reads the clock once per step."""

    def __init__(self):
        self.t = -1.0

    def __call__(self):
        self.t += 1.0
        return self.t


def test_time_budget_drives_the_schedule_and_a_resumed_run_continues_it(tmp_path):
    kw = dict(steps=40, warmup_steps=2, val_every=0, checkpoint_every=1000, batch_size=2,
              n_futures=4, energy_weight=0.0)
    # budget 20 s at 1 s per step: the run ends at step 20 (not 40), the cosine over time
    res = train(_cfg(tmp_path, **kw), progress=False, max_seconds=20, clock=_FakeClock())
    assert res["step"] == 20 and res["finished"] and res["train_seconds"] == 20
    log = {int(r["step"]): float(r["lr"])
           for r in csv.DictReader(open(tmp_path / "run" / "train_log.csv"))}
    # the lr of step index s uses elapsed s, warm-up ended at 2 s: progress (s - 2) / 18
    cos = lambda prog: 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * prog))  # noqa: E731
    assert log[10] == pytest.approx(1e-3 * cos(7 / 18))
    assert log[20] == pytest.approx(1e-3 * cos(17 / 18))
    straight = load_weights(tmp_path / "run" / "last" / "jointfm").state_dict()
    # cut after 9 s of a 20 s budget, then resumed without --max-seconds: the budget and
    # the elapsed time come from the checkpoint, so the schedule continues
    cut = _cfg(tmp_path, out_dir=str(tmp_path / "cut"), **kw)
    first = train(cut, progress=False, max_seconds=20, stop_after=9, clock=_FakeClock())
    assert first["step"] == 9 and not first["finished"]
    second = train(cut, progress=False, clock=_FakeClock())
    assert second["step"] == 20 and second["finished"]
    resumed = load_weights(tmp_path / "cut" / "last" / "jointfm").state_dict()
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="time budget"):
        train(cut, progress=False, max_seconds=0)


def test_time_budget_also_paces_the_curriculum():
    from jointdist.models.jointfm import training

    assert training._lr_factor(TrainConfig(model=MODEL, steps=100, warmup_steps=10),
                               50, time_progress=1.0) == pytest.approx(0.1)


def test_overrides_of_model_and_training_settings(tmp_path):
    from jointdist.models.jointfm.train import main
    from jointdist.models.jointfm.training import apply_overrides

    data = apply_overrides({"model": dict(MODEL), "steps": 4},
                           ["model.d_model=48", "train.batch_size=3", "n_targets=[2, 4]",
                            "device=cpu", "lr=1e-3", "amp=always", "init_from=null"])
    assert data["model"]["d_model"] == 48 and data["batch_size"] == 3
    assert data["n_targets"] == [2, 4] and data["device"] == "cpu" and data["amp"] == "always"
    assert data["init_from"] is None and data["steps"] == 4
    with pytest.raises(ValueError, match="Did you mean 'model.d_model'"):
        apply_overrides({}, ["model.d_modle=3"])
    with pytest.raises(ValueError, match="Did you mean 'batch_size'"):
        apply_overrides({}, ["batch_sise=3"])
    with pytest.raises(ValueError, match="expected a value like the default 32"):
        apply_overrides({}, ["batch_size=big"])
    with pytest.raises(ValueError, match="expected"):
        apply_overrides({}, ["model.d_model=2.5"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides({}, ["batch_size"])
    cfg = _cfg(tmp_path, steps=1, val_every=0)
    cfg.to_json(tmp_path / "c.json")
    assert main(["--config", str(tmp_path / "c.json"), "--no-progress",
                 "--set", "model.d_model=48", "--set", "batch_size=3",
                 "--set", "model.n_heads=6"]) == 0
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["model"]["d_model"] == 48 and saved["batch_size"] == 3
    assert load_weights(tmp_path / "run" / "last" / "jointfm").config.d_model == 48
    # invalid combinations are refused before anything runs
    assert main(["--config", str(tmp_path / "c.json"), "--set", "model.n_heads=5"]) == 2
    assert main(["--config", str(tmp_path / "c.json"), "--set", "bogus=1"]) == 2
    assert main(["--config", str(tmp_path / "c.json"), "--max-seconds", "0"]) == 2


def test_shipped_configs_load_and_large_is_three_times_the_default():
    from jointdist.models.jointfm.train import CONFIG_DIR, resolve_config

    for path in CONFIG_DIR.glob("*.json"):
        TrainConfig.from_json(path)
    assert resolve_config("large") == CONFIG_DIR / "large.json"
    with pytest.raises(FileNotFoundError, match="shipped configurations"):
        resolve_config("no_such_config")
    small = JointFM(TrainConfig.from_json(CONFIG_DIR / "dependence.json").model_config)
    large_cfg = TrainConfig.from_json(CONFIG_DIR / "large.json")
    large = JointFM(large_cfg.model_config)
    assert large.n_parameters >= 3 * small.n_parameters
    assert large_cfg.n_futures >= 128 and large_cfg.dependence_weight > 0


# --------------------------------------------------------------------------------------
# The dependence term of the objective.
# --------------------------------------------------------------------------------------
def _bivariate(rho, horizon=3):
    """A one-component GMM over 2 targets with unit variances and correlation rho."""
    from jointdist.models.jointfm.heads import JointGaussianMixture

    a = abs(rho) ** 0.5
    loc = torch.zeros(1, 1, horizon, 2)
    diag = torch.full((1, 1, horizon, 2), (1 - abs(rho)) ** 0.5)
    factor = torch.tensor([a, a * np.sign(rho)], dtype=torch.float32)
    factor = factor.view(1, 1, 1, 2, 1).expand(1, 1, horizon, 2, 1).clone()
    return JointGaussianMixture(torch.zeros(1, 1), loc, diag, factor)


@pytest.mark.parametrize("kind", ["variogram", "energy"])
def test_dependence_score_prefers_the_right_correlation(kind):
    from jointdist.models.jointfm.training import dependence_score

    mask = torch.ones(1, 2, dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    futures = _bivariate(0.8).rsample((2000,), gen)  # (F, 1, H, 2), the truth
    scores = {}
    for rho in (0.8, 0.0, -0.8):
        reps = [float(dependence_score(_bivariate(rho).rsample((400,), gen), futures, mask,
                                       kind=kind)[0][0]) for _ in range(5)]
        scores[rho] = (np.mean(reps), np.std(reps, ddof=1) / np.sqrt(len(reps)))
    (right, se_r), (indep, se_i), (wrong, se_w) = scores[0.8], scores[0.0], scores[-0.8]
    assert right + 4 * (se_r + se_i) < indep and indep + 4 * (se_i + se_w) < wrong, scores


def test_dependence_score_standardized_each_sees_only_the_dependence():
    """standardize="each" is invariant to the samples' location and scale (so a model
    much wider than nearly deterministic futures does not dominate the term), still
    ranks the right correlation first, and its gradient reaches the samples."""
    from jointdist.models.jointfm.training import dependence_score

    mask = torch.ones(1, 2, dtype=torch.bool)
    gen = torch.Generator().manual_seed(1)
    futures = _bivariate(0.8).rsample((2000,), gen) * 1e-2  # narrow futures
    right = _bivariate(0.8).rsample((400,), gen)
    wrong = _bivariate(-0.8).rsample((400,), gen)
    by_futures = float(dependence_score(right, futures, mask)[0][0])
    each = float(dependence_score(right, futures, mask, standardize="each")[0][0])
    moved = float(dependence_score(right * 50.0 + 3.0, futures, mask,
                                   standardize="each")[0][0])
    assert each == pytest.approx(moved, rel=1e-4)
    assert by_futures > 100 * each  # the marginal mismatch dominates the default
    assert float(dependence_score(wrong, futures, mask, standardize="each")[0][0]) > 3 * each
    x = right.clone().requires_grad_(True)
    dependence_score(x, futures, mask, standardize="each")[0].sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="standardize"):
        dependence_score(right, futures, mask, standardize="oracle")


def test_dependence_term_gradient_reaches_the_gmm_head_and_default_is_unchanged():
    torch.manual_seed(0)
    net = JointFM(JointFMConfig(**MODEL))
    batch = _tiny_batch(n_targets=(1, 3), n_futures=16)
    base, parts0 = jointfm_loss(net, batch)
    assert set(parts0) == {"gmm", "skewt"}  # default: the NLL as before
    loss, parts = jointfm_loss(net, batch, dependence_weight=1.0, dependence_samples=8,
                               generator=torch.Generator().manual_seed(1))
    assert np.isfinite(parts["dependence"]) and parts["dependence"] > 0
    assert float(loss.detach()) == pytest.approx(float(base.detach()) + parts["dependence"],
                                                 rel=1e-5)
    (loss - base).backward()
    g_gmm = net.heads["gmm"].per_target.weight.grad
    assert torch.isfinite(g_gmm).all() and float(g_gmm.abs().sum()) > 0
    assert float(net.heads["skewt"].per_target.weight.grad.abs().sum()) == 0
    trunk = next(net.patch_embed.parameters()).grad
    assert torch.isfinite(trunk).all() and float(trunk.abs().sum()) > 0
    with pytest.raises(ValueError, match="gmm"):
        TrainConfig(model={**MODEL, "heads": ["skewt"]}, dependence_weight=1.0)
    with pytest.raises(ValueError, match="dependence_score"):
        TrainConfig(model=MODEL, dependence_score="copula")
    with pytest.raises(ValueError, match="dependence_standardize"):
        TrainConfig(model=MODEL, dependence_standardize="oracle")


def test_nll_on_a_subset_of_the_futures():
    from dataclasses import replace

    torch.manual_seed(0)
    net = JointFM(JointFMConfig(**MODEL))
    batch = _tiny_batch(n_futures=12)
    _, sub = jointfm_loss(net, batch, nll_futures=5)
    first5 = replace(batch, futures=batch.futures[:, :5])
    _, ref = jointfm_loss(net, first5)
    _, full = jointfm_loss(net, batch)
    for head in ("gmm", "skewt"):
        assert sub[head] == pytest.approx(ref[head], rel=1e-6) and sub[head] != full[head]
    with pytest.raises(ValueError, match="nll_futures"):
        TrainConfig(model=MODEL, n_futures=8, nll_futures=9)
