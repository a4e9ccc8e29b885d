"""Every paper-scale pretraining run trains with the authors' settings, key by key.

config/paper.yaml overlays config/config.yaml (videolstm.config.deep_merge, as Snakemake's
`--configfile` does: dicts merged recursively, so a key the overlay does not set keeps the embedded
config's value), and a run's settings are resolved pretrain.defaults <- pretrain.<domain>.train <-
pretrain.<domain>.runs.<run>.train (videolstm.pretrain_settings.resolve_run, the function the pretrain job,
`videolstm plan` and the job resources use). A run-level setting of the embedded config (e.g.
`teacher_forcing: false` of its conditional Moving MNIST runs) therefore survives the overlay unless
paper.yaml resets it at the run level. This test resolves every pretraining job of the paper-scale
workflow (videolstm.catalogue.pretrain_jobs: every run of every domain, per split where the domain
is split-scoped) and compares its settings with the table below.

Sources (the authors' released code and model configs, the paper, the lab report):
- optimizer, momentum, lr, weight_decay: util.py `Update`, SGD with momentum 0.9, learning rate
  1e-4, L2 decay 1e-4 on weights ("Optimiser in the authors' code", every MNIST model config).
- clip: the update clipped element-wise to +-gradient_clip, 1e-4 in every MNIST model config; for
  patches and percepts the authors' code clips element-wise but no value is given (checked: clipped).
- loss_reduction: gradients summed over batch and frames (derivative pred - target, no division).
- teacher_forcing: lstm_combo.py feeds conditional decoders the ground truth in training.
- amp: the authors' cudamat code trains in float32 (no bf16 autocast).
- cell: LSTM with peepholes (Graves 2013). init: both are selectable and the paper's is the
  default (uniform 1/sqrt(fan-in); the authors' code's +-0.01 is `init: authors`).
- batch_size: 80 (MNIST), 100 (patches); not stated for percepts (not checked there).
- hidden, layers: Moving MNIST 2 x 2048 (Table 2: "All models use 2 layers"), the Figure 7/8
  model 1 x 2048; patches 2 x 2048; RGB percepts 2 x 2048; flow LSTMs 128 units (layers not
  stated: not checked).
- Lab report runs (not the authors' code): RMSProp, learning rate 1e-4, 500 / 1500 / 2500 units.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import pytest

from videolstm.catalogue import pretrain_jobs
from videolstm.config import load_config
from videolstm.pretrain_settings import TrainConfig, resolve_run
from videolstm.video.scope import parse_domain

ROOT = Path(__file__).resolve().parents[1]
PAPER = [ROOT / "config" / "config.yaml", ROOT / "config" / "paper.yaml"]

CLIPPED = "clipped"  # the update is clipped element-wise: a positive clip, value not fixed

# the authors' code (util.py, lstm_combo.py, models/*.pbtxt), in every domain
AUTHORS = {
    "optimizer": "sgd",
    "momentum": 0.9,
    "lr": 1e-4,
    "weight_decay": 1e-4,
    "clip": CLIPPED,
    "loss_reduction": "sum",
    "teacher_forcing": True,
    "amp": False,
    "cell": "peephole",
    "init": "paper",
}
# per domain, on top of AUTHORS
DOMAINS = {
    "mnist": {"clip": 1e-4, "batch_size": 80, "hidden": 2048, "layers": 2},
    "patches": {"batch_size": 100, "hidden": 2048, "layers": 2},
    "percepts_rgb": {"hidden": 2048, "layers": 2},
    "percepts_flow": {"hidden": 128},
    "percepts_flowstack": {"hidden": 128},
}
# per run, on top of its domain
RUNS = {
    ("mnist", "composite_1layer"): {"layers": 1},  # Figures 7 and 8: a 1-layer Composite Model
}
LABREPORT = {"optimizer": "rmsprop", "lr": 1e-4}


def expected(domain: str, run: str) -> dict:
    """The settings a paper-scale run must have (module docstring: where each comes from)."""
    base, _ = parse_domain(domain)
    if base == "labreport":
        want = dict(LABREPORT)
        if run.startswith("fc"):
            want["hidden"] = int(run[2:])
        return want
    if base not in DOMAINS:
        raise AssertionError(f"pretrain.{base}: no authors' settings listed in this test; add "
                             "the domain to DOMAINS")
    return {**AUTHORS, **DOMAINS[base], **RUNS.get((base, run), {})}


def differences(tc: TrainConfig, want: dict) -> list[str]:
    got = asdict(tc)
    out = []
    for key, value in want.items():
        have = got[key]
        if value == CLIPPED:
            ok = isinstance(have, (int, float)) and have > 0
        elif isinstance(value, float):
            ok = isinstance(have, (int, float)) and have == pytest.approx(value, rel=1e-9)
        else:
            ok = have == value and type(have) is type(value)
        if not ok:
            shown = "a positive clip (the update clipped element-wise)" if value == CLIPPED else repr(value)
            out.append(f"{key} is {have!r}, the authors' is {shown}")
    return out


def pretrain_runs(cfg: dict) -> list[tuple[str, str]]:
    return [(j.wildcards["domain"], j.wildcards["run"]) for j in pretrain_jobs(cfg, "results")]


def mismatches(cfg: dict) -> dict[str, list[str]]:
    """{'pretrain.<domain>.runs.<run>': [what differs]} over every pretraining job of `cfg`."""
    out = {}
    for domain, run in pretrain_runs(cfg):
        _, tc, _ = resolve_run(cfg["pretrain"], domain, run)
        diff = differences(tc, expected(domain, run))
        if diff:
            out[f"pretrain.{domain}.runs.{run}"] = diff
    return out


def report(found: dict[str, list[str]]) -> str:
    return "config/paper.yaml departs from the authors' settings:\n" + "\n".join(
        f"  {where}: {'; '.join(diff)}" for where, diff in sorted(found.items()))


@pytest.fixture(scope="module")
def paper() -> dict:
    return load_config(*PAPER)


def test_every_paper_pretraining_run_has_the_authors_settings(paper):
    jobs = pretrain_runs(paper)
    domains = {parse_domain(d)[0] for d, _ in jobs}
    assert domains == set(DOMAINS) | {"labreport"}, f"pretraining domains: {sorted(domains)}"
    found = mismatches(paper)
    if found:
        print(report(found))
    assert not found, report(found)


def test_the_conditional_moving_mnist_runs_are_teacher_forced(paper):
    """Issue 21: the embedded config's run-level `teacher_forcing: false` must not reach paper
    scale through the overlay."""
    for run, spec in paper["pretrain"]["mnist"]["runs"].items():
        if spec["variant"] in ("cond_future", "composite_cond", "cond_autoencoder"):
            _, tc, _ = resolve_run(paper["pretrain"], "mnist", run)
            assert tc.teacher_forcing is True, f"pretrain.mnist.runs.{run}: teacher_forcing is False"


def test_the_check_names_the_run_and_key_that_differ(paper):
    cfg = copy.deepcopy(paper)
    cfg["pretrain"]["mnist"]["runs"]["cond_future"]["train"]["teacher_forcing"] = False
    cfg["pretrain"]["patches"]["train"]["amp"] = True
    found = mismatches(cfg)
    assert set(found) == {"pretrain.mnist.runs.cond_future"} | {
        f"pretrain.patches.runs.{r}" for r in cfg["pretrain"]["patches"]["runs"]}
    assert found["pretrain.mnist.runs.cond_future"] == [
        "teacher_forcing is False, the authors' is True"]
    assert all(diff == ["amp is True, the authors' is False"]
               for where, diff in found.items() if ".patches." in where)
    assert "pretrain.mnist.runs.cond_future: teacher_forcing is False" in report(found)


def test_paper_classifiers_use_the_authors_windows_peepholes_and_dropout():
    """lstm_classifier.py draws training windows uniformly over all windows; the released
    classifier config freezes the peepholes (lr 0); the paper: every classifier used dropout."""
    from videolstm.finetune.engine import TrainConfig as ClassifierConfig

    ft = load_config(*PAPER)["finetune"]
    lstm = ClassifierConfig.from_dict(ft["lstm"])
    frame = ClassifierConfig.from_dict(ft["single_frame"])
    assert (lstm.windows, lstm.freeze_peepholes) == ("all", True)
    assert lstm.dropout > 0 and frame.dropout > 0
    assert frame.windows == "all"
