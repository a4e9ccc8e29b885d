"""The workflow's wiring: Snakemake dry run, and dvc.yaml agreeing with the Snakemake DAG."""

import json
import re
import subprocess
import sys

import yaml

from tests.conftest import ROOT
from videolstm import catalogue
from videolstm.config import load_config


def dry_run(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--nolock", *args],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def job_outputs(text):
    outs = []
    for m in re.finditer(r"^\s+output: (.+)$", text, flags=re.M):
        outs += [p.strip() for p in m.group(1).split(",")]
    return outs


def test_dry_run_of_the_whole_dag():
    text = dry_run("--forceall")
    assert "pretrain" in text and "mnist_sets" in text
    # the embedded configuration keeps the rules' fixed values (resources.from_plan: false)
    pretrain = [res for rule, _, res in declared_resources(text) if rule == "pretrain"]
    assert pretrain and all(res["mem_mb"] == "4000" and res["gpu_mem_mb"] == "0" for res in pretrain)


def job_blocks(text):
    """(rule, outputs) of every job a dry run lists."""
    for m in re.finditer(r"^rule (\w+):\n((?:    .*\n)+)", text, flags=re.M):
        out = re.search(r"^\s+output: (.+)$", m.group(2), flags=re.M)
        yield m.group(1), [p.strip() for p in out.group(1).split(",")] if out else []


def test_the_catalogue_lists_the_model_jobs_snakemake_plans():
    """videolstm.catalogue (read by plan, job sizes, check) and the DAG agree on the model jobs."""
    cfg = load_config(ROOT / "config" / "config.yaml")
    want = {(j.rule, o) for j in catalogue.model_jobs(cfg, "results") for o in j.outputs.values()}
    got = {(rule, o) for rule, outs in job_blocks(dry_run("--forceall"))
           if rule in catalogue.MODEL_RULES for o in outs}
    assert want and got == want, (sorted(got - want)[:5], sorted(want - got)[:5])


def test_dvc_stages_agree_with_snakemake_phases():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    phase_dirs = catalogue.PHASE_DIRS
    owner = {}
    for name, stage in stages.items():
        assert stage["cmd"].endswith(f"phase_{name}"), f"stage {name} must run rule phase_{name}"
        assert name in phase_dirs, f"dvc stage {name} is not a Snakemake phase"
        for out in stage.get("outs", []) + stage.get("metrics", []):
            path = next(iter(out)) if isinstance(out, dict) else out
            assert path not in owner, f"{path} belongs to two stages"
            owner[path] = name
    for phase, dirs in phase_dirs.items():
        for d in dirs:
            if phase in stages:
                mine = [p for p, s in owner.items() if s == phase]
                assert any(p == f"results/{d}" or p.startswith(f"results/{d}/") for p in mine), \
                    f"results/{d} of phase {phase} is not an output of dvc stage {phase}"
    # every file the DAG writes (logs, benchmarks and each job's settings file aside: no stage
    # outputs them, as tests/test_dvc_remote.py's SKIP) lies in exactly one stage's outputs
    skip = ("results/logs", "results/benchmarks", "results/configs")
    outputs = [o for o in job_outputs(dry_run("--forceall")) if not o.startswith(skip)]
    assert outputs
    for out in outputs:
        holders = [p for p in owner if out == p or out.startswith(p.rstrip("/") + "/")]
        assert len(holders) == 1, f"{out} is in DVC outputs {holders} (expected exactly one)"
        stage = owner[holders[0]]
        assert any(out.startswith(f"results/{d}/") for d in phase_dirs[stage]), f"{out} is in the wrong stage {stage}"


def rule_blocks(text):
    """A dry run's text cut into one block per planned job (each starting 'rule X:' or
    'localrule X:')."""
    return re.split(r"\n(?=(?:local)?rule \w+:)", text)


def declared_resources(text):
    """(rule, wildcards, resources) of every job of a dry run that makes an output."""
    jobs = []
    for block in rule_blocks(text):
        m = re.match(r"rule (\w+):", block)
        if not m or not re.search(r"^\s+output: ", block, flags=re.M):
            continue  # target rules (all, phase_*) make nothing and run where Snakemake runs
        w = re.search(r"^\s+wildcards: (.+)$", block, flags=re.M)
        r = re.search(r"^\s+resources: (.+)$", block, flags=re.M)
        wildcards = dict(kv.split("=", 1) for kv in w.group(1).split(", ")) if w else {}
        res = dict(kv.split("=", 1) for kv in r.group(1).split(", ")) if r else {}
        jobs.append((m.group(1), wildcards, res))
    return jobs


def test_paper_config_dry_run_plans_but_a_real_run_stops_before_any_job(tmp_path):
    """A dry run plans a configuration whose data are not there yet, every model job declaring
    the memory and time its shapes need (videolstm.job_resources); a real run stops at once,
    naming every missing input, before any job (no output written)."""
    from videolstm import job_resources
    from videolstm.config import load_config

    text = dry_run("--configfile", "config/paper.yaml", "--config", f"results_dir={tmp_path}/r")
    assert "video_temporal_cnn" in text and "flow_split3" in text
    cfg = load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "paper.yaml")
    cfg["results_dir"] = f"{tmp_path}/r"
    model_jobs = [(rule, w, res) for rule, w, res in declared_resources(text)
                  if rule in job_resources.MODEL_RULES]
    assert {rule for rule, _, _ in model_jobs} == set(job_resources.MODEL_RULES)
    every = declared_resources(text)
    assert every and all("mem_mb" in res and "runtime" in res for _, _, res in every), [
        rule for rule, _, res in every if "mem_mb" not in res or "runtime" not in res]
    for rule, w, res in model_jobs:
        want = job_resources.for_rule(cfg, rule, w)
        got = {k: int(res[k]) for k in ("mem_mb", "gpu_mem_mb", "runtime")}
        assert got == want and got["gpu_mem_mb"] > 0, (rule, w, got, want)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--nolock", "--configfile",
         "config/paper.yaml", "--config", f"results_dir={tmp_path}/r"],
        cwd=ROOT, capture_output=True, text=True,
    )
    err = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "datasets.ucf101.root resources/UCF-101 does not exist" in err
    assert "mnist.digits.idx_dir" in err and "VGG16 weights" in err
    assert "Traceback" not in err
    made = [p for p in (tmp_path / "r").rglob("*") if p.is_file()]
    assert made and all(p.relative_to(tmp_path / "r").parts[0] == "configs" for p in made), made


