"""DVC remote round trip of the WHOLE DAG (data, percepts, pretrain, finetune, paper) under a tiny
config (tests/dvc_tiny.yaml): `dvc repro` runs every stage, a second `dvc repro` has nothing to do,
`dvc push` to a local remote, then in a fresh `git clone`: `dvc pull` restores every output byte for
byte, and `make pulled` leaves `snakemake -n` nothing to do even after the worst restore order.

Restored files get new modification times in an arbitrary order and a fresh clone has no
Snakemake metadata (.snakemake/), so `make pulled` checks the workspace against dvc.lock and then
marks the outputs up to date (`snakemake --touch`, which never creates a missing output). The test
first shows that the modification-time check CAN fail: with upstream outputs restored last (newer
than everything downstream) a plain `snakemake -n` would rerun the downstream jobs.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from videolstm.config import deep_merge, read_yaml, validate_config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OVERLAY = ROOT / "tests" / "dvc_tiny.yaml"
SKIP = ("logs", "benchmarks", "configs")  # results/ folders no stage outputs (local run records; each
# job's settings file, rewritten from the config whenever the Snakefile is read)
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


def tiny_config() -> dict:
    """config/config.yaml with the test overlay; its `runs` and `finetune.streams` replace."""
    overlay = read_yaml(OVERLAY)
    cfg = deep_merge(read_yaml(ROOT / "config" / "config.yaml"), overlay)
    for domain, section in overlay.get("pretrain", {}).items():
        if isinstance(section, dict) and "runs" in section:
            cfg["pretrain"][domain]["runs"] = copy.deepcopy(section["runs"])
    if "streams" in overlay.get("finetune", {}):
        cfg["finetune"]["streams"] = copy.deepcopy(overlay["finetune"]["streams"])
    validate_config(cfg, source=str(OVERLAY.relative_to(ROOT)))
    return cfg


def copy_worktree(dst: Path) -> None:
    files = sh(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(("results/", "benchmarks/results/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def outputs(repo: Path) -> dict[Path, bytes]:
    """Every file the stages own (results/ minus logs and benchmarks), relative to the repo."""
    return {p.relative_to(repo): p.read_bytes() for p in sorted((repo / "results").rglob("*"))
            if p.is_file() and p.relative_to(repo / "results").parts[0] not in SKIP}


def stage_of(rel: Path, owner: dict[str, str]) -> str:
    for out, stage in owner.items():
        if rel.as_posix() == out or rel.as_posix().startswith(out.rstrip("/") + "/"):
            return stage
    raise AssertionError(f"{rel} is in no DVC stage's outputs")


def dry_run_jobs(text: str) -> dict[str, int]:
    """rule -> count from a `snakemake -n` job-stats table (empty when nothing to do)."""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\w+)\s+(\d+)$", text, flags=re.M) if m.group(1) != "total"}


def test_tiny_overlay_validates_and_keeps_every_phase_busy():
    cfg = tiny_config()
    assert cfg["config_name"] == "dvc_tiny"
    assert cfg["pretrain"]["percepts_rgb"]["data"]["arrays"] and cfg["finetune"]["datasets"]


def test_each_phase_builds_exactly_what_its_stage_owns():
    """What `snakemake phase_X` builds beyond the upstream phases must be stage X's DVC outputs;
    otherwise a later stage rewrites an earlier stage's outs and `dvc repro` is never up to date."""
    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    owner = {next(iter(o)) if isinstance(o, dict) else o: name for name, st in dvc_yaml.items()
             for o in st.get("outs", []) + st.get("metrics", [])}
    seen: set[str] = set()
    wrong = []
    for stage in dvc_yaml:
        text = sh(["snakemake", "-n", "--forceall", "--nolock", "--cores", "1", f"phase_{stage}"],
                  ROOT).stdout
        built = {p.strip() for m in re.finditer(r"^\s+output: (.+)$", text, flags=re.M)
                 for p in m.group(1).split(",")}
        built = {p for p in built if not p.startswith(tuple(f"results/{d}" for d in SKIP))}
        wrong += [f"{p} (owned by stage {stage_of(Path(p), owner)}) is first built by phase_{stage}"
                  for p in sorted(built - seen) if stage_of(Path(p), owner) != stage]
        seen |= built
    assert not wrong, "\n".join(wrong)


