"""What the model jobs declare (videolstm.job_resources): counted memory against a measured peak,
bank sizes counted exactly, paper-scale jobs that fit the stated GPU, and the table in docs/paper_jobs.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from videolstm import job_resources as jr
from videolstm import memory
from videolstm.config import load_config
from videolstm.counts import classifier_counts
from videolstm.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_results_folder(tmp_path, monkeypatch):
    """The counts read a config's results folder (relative to the working directory) when its
    indexes exist: run where there is none, so that what a run left in the checkout's results/
    (the embedded indexes) never changes what these tests compute (make reproduce, then make
    test)."""
    monkeypatch.chdir(tmp_path)

PROBE = r"""
import sys, torch
from dataclasses import asdict
from videolstm import job_resources as jr
from videolstm.counts import pretrain_counts
from videolstm.models import ModelConfig, build_model

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

torch.set_num_threads(1)
mcfg = ModelConfig(input_dim=1024, hidden=512, layers=2, cell="peephole", init="paper",
                   output="linear", n_in=16, n_recon=16, n_future=13)
step = pretrain_counts("composite", tuple(sorted(asdict(mcfg).items())), 256, True)
x = torch.randn(29, 256, 1024)
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM)
base = status("VmRSS")
model = build_model("composite", mcfg)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for _ in range(2):  # the second step holds Adam's states too
    loss = model.losses(x[:16], x[16:])["total"]
    opt.zero_grad()
    loss.backward()
    opt.step()
counted = step["params"] * 4 * (2 + 2) + step["saved"] + x.numel() * 4
print(counted, status("VmHWM") - base)
"""


def test_counted_training_memory_matches_the_measured_peak():
    """A composite model's training step (1024-d frames, 2 x 512, batch 256, float32 on CPU):
    weights, gradients, Adam's states and the saved activations, counted on the meta device,
    are within 25% of the process's measured peak memory, and the declared amount (with its
    margin) is above it."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    counted, peak = map(int, out.stdout.split())
    assert 0.75 * peak <= counted <= 1.25 * peak, (counted, peak)
    assert counted * memory.DEVICE_MARGIN + memory.DEVICE_SLACK_MB * memory.MB > peak


def test_a_bank_is_counted_exactly():
    from videolstm.finetune.bank import LSTMBank

    step = classifier_counts(48, 32, 2, 7, 16, 8)
    bank = LSTMBank(5, 48, 32, 2, 7)
    assert sum(p.numel() for p in bank.parameters()) == 5 * step["params"]


def _paper(**resources):
    cfg = load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "paper.yaml")
    cfg["resources"] = {**cfg["resources"], **resources}
    return cfg


def test_paper_jobs_fit_the_stated_gpu_and_a_bigger_bank_is_refused_with_a_fix():
    cfg = _paper()
    assert jr.fit_problems(cfg) == []
    ft = jr.for_rule(cfg, "finetune", {"dataset": "ucf101", "split": "1"})
    assert 0 < ft["gpu_mem_mb"] <= cfg["resources"]["gpu_mem_gb"] * 1000
    # 64 classifiers of 2 x 2048 on 4096-d percepts at once (the embedded default) cannot fit
    big = {**cfg, "finetune": {**cfg["finetune"], "max_runs_together": 64}}
    problems = jr.fit_problems(big)
    assert any(p.startswith("finetune ucf101") and "set finetune.max_runs_together to" in p
               for p in problems)
    fits = jr.largest_runs_together(big, "finetune", {"dataset": "ucf101", "split": "1"})
    assert 16 <= fits < 64
    over = {**big, "finetune": {**big["finetune"], "max_runs_together": fits + 1}}
    assert jr.for_rule(over, "finetune", {"dataset": "ucf101", "split": "1"})["gpu_mem_mb"] > 40 * 1000
    from videolstm.check import check_inputs

    with pytest.raises(UserError, match="max_runs_together"):
        check_inputs(big)


def test_runtime_follows_the_counted_flops_only_when_the_device_speed_is_stated():
    w = {"domain": "mnist", "run": "composite"}
    assert jr.for_rule(_paper(), "pretrain", w)["runtime"] == 2880  # runtime_min: no speed assumed
    fast, slow = (jr.for_rule(_paper(sustained_tflops=t), "pretrain", w)["runtime"] for t in (8, 2))
    assert 30 < fast < slow and abs((slow - 30) / (fast - 30) - 4) < 0.02


def test_the_docs_state_the_paper_jobs_as_the_code_counts_them():
    """docs/paper_jobs.md (linked from docs/paper_scale.md) holds the table `videolstm plan` prints."""
    text = (ROOT / "docs" / "paper_jobs.md").read_text()
    start, end = "<!-- paper-jobs:start -->\n", "<!-- paper-jobs:end -->"
    assert start in text and end in text, "docs/paper_jobs.md lacks the paper-scale job table"
    block = text.split(start, 1)[1].split(end, 1)[0]
    assert block == jr.render_jobs(_paper()), (
        "docs/paper_jobs.md's paper-scale job table is stale: paste `videolstm plan --configfile "
        "config/paper.yaml`'s job table between the markers")
    assert "(paper_jobs.md)" in (ROOT / "docs" / "paper_scale.md").read_text()


def test_a_table_is_resident_at_run_time_exactly_when_the_plan_counts_it_resident(monkeypatch):
    """finetune.frames decides residency on the GPU's free memory less the bank's counted bytes
    with the same margin job_resources uses for gpu_mem_mb: a table fits exactly when
    device_need(bank + table) <= free (CUDA calls faked: no GPU here)."""
    import torch

    from videolstm.finetune.frames import resident_budget

    bank, table = 7 * 10**9, 3 * 10**9
    need = memory.device_need(bank + table)
    for free, fits in ((need, True), (need - 2, False)):
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None, f=free: (f, 80 * 10**9))
        monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
        assert (table <= resident_budget(torch.device("cuda"), bank)) is fits