def test_check_names_an_array_no_step_makes(tmp_path, capsys):
    from videolstm.cli import main

    overlay = tmp_path / "typo.yaml"
    overlay.write_text("pretrain:\n  patches:\n    data: {arrays: [data/patchs/train]}\n")
    assert main(["check", "--configfile", str(overlay)]) == 2
    assert "pretrain.patches.data.arrays names 'data/patchs/train'" in capsys.readouterr().err
    assert main(["check"]) == 0


def test_snakemake_of_the_venv_runs_jobs_without_activating_it(tmp_path):
    """`.venv/bin/snakemake` with a PATH that lacks the environment still finds `videolstm`."""
    import os

    out = tmp_path / "r" / "data" / "index" / "hmdb51.csv"
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--nolock", "--config",
         f"results_dir={tmp_path}/r", "--", str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert out.is_file()


def test_a_lock_left_by_a_killed_run_is_removed_but_a_live_runs_is_kept(tmp_path):
    """After `kill -9`, `make reproduce` removes Snakemake's stale lock itself; while a Snakemake
    process runs in the folder, the lock stays."""
    import time

    from videolstm.environment import remove_stale_lock

    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    live = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 30"], cwd=tmp_path)
    try:
        time.sleep(0.3)
        assert not remove_stale_lock(tmp_path) and (locks / "0.input.lock").exists()
    finally:
        live.kill()
        live.wait()
    assert remove_stale_lock(tmp_path) and not list(locks.iterdir())
    assert not remove_stale_lock(tmp_path)  # nothing left to remove


def test_cpu_action_config_plans_the_action_half_on_three_splits_and_nothing_else(tmp_path):
    """config/cpu_action.yaml: every action split (fine-tuning, controls, its own temporal CNN) on
    splits 1-3 of both datasets, no Moving MNIST or lab-report job, written under its own
    results folder; a dry run writes nothing."""
    results = tmp_path / "r"
    text = dry_run("--configfile", "config/cpu_action.yaml", "--config", f"results_dir={results}")
    outs = job_outputs(text)
    for dataset in ("ucf101", "hmdb51"):
        for split in (1, 2, 3):
            assert f"{results}/finetune/{dataset}/split{split}.csv" in outs
    assert {f"{results}/finetune/controls/ucf101/split{s}.csv" for s in (1, 2, 3)} <= set(outs)
    assert {f"{results}/data/temporal_cnn/flow_split{s}.pt" for s in (1, 2, 3)} <= set(outs)
    assert f"{results}/tables/claims.csv" in outs and f"{results}/figures/figure12.png" in outs
    assert not [o for o in outs if "/mnist" in o or "labreport" in o or "table2" in o]
    assert not results.exists()


def test_no_two_thread_job_waits_for_a_one_thread_job():
    """On 2 cores, a two-thread job that waits for a one-thread one can be held back for a whole
    Moving MNIST run: the scheduler fills the other core beside that job with a long one-thread
    run, and no two-thread job fits until it ends (rules/video.smk says why)."""
    text = dry_run("--forceall", "--cores", "2")
    threads = {}
    for block in rule_blocks(text):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if m:
            t = re.search(r"^\s+threads: (\d+)$", block, flags=re.M)
            threads[m.group(1)] = int(t.group(1)) if t else 1
    assert threads.get("video_percepts_rgb") == 2, "no two-thread job planned: nothing tested"
    dag = subprocess.run(
        [sys.executable, "-m", "snakemake", "--d3dag", "--forceall", "--cores", "2", "--nolock"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    graph = json.loads(dag.stdout)
    rule = {n["id"]: n["value"]["rule"] for n in graph["nodes"]}
    parents = {}
    for e in graph["edges"]:
        parents.setdefault(e["v"], []).append(e["u"])
    for job, name in rule.items():
        if threads.get(name, 1) != 2:
            continue
        todo, seen = list(parents.get(job, [])), set()
        while todo:
            up = todo.pop()
            if up in seen:
                continue
            seen.add(up)
            todo += parents.get(up, [])
            # settings only writes the resolved configuration: it ends within a second
            assert rule[up] == "settings" or threads.get(rule[up], 1) == 2, (
                f"two-thread {name} waits for one-thread {rule[up]}")
