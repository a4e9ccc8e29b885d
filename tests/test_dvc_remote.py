"""DVC remote round trip: repro + push in one clone, pull in a fresh clone, nothing left to redo.

Restored files get new modification times in an arbitrary order and a fresh clone has no
Snakemake metadata (.snakemake/), so `make pulled` checks the workspace against dvc.lock and then
marks the outputs up to date (`snakemake --touch`, which never creates a missing output).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def sh(cmd: list[str] | str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                         shell=isinstance(cmd, str), timeout=600)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} failed ({res.returncode}):\n{res.stdout[-3000:]}\n"
                             f"{res.stderr[-3000:]}")
    return res


def shrink(cfg: dict) -> dict:
    """The embedded config cut to seconds: tiny eval sets, one tiny MNIST run, 2 steps."""
    cfg["mnist"]["eval"].update(valid_size=8, test_size=8, ood_size=4, rollout_steps=4)
    cfg["pretrain"]["defaults"].update(hidden=8, layers=1, batch_size=2, steps=2,
                                       checkpoint_every=1, log_every=1, eval_every=2)
    return cfg


def copy_worktree(dst: Path) -> None:
    files = sh(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(("results/", "benchmarks/results/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def test_push_then_pull_in_a_fresh_clone_leaves_nothing_to_do(tmp_path):
    origin, remote, clone = tmp_path / "origin", tmp_path / "remote", tmp_path / "clone"
    origin.mkdir()
    copy_worktree(origin)
    cfg_path = origin / "config" / "config.yaml"
    tiny = shrink(yaml.safe_load(cfg_path.read_text()))
    cfg_path.write_text(yaml.safe_dump(tiny, sort_keys=False))
    # the first stage (data) keeps the test in budget; the later stages share the same mechanics
    stages = list(yaml.safe_load((origin / "dvc.yaml").read_text())["stages"])[:1]
    phases = [f"phase_{s}" for s in stages]

    sh("git init -q && git add -A && git commit -qm project", origin)
    sh(["dvc", "remote", "add", "-d", "local", str(remote)], origin)
    t0 = time.perf_counter()
    sh(["dvc", "repro", *stages], origin)
    repro_s = time.perf_counter() - t0
    sh(["dvc", "push", *stages], origin)
    sh("git add -A && git commit -qm 'repro + remote'", origin)
    outs = {p.relative_to(origin): p.read_bytes() for p in (origin / "results").rglob("*")
            if p.is_file() and p.relative_to(origin).parts[1] not in ("logs", "benchmarks")}
    assert outs, "dvc repro wrote nothing under results/"

    sh(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    (clone / ".venv").symlink_to(BIN.parent)  # the project environment, not rebuilt
    sh(["dvc", "pull", *stages], clone)
    for rel, data in outs.items():
        if rel.parts[1] not in ("logs", "benchmarks"):
            assert (clone / rel).read_bytes() == data, rel
    # the pitfall at its worst: upstream phases restored last (newer than everything downstream)
    now = time.time()
    for i, stage in enumerate(stages):
        for p in (clone / "results").rglob("*"):
            if p.is_file() and p.relative_to(clone / "results").parts[0] == stage:
                os.utime(p, (now - 1000 * i, now - 1000 * i))

    res = sh(["make", "-o", ".venv/.installed", "pulled", f"PULL={' '.join(stages)}",
              f"TOUCH={' '.join(phases)}"], clone)
    assert "pulled outputs are up to date" in res.stdout
    dry = sh(["snakemake", "-n", "--cores", "1", *phases], clone)
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    assert "changed" not in sh(["dvc", "status", *stages], clone).stdout  # still matches dvc.lock
    print(f"dvc repro of {stages} took {repro_s:.1f}s")


def test_pulled_refuses_to_touch_a_workspace_that_differs_from_the_lock(tmp_path):
    """Never mark outputs up to date that dvc.lock does not vouch for."""
    res = sh(["make", "-n", "-o", ".venv/.installed", "pulled"], ROOT)
    assert "dvc status --quiet" in res.stdout and "--touch" in res.stdout
    lines = res.stdout.splitlines()
    assert [i for i, x in enumerate(lines) if "dvc status" in x][0] < \
           [i for i, x in enumerate(lines) if "--touch" in x][0]
