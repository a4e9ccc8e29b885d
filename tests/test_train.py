import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from videolstm import checkpoint
from videolstm.errors import UserError
from videolstm.train import ClippedSGD, resolve_run, train


def same_weights(a, b):
    sa, sb = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
    same = all(torch.equal(sa["state_dict"][k], sb["state_dict"][k]) for k in sa["state_dict"])
    return sa["step"] == sb["step"] and same


def test_run_settings_merge_defaults_domain_and_run(base_config):
    variant, tc, settings = resolve_run(base_config["pretrain"], "mnist", "cond_future")
    mnist_train = base_config["pretrain"]["mnist"]["train"]
    run_train = base_config["pretrain"]["mnist"]["runs"]["cond_future"]["train"]
    assert variant == "cond_future" and tc.hidden == mnist_train["hidden"]  # domain over defaults
    assert tc.steps == mnist_train["steps"]
    defaults = base_config["pretrain"]["defaults"]
    assert tc.teacher_forcing == run_train["teacher_forcing"] != defaults["teacher_forcing"]  # run
    assert tc.momentum == base_config["pretrain"]["defaults"]["momentum"]  # defaults underneath
    assert settings["n_in"] == 10 and settings["output"] == "sigmoid"
    with pytest.raises(UserError, match="no run 'nope'"):
        resolve_run(base_config["pretrain"], "mnist", "nope")


def test_resume_equals_uninterrupted_run(tiny_config, tmp_path):
    cfg = tiny_config
    train(cfg, "mnist", "composite_cond", tmp_path / "full")
    train(cfg, "mnist", "composite_cond", tmp_path / "cut", max_steps=4)  # stops after step 4
    assert not (tmp_path / "cut" / "final.pt").exists()
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["step"] == 4
    train(cfg, "mnist", "composite_cond", tmp_path / "cut")
    assert same_weights(tmp_path / "full" / "final.pt", tmp_path / "cut" / "final.pt")
    assert (tmp_path / "full" / "metrics.csv").read_bytes() == (tmp_path / "cut" / "metrics.csv").read_bytes()
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["steps"] == 6 and set(summary["valid"]) == {"recon", "future", "total"}


def test_teacher_forcing_setting_reaches_the_training_loop(tiny_config, tmp_path):
    """teacher_forcing false trains a conditional decoder on its own outputs: other weights than
    with the ground truth fed; an unconditioned model is not affected at all."""
    for variant in ("cond_future", "future"):
        for flag in (True, False):
            cfg = json.loads(json.dumps(tiny_config))
            cfg["pretrain"]["defaults"]["teacher_forcing"] = flag
            train(cfg, "mnist", variant, tmp_path / f"{variant}_{flag}")
        same = same_weights(tmp_path / f"{variant}_True" / "final.pt",
                            tmp_path / f"{variant}_False" / "final.pt")
        assert same == (variant == "future"), variant


