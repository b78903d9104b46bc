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
    assert train(cfg2, progress=False, max_seconds=0)["step"] == 1
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
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
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
    _torchrun(tmp_path / "c.json", "--out-dir", str(tmp_path / "cut"), "--max-seconds", "0")
    assert torch.load(tmp_path / "cut" / "checkpoint_last.pt", weights_only=True)["step"] == 1
    resumed = _torchrun(tmp_path / "c.json", "--out-dir", str(tmp_path / "cut"))
    assert "resumed from" in resumed.stderr
    a = load_weights(tmp_path / "run" / "last" / "jointfm").state_dict()
    b = load_weights(tmp_path / "cut" / "last" / "jointfm").state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6)