def test_whole_dag_push_then_pull_in_a_fresh_clone_leaves_nothing_to_do(tmp_path):
    origin, remote, clone = tmp_path / "origin", tmp_path / "remote", tmp_path / "clone"
    origin.mkdir()
    copy_worktree(origin)
    (origin / "config" / "config.yaml").write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    dvc_yaml = yaml.safe_load((origin / "dvc.yaml").read_text())["stages"]
    stages = list(dvc_yaml)
    assert stages == ["data", "percepts", "pretrain", "finetune", "paper"]
    owner = {next(iter(o)) if isinstance(o, dict) else o: name for name, st in dvc_yaml.items()
             for o in st.get("outs", []) + st.get("metrics", [])}
    times = {}

    sh("git init -q && git add -A && git commit -qm project", origin)
    sh(["dvc", "remote", "add", "-d", "local", str(remote)], origin)
    sh("git add .dvc/config && git commit -qm 'DVC remote'", origin)

    # (1) dvc repro runs every stage
    t0 = time.perf_counter()
    first = sh(["dvc", "repro"], origin)
    times["repro"] = time.perf_counter() - t0
    for stage in stages:
        assert f"Running stage '{stage}'" in first.stdout, (stage, first.stdout[-3000:])
    outs = outputs(origin)
    made = {stage_of(rel, owner) for rel in outs}
    assert made == set(stages), f"stages without outputs: {set(stages) - made}"
    for must in ("results/percepts/unlabelled/rgb.npy", "results/pretrain/percepts_rgb/composite/final.pt",
                 "results/finetune/ucf101/split1.csv", "results/tables/table1.csv",
                 "results/metrics/paper.json"):
        assert Path(must) in outs, must

    # (2) a second dvc repro has nothing to do, and dvc status agrees
    t0 = time.perf_counter()
    second = sh(["dvc", "repro"], origin)
    times["repro again"] = time.perf_counter() - t0
    assert "Running stage" not in second.stdout, second.stdout[-3000:]
    assert "Data and pipelines are up to date" in second.stdout, second.stdout[-3000:]
    assert "up to date" in sh(["dvc", "status"], origin).stdout
    assert outputs(origin) == outs, "a no-op dvc repro changed outputs"

    # (3) push to the local remote; git records dvc.lock and the uncached outputs (tables, figures)
    sh(["dvc", "push"], origin)
    sh("git add -A && git commit -qm results", origin)  # .gitignore: logs, benchmarks, cached outs

    # (4) fresh clone + dvc pull restores every output byte for byte
    sh(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    (clone / ".venv").symlink_to(BIN.parent)  # the project environment, not rebuilt
    t0 = time.perf_counter()
    sh(["dvc", "pull"], clone)
    times["pull"] = time.perf_counter() - t0
    restored = outputs(clone)
    assert sorted(restored) == sorted(outs), set(outs) ^ set(restored)
    for rel, data in outs.items():
        assert restored[rel] == data, rel

    # (5) the worst restore order: each stage's files older than every upstream stage's
    # (percept arrays newer than checkpoints, checkpoints newer than fine-tuning results, ...)
    now = time.time()
    for rel in restored:
        age = 1000 * stages.index(stage_of(rel, owner))
        os.utime(clone / rel, (now - age, now - age))
    before = sh(["snakemake", "-n", "--cores", "1"], clone)
    would = dry_run_jobs(before.stdout)
    assert "Nothing to be done" not in before.stdout + before.stderr
    for rule in ("pretrain", "finetune", "tables_actions", "paper_metrics"):
        assert would.get(rule), f"plain snakemake -n would not rerun {rule}: {would}"
    # stale by modification time; or, where results/configs (settings files, neither in git nor
    # in DVC) is missing, the settings job that writes them makes every reader's input updated
    reasons = before.stdout.lower()
    assert ("updated input files" in reasons
            or "input files updated by another job" in reasons), before.stdout[-3000:]

    t0 = time.perf_counter()
    res = sh(["make", "-o", ".venv/.installed", "pulled"], clone)
    times["make pulled"] = time.perf_counter() - t0
    assert "pulled outputs are up to date" in res.stdout
    dry = sh(["snakemake", "-n", "--cores", "1"], clone)
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    for stage in stages:  # each phase target too, as the DVC stages run them
        assert not dry_run_jobs(sh(["snakemake", "-n", "--cores", "1", f"phase_{stage}"],
                                   clone).stdout), stage
    assert "up to date" in sh(["dvc", "status"], clone).stdout  # touching changed no content
    assert outputs(clone) == outs

    # (6) a changed setting reruns exactly the affected jobs in the pulled clone too, although
    # Snakemake there has no record of the settings (each job's settings are a file input)
    cfg = yaml.safe_load((clone / "config" / "config.yaml").read_text())
    cfg["pretrain"]["patches"]["runs"]["composite"]["train"] = {"seed": 7}
    (clone / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    jobs = dry_run_jobs(sh(["snakemake", "-n", "--cores", "1"], clone).stdout)
    assert jobs.get("pretrain") == 1 and jobs.get("patches_eval") == 1, jobs
    assert not jobs.get("finetune") and not jobs.get("mnist_eval"), jobs
    print(", ".join(f"{k} {v:.1f}s" for k, v in times.items()))


def test_pulled_refuses_to_touch_a_workspace_that_differs_from_the_lock(tmp_path):
    """Never mark outputs up to date that dvc.lock does not vouch for."""
    res = sh(["make", "-n", "-o", ".venv/.installed", "pulled"], ROOT)
    assert "dvc status --quiet" in res.stdout and "--touch" in res.stdout
    lines = res.stdout.splitlines()
    assert [i for i, x in enumerate(lines) if "dvc status" in x][0] < \
           [i for i, x in enumerate(lines) if "--touch" in x][0]