def test_resume_after_a_real_kill(tiny_config, tmp_path):
    cfg = json.loads(json.dumps(tiny_config))
    cfg["pretrain"]["defaults"].update(steps=300, checkpoint_every=10, eval_every=300, log_every=10)
    cmd = [sys.executable, "-m", "videolstm", "pretrain", "--cfg", json.dumps(cfg), "--domain", "mnist",
           "--run", "future", "--threads", "1"]
    subprocess.run(cmd + ["--out-dir", str(tmp_path / "full")], check=True, capture_output=True)
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out-dir", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(out / "last.pt", weights_only=False)["step"]
    assert killed_at < 300, "the run finished before it could be killed; make it longer"
    assert not (out / "final.pt").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")] or True  # stray temp files are harmless
    done = subprocess.run(cmd + ["--out-dir", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"at step {killed_at}" in done.stderr
    assert same_weights(tmp_path / "full" / "final.pt", out / "final.pt")


def resumed_or_fresh(cfg, domain, out, capsys, **kw):
    """Train and return what the run said about last.pt on stderr."""
    capsys.readouterr()
    train(cfg, domain, "future", out, **kw)
    return capsys.readouterr().err


@pytest.mark.parametrize("change", ["model", "generator", "steps_below_checkpoint"])
def test_a_changed_run_starts_afresh_and_keeps_the_stale_checkpoint(tiny_config, tmp_path, capsys, change):
    cfg = json.loads(json.dumps(tiny_config))
    train(cfg, "mnist", "future", tmp_path / "old", max_steps=4)
    changed = json.loads(json.dumps(tiny_config))
    if change == "model":
        changed["pretrain"]["defaults"]["hidden"] = 9
    elif change == "generator":  # the data change of issue 13: fixed speed -> random speed
        changed["mnist"]["generator"]["speed"] = "random"
    else:  # a checkpoint at step 4 cannot become a 3-step run
        changed["pretrain"]["defaults"]["steps"] = 3
    err = resumed_or_fresh(changed, "mnist", tmp_path / "old", capsys)
    assert "not resuming" in err and "resuming mnist/future" not in err.replace("not resuming", "")
    assert (tmp_path / "old" / "last.stale.pt").is_file()
    assert checkpoint.load(tmp_path / "old" / "last.stale.pt")["step"] == 4
    train(changed, "mnist", "future", tmp_path / "fresh")  # what an uninterrupted new run gives
    assert same_weights(tmp_path / "fresh" / "final.pt", tmp_path / "old" / "final.pt")
    summary = json.loads((tmp_path / "old" / "summary.json").read_text())
    assert summary["steps"] == checkpoint.load(tmp_path / "old" / "final.pt")["step"]


def test_changed_frame_arrays_are_not_resumed(tiny_config, tmp_path, capsys):
    make_arrays(tiny_config, tmp_path)
    tiny_config["pretrain"]["patches"]["runs"] = {"future": {"variant": "future"}}
    train(tiny_config, "patches", "future", tmp_path / "out", data_root=tmp_path, max_steps=2)
    same = resumed_or_fresh(tiny_config, "patches", tmp_path / "out", capsys, data_root=tmp_path,
                            max_steps=3)
    assert "resuming patches/future" in same and "not resuming" not in same  # same data: resumes
    np.save(tmp_path / "arr" / "x.npy", np.zeros((201, 6), np.float16))  # the zeros of issue 13
    err = resumed_or_fresh(tiny_config, "patches", tmp_path / "out", capsys, data_root=tmp_path)
    assert "not resuming" in err and "the training data changed (arrays)" in err


def test_authors_sgd_clips_the_update_elementwise():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = ClippedSGD([p], lr=1.0, momentum=0.0, weight_decay=0.0, clip=0.5)
    p.grad = torch.tensor([10.0, -0.2, -3.0])
    opt.step()
    assert torch.allclose(p.detach(), torch.tensor([-0.5, 0.2, 0.5]))


def make_arrays(tiny_config, tmp_path):
    rng = np.random.default_rng(0)
    lengths = [40, 35, 50, 31, 45]
    frames = rng.random((sum(lengths), 6)).astype(np.float16)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    (tmp_path / "arr").mkdir()
    np.save(tmp_path / "arr" / "x.npy", frames)
    np.save(tmp_path / "arr" / "x.offsets.npy", offsets)
    tiny_config["pretrain"]["patches"] = {"data": {"arrays": ["arr/x"], "valid_fraction": 0.2},
                                          "runs": {"composite": {"variant": "composite"}}}


def test_array_domain_trains_on_windows(tiny_config, tmp_path):
    make_arrays(tiny_config, tmp_path)
    summary = train(tiny_config, "patches", "composite", tmp_path / "out", data_root=tmp_path)
    assert summary["model_config"]["input_dim"] == 6 and summary["model_config"]["output"] == "linear"
    assert summary["model_config"]["n_future"] == 13
    enc = checkpoint.load_encoder(tmp_path / "out" / "final.pt")
    assert enc.lstm.layers[0].input_dim == 6


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tiny_config, tmp_path):
    make_arrays(tiny_config, tmp_path)
    tiny_config["pretrain"]["defaults"].update(optimizer="sgd", lr=1e30, clip=None, momentum=0.0,
                                               steps=50, checkpoint_every=1)
    with pytest.raises(UserError, match=r"training loss became (nan|inf).*last good checkpoint"):
        train(tiny_config, "patches", "composite", tmp_path / "out", data_root=tmp_path)
    assert not (tmp_path / "out" / "final.pt").exists()
    state = checkpoint.load(tmp_path / "out" / "last.pt")
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())


