"""kill -9 of the WHOLE workflow, then the same command again, gives an uninterrupted run's results.

Two copies of the repo run the whole DAG under the tiny overlay (tests/dvc_tiny.yaml): copy A
uninterrupted; copy B is killed (SIGKILL to Snakemake's whole process group, i.e. Snakemake and
every running job) at a seeded random moment between 20 % and 80 % of A's wall time, then rerun
with `--rerun-incomplete` (after `snakemake --unlock`). Every table, figure, metric and
fine-tuning result must be byte-identical to A's, and every pretrained `final.pt` must hold the
same weights (pickled bytes may differ, so tensors are compared). Set VIDEOLSTM_KILL_SEED to
try other kill points.
"""

from __future__ import annotations

import io
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from test_dvc_remote import BIN, copy_worktree, sh, tiny_config

pytestmark = pytest.mark.slow

CMD = ["snakemake", "--cores", "2"]
SKIP = ("logs", "benchmarks")  # local run records, no step's results
FINAL_TARGETS = ("results/tables/table1.csv", "results/metrics/paper.json")


def make_copy(dst: Path, cfg: dict) -> Path:
    dst.mkdir()
    copy_worktree(dst)
    (dst / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dst


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def compared_files(repo: Path) -> dict[Path, bytes]:
    """Every output under results/ (tables, figures, metrics, finetune, percepts, data, pretrain)."""
    return {p.relative_to(repo): p.read_bytes() for p in sorted((repo / "results").rglob("*"))
            if p.is_file() and p.relative_to(repo / "results").parts[0] not in SKIP
            and not p.name.endswith(".tmp")}


def same(rel: Path, a: bytes, b: bytes) -> bool:
    """Bytes, except that checkpoints compare their weights (pickles may differ in bytes)."""
    if a == b:
        return True
    if rel.suffix == ".pt":
        wa, wb = (torch.load(io.BytesIO(x), map_location="cpu", weights_only=False).get("state_dict")
                  for x in (a, b))
        return (wa is not None and wb is not None and wa.keys() == wb.keys()
                and all(torch.equal(wa[k], wb[k]) for k in wa))
    return False


def finals(repo: Path) -> list[Path]:
    return sorted(p.relative_to(repo) for p in (repo / "results" / "pretrain").glob("*/*/final.pt"))


def survivors(repo: Path) -> list[str]:
    """Processes still running in the repo copy (a job that escaped the killed group)."""
    left = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")).is_relative_to(repo):
                left.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
        except OSError:
            pass
    return left


def test_kill_9_of_the_whole_run_then_rerun_matches_an_uninterrupted_run(tmp_path):
    cfg = tiny_config()
    a = make_copy(tmp_path / "a", cfg)
    b = make_copy(tmp_path / "b", cfg)

    t0 = time.perf_counter()
    sh(CMD, a)
    wall = time.perf_counter() - t0
    expected = compared_files(a)
    assert all(Path(t) in expected for t in FINAL_TARGETS), sorted(expected)
    assert finals(a), "the tiny DAG pretrained nothing"

    seed = int(os.environ.get("VIDEOLSTM_KILL_SEED", "0"))
    delay = random.Random(seed).uniform(0.2, 0.8) * wall
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(CMD, cwd=b, env=env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    assert proc.returncode == -signal.SIGKILL, "the run finished before the kill"
    deadline = time.time() + 10
    while survivors(b) and time.time() < deadline:
        time.sleep(0.1)
    assert not survivors(b), f"jobs outlived the kill: {survivors(b)}"
    assert not all((b / t).exists() for t in FINAL_TARGETS), "nothing left to do after the kill"
    killed_log = (tmp_path / "killed.log").read_text()
    done_before = len(re.findall(r"^Finished jobid", killed_log, flags=re.M))
    started = re.findall(r"^(?:local)?rule (\w+):", killed_log, flags=re.M)
    print(f"wall {wall:.1f}s, seed {seed}, killed after {delay:.1f}s with {done_before} jobs done; "
          f"last rule started: {started[-1] if started else None}")

    sh(["snakemake", "--unlock", "--cores", "1"], b)
    t0 = time.perf_counter()
    again = sh(CMD + ["--rerun-incomplete"], b)
    print(f"rerun {time.perf_counter() - t0:.1f}s")
    assert "Nothing to be done" not in again.stdout + again.stderr
    dry = sh(["snakemake", "-n", "--cores", "1"], b)
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]

    got = compared_files(b)
    assert sorted(got) == sorted(expected), set(got) ^ set(expected)
    differ = [str(rel) for rel, data in expected.items() if not same(rel, data, got[rel])]
    assert not differ, f"differ from the uninterrupted run: {differ}"
    for sub in ("tables", "figures", "metrics", "finetune"):
        assert any(rel.parts[1] == sub for rel in got), f"no results/{sub} compared"
    assert finals(b) == finals(a)