def test_nan_guard_without_a_sync_every_step_names_the_same_first_bad_step(tiny_config, tmp_path):
    """The guard reads the device only at log/eval/checkpoint steps, yet reports the step where
    the loss first went bad, and no checkpoint of that step or later exists."""
    import re

    make_arrays(tiny_config, tmp_path)
    steps = {}
    for every in (1, 7):
        tiny_config["pretrain"]["defaults"].update(
            optimizer="sgd", lr=1e30, clip=None, momentum=0.0, steps=50,
            checkpoint_every=every, log_every=every, eval_every=every)
        with pytest.raises(UserError, match=r"training loss became") as err:
            train(tiny_config, "patches", "composite", tmp_path / f"out{every}", data_root=tmp_path)
        steps[every] = int(re.search(r"at step (\d+)", str(err.value)).group(1))
        last = tmp_path / f"out{every}" / "last.pt"
        if last.exists():
            state = checkpoint.load(last)
            assert state["step"] < steps[every]
            assert all(torch.isfinite(v).all() for v in state["state_dict"].values())
    assert steps[1] == steps[7]


def test_weights_that_go_bad_with_a_finite_loss_are_never_checkpointed(tiny_config, tmp_path, monkeypatch):
    """An update can make the weights inf while the loss it came from was finite: the guard
    checks the weights before writing a checkpoint."""
    import videolstm.train as train_mod

    make_arrays(tiny_config, tmp_path)
    real = train_mod.make_optimizer

    def poisoned(model, tc):  # the 5th update leaves an inf weight behind
        opt = real(model, tc)
        step, calls = opt.step, [0]

        def bad_step(*a, **k):
            out = step(*a, **k)
            calls[0] += 1
            if calls[0] == 5:
                with torch.no_grad():
                    next(model.parameters()).fill_(float("inf"))
            return out
        opt.step = bad_step
        return opt

    monkeypatch.setattr(train_mod, "make_optimizer", poisoned)
    # 5 steps, one checkpoint at the end: every loss was finite, the weights are not
    tiny_config["pretrain"]["defaults"].update(steps=5, checkpoint_every=5, log_every=5, eval_every=5)
    with pytest.raises(UserError, match=r"weights became non-finite by step 5"):
        train(tiny_config, "patches", "composite", tmp_path / "a", data_root=tmp_path)
    assert not (tmp_path / "a" / "last.pt").exists() and not (tmp_path / "a" / "final.pt").exists()
    # 6 steps, checkpoints at 3 and 6: the good one at step 3 is kept, nothing after it
    tiny_config["pretrain"]["defaults"].update(steps=6, checkpoint_every=3, log_every=3, eval_every=3)
    with pytest.raises(UserError, match=r"(weights became non-finite|training loss became)"):
        train(tiny_config, "patches", "composite", tmp_path / "b", data_root=tmp_path)
    state = checkpoint.load(tmp_path / "b" / "last.pt")
    assert state["step"] == 3 and all(torch.isfinite(v).all() for v in state["state_dict"].values())
    assert not (tmp_path / "b" / "final.pt").exists()


def test_sequence_eval_on_arrays(tiny_config, tmp_path):
    from videolstm.cli import main

    make_arrays(tiny_config, tmp_path)
    train(tiny_config, "patches", "composite", tmp_path / "out", data_root=tmp_path)
    out = tmp_path / "eval.json"
    assert main(["sequence-eval", "--checkpoint", str(tmp_path / "out" / "final.pt"),
                 "--arrays", str(tmp_path / "arr" / "x"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n_sequences"] == 5 and result["loss"] == "squared_error"
    # squared error per frame of uniform [0,1) data in 6 dims is of order 6 * 1/3, not 0
    assert 0.1 < result["metrics"]["future_loss"] < 20
    assert len(result["metrics"]["future_loss_by_step"]) == 13
