"""No silent wrong results (issue 22, items 2-7): each bad input stops with one line naming the
file or key and what to do, exit status non-zero, no traceback, and no output that holds NaN or
nothing. docs/faults.md lists these cases beside the test of each."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import ROOT
from tests.test_faults import tiny_tmpfs
from videolstm.cli import main
from videolstm.config import validate_config
from videolstm.errors import UserError
from videolstm.video import index as vindex


def one_line(text: str) -> str:
    """The message of a refusal: exactly one line, starting with 'error:', no traceback."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert "Traceback" not in text and not any(ln.lstrip().startswith('File "') for ln in lines), text
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, text
    return errors[0]


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """`videolstm ARGS` in this process: (exit status, its one error line)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    return code, (one_line(err) if code else err)


def videolstm(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "videolstm", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, **kwargs)


def snakemake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "--cores", "1", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def overlay(path: Path, settings: dict) -> Path:
    path.write_text(yaml.safe_dump(settings))
    return path


def save_checkpoint(path: Path, variant: str = "composite", hidden: int = 8,
                    recorded_hidden: int | None = None) -> Path:
    """A tiny Moving MNIST checkpoint; `recorded_hidden` other than `hidden`: its weights do not
    fit the model_config it records."""
    from videolstm.checkpoint import save
    from videolstm.models import ModelConfig, build_model

    cfg = ModelConfig(input_dim=64 * 64, hidden=hidden, layers=1, n_in=10, n_recon=10,
                      n_future=10)
    model = build_model(variant, cfg)
    recorded = {**cfg.to_dict(), "hidden": recorded_hidden or hidden}
    save(path, {"variant": variant, "domain": "mnist", "run": variant, "model_config": recorded,
                "state_dict": model.state_dict(), "step": 1})
    return path


# --- item 2: settings that contradict one another ------------------------------------------

INCONSISTENT = {
    "seq_len": ({"mnist": {"generator": {"seq_len": 12}}},
                "'mnist.generator.seq_len' is 12, but pretrain.mnist.runs.composite (n_in 10 + "
                "n_future 10) reads 20 frames per sequence: set mnist.generator.seq_len to at "
                "least 20"),
    "patches_seq_len": ({"patches": {"seq_len": 20}}, "'patches.seq_len' is 20, but "
                        "pretrain.patches.runs.composite (n_in 16 + n_future 13) reads 29 frames"),
    "nan_lr": ({"pretrain": {"defaults": {"lr": float("nan")}}},
               "'pretrain.defaults.lr' is nan: not a finite number; set a finite value"),
    "inf_lr": ({"pretrain": {"mnist": {"train": {"lr": float("inf")}}}},
               "'pretrain.mnist.train.lr' is inf: not a finite number"),
    "finetune_nan_lr": ({"finetune": {"lstm": {"lr": float("nan")}}},
                        "'finetune.lstm.lr' is nan: not a finite number"),
    "run_inf_lr": ({"pretrain": {"percepts_rgb": {"runs": {"future": {
        "variant": "future", "train": {"lr": float("inf")}}}}}},
        "'pretrain.percepts_rgb.runs.future.train.lr' is inf"),
    "speed_range": ({"mnist": {"generator": {"speed_range": [0.15, 0.05]}}},
                    "'mnist.generator.speed_range' is [0.15, 0.05]: it is [slowest, fastest]; "
                    "write [0.05, 0.15]"),
    "video_speed": ({"video": {"unlabelled": {"speed": [1.2, 0.6]}}},
                    "'video.unlabelled.speed' is [1.2, 0.6]: it is [slowest, fastest]; "
                    "write [0.6, 1.2]"),
}


@pytest.mark.parametrize("case", sorted(INCONSISTENT))
def test_inconsistent_settings_fail_videolstm_check_with_one_line(case, tmp_path, capsys):
    settings, message = INCONSISTENT[case]
    path = overlay(tmp_path / "overlay.yaml", settings)
    code, line = run_cli(capsys, "check", "--configfile", str(path))
    assert code == 2 and line.startswith("error: invalid configuration in ") and str(path) in line
    assert message in line, line


def test_the_workflow_refuses_them_before_planning_with_one_line(tmp_path):
    path = overlay(tmp_path / "overlay.yaml", {"results_dir": str(tmp_path / "r"),
                                               **INCONSISTENT["speed_range"][0]})
    proc = snakemake("-n", "--configfile", str(path))
    assert proc.returncode != 0
    line = one_line(proc.stdout + proc.stderr)
    assert INCONSISTENT["speed_range"][1] in line and "Job stats" not in proc.stdout
    assert not (tmp_path / "r").exists()


def test_a_commands_cfg_gets_the_same_checks(tiny_config, tmp_path, capsys):
    """A job's --cfg (or a person's) with a NaN learning rate or sequences too short: refused
    before training; before, the run wrote NaN losses or stopped with a traceback."""
    cfg = json.loads(json.dumps(tiny_config))
    cfg["pretrain"]["defaults"]["lr"] = float("nan")
    out = tmp_path / "run"
    code, line = run_cli(capsys, "pretrain", "--cfg", json.dumps(cfg), "--domain", "mnist",
                         "--run", "composite", "--out-dir", str(out))
    assert code == 2 and "'pretrain.defaults.lr' is nan" in line
    cfg["pretrain"]["defaults"]["lr"] = 0.001
    cfg["mnist"]["generator"]["seq_len"] = 10
    code, line = run_cli(capsys, "pretrain", "--cfg", json.dumps(cfg), "--domain", "mnist",
                         "--run", "composite", "--out-dir", str(out))
    assert code == 2 and "'mnist.generator.seq_len' is 10" in line
    assert not out.exists()


def test_mnist_baselines_on_sequences_too_short_write_nothing(tiny_config, tmp_path, capsys):
    """seq_len 10 with n_in 10 + n_future 10: the baselines had no future frame and wrote an
    all-NaN JSON with exit 0."""
    cfg = json.loads(json.dumps(tiny_config))
    cfg["mnist"]["generator"]["seq_len"] = 10
    test = tmp_path / "test.npy"
    np.save(test, np.zeros((10, 4, 64, 64), np.uint8))
    out = tmp_path / "baselines.json"
    code, line = run_cli(capsys, "mnist-baselines", "--cfg", json.dumps(cfg), "--test", str(test),
                         "--out", str(out))
    assert code == 2 and "'mnist.generator.seq_len' is 10" in line
    assert not out.exists()


def test_a_test_set_of_no_sequences_is_refused(tiny_config, tmp_path, capsys):
    """0 sequences: the evaluation wrote metrics {} and the baselines NaN, with exit 0."""
    empty = tmp_path / "test.npy"
    np.save(empty, np.zeros((20, 0, 64, 64), np.uint8))
    ckpt = save_checkpoint(tmp_path / "final.pt")
    cfg = json.dumps({k: tiny_config[k] for k in ("mnist", "seed", "config_name", "data_source")})
    for args in (["mnist-eval", "--checkpoint", str(ckpt)], ["mnist-baselines", "--cfg", cfg]):
        out = tmp_path / f"{args[0]}.json"
        code, line = run_cli(capsys, *args, "--test", str(empty), "--out", str(out))
        assert code == 2 and f"test set {empty}: holds no sequences (shape (20, 0, 64, 64))" in line
        assert not out.exists()


@pytest.mark.parametrize("args", [
    ["pretrain", "--threads", "0"], ["pretrain", "--threads", "-3"],
    ["pretrain", "--max-steps", "-1"], ["pretrain", "--max-steps", "0"],
    ["mnist-eval", "--threads", "-3"], ["mnist-eval", "--batch-size", "0"],
    ["sequence-eval", "--threads", "0"], ["mnist-figure-checks", "--threads", "0"],
    ["finetune", "--threads", "-3"], ["synth", "--threads", "0"], ["pretrain", "--threads", "two"],
])
def test_counts_on_the_command_line_must_be_positive(args, tiny_config, tmp_path, capsys):
    """--threads 0 / -3 crashed in torch with a traceback; --max-steps -1 exited 0 without a
    final.pt. Now argparse refuses them, one line naming the option."""
    required = {
        "pretrain": ["--cfg", json.dumps(tiny_config), "--domain", "mnist", "--run", "composite",
                     "--out-dir", str(tmp_path / "run")],
        "mnist-eval": ["--checkpoint", "c.pt", "--test", "t.npy", "--out", "o.json"],
        "sequence-eval": ["--checkpoint", "c.pt", "--arrays", "a", "--out", "o.json"],
        "mnist-figure-checks": ["--cfg", "{}", "--checkpoint", "c.pt", "--test", "t.npy",
                                "--test-1digit", "t.npy", "--test-3digits", "t.npy", "--out", "o"],
        "finetune": ["--cfg", "{}", "--dataset", "ucf101", "--split", "1", "--index", "i.csv",
                     "--percepts", "p", "--pretrain", "q", "--out", "o.csv"],
        "synth": ["--dataset", "ucf101", "--out", str(tmp_path / "videos")],
    }[args[0]]
    code, line = run_cli(capsys, *args, *required)
    assert code == 2 and f"argument {args[1]}: " in line and "give a positive integer" in line
    assert f"(see videolstm {args[0]} --help)" in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "videos").exists()


# --- item 3: split entries with '..' inside the root -----------------------------------------


def ucf_lists(root: Path, train: dict[int, str]) -> Path:
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 MoveLeft\n2 MoveRight\n")
    for s in (1, 2, 3):
        (lists / f"trainlist0{s}.txt").write_text(train.get(s, train[1]))
        (lists / f"testlist0{s}.txt").write_text("MoveRight/v_MoveRight_g02_c01.avi\n")
    return lists


def test_an_entry_climbing_into_another_class_folder_is_refused(tmp_path, capsys):
    """`MoveRight/../MoveLeft/v_X.avi 2` indexed the MoveLeft video a second time, labelled
    MoveRight."""
    root = tmp_path / "UCF-101"
    lists = ucf_lists(root, {1: "MoveLeft/v_MoveLeft_g01_c01.avi 1\n\n"
                                "MoveRight/../MoveLeft/v_MoveLeft_g01_c01.avi 2\n"})
    with pytest.raises(UserError) as err:
        vindex.parse_ucf101(root)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{lists / 'trainlist01.txt'}, line 3: entry "
                              "'MoveRight/../MoveLeft/v_MoveLeft_g01_c01.avi' climbs out of its "
                              "class folder 'MoveRight'")
    # through the command a user runs: one line, nothing written
    out = tmp_path / "ucf101.csv"
    code, line = run_cli(capsys, "index", "--dataset", "ucf101", "--root", str(root),
                         "--out", str(out))
    assert code == 2 and "climbs out of its class folder" in line and not out.exists()


def test_one_video_in_two_forms_is_refused_and_dots_inside_a_class_are_normalised(tmp_path):
    root = tmp_path / "UCF-101"
    lists = ucf_lists(root, {1: "MoveLeft/v_MoveLeft_g01_c01.avi 1\n",
                             2: "MoveLeft/./v_MoveLeft_g01_c01.avi 1\n"})
    with pytest.raises(UserError) as err:
        vindex.parse_ucf101(root)
    message = str(err.value)
    assert message.startswith(f"{lists / 'trainlist02.txt'}, line 1: "
                              "'MoveLeft/./v_MoveLeft_g01_c01.avi' is the video "
                              f"{lists / 'trainlist01.txt'}, line 1 lists as "
                              "'MoveLeft/v_MoveLeft_g01_c01.avi'; refused (one video listed in "
                              "two forms)"), message

    other = tmp_path / "other"
    ucf_lists(other, {1: "MoveLeft/extra/../v_MoveLeft_g01_c01.avi 1\n"})
    frame = vindex.parse_ucf101(other)
    assert sorted(frame["path"]) == ["MoveLeft/v_MoveLeft_g01_c01.avi",
                                     "MoveRight/v_MoveRight_g02_c01.avi"]


def test_hmdb51_entries_leaving_their_class_or_listed_twice_are_refused(tmp_path):
    root = tmp_path / "hmdb51"
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for s in (1, 2, 3):
        (splits / f"brush_hair_test_split{s}.txt").write_text("a_brush_hair_f_cm_np1_ri_med_0.avi 1\n")
        (splits / f"cartwheel_test_split{s}.txt").write_text(
            "b_cartwheel_f_cm_np1_ri_med_0.avi 2\n../brush_hair/a_brush_hair_f_cm_np1_ri_med_0.avi 1\n")
    with pytest.raises(UserError, match=r"cartwheel_test_split1.txt, line 2: entry "
                                        r"'cartwheel/../brush_hair/.*climbs out of its class folder"):
        vindex.parse_hmdb51(root)
    for s in (1, 2, 3):
        (splits / f"cartwheel_test_split{s}.txt").write_text(
            "b_cartwheel_f_cm_np1_ri_med_0.avi 2\nb_cartwheel_f_cm_np1_ri_med_0.avi 1\n")
    with pytest.raises(UserError, match=r"cartwheel_test_split1.txt, line 2: "
                                        r"b_cartwheel_f_cm_np1_ri_med_0.avi is listed again with id "
                                        r"1; line 1 gives it id 2"):
        vindex.parse_hmdb51(root)


# --- item 4: the settings files of the workflow ------------------------------------------------

TINY_PRETRAIN = {"hidden": 8, "layers": 1, "batch_size": 4, "steps": 2, "checkpoint_every": 2,
                 "log_every": 1, "eval_every": 2, "optimizer": "adam", "lr": 0.003}


def test_settings_files_two_targets_dry_runs_and_a_changed_setting(tmp_path):
    """Two explicit targets in a fresh results folder failed with MissingInputException on a
    settings file (written while planning, missed by Snakemake's cache of the folder); a dry
    run wrote ~25 settings files. Now every settings file is written before any job is planned,
    a dry run writes nothing (it plans rule `settings` instead), and a changed setting reruns
    only the job that reads it (and the dry run says so first)."""
    results = tmp_path / "r"
    settings = {"results_dir": str(results), "mnist": {"eval": {"valid_size": 4, "test_size": 4,
                                                               "ood_size": 2}},
                "pretrain": {"mnist": {"train": TINY_PRETRAIN}}}
    path = overlay(tmp_path / "overlay.yaml", settings)
    targets = [str(results / "pretrain" / "mnist" / run / "final.pt")
               for run in ("future", "composite")]

    proc = snakemake("-n", "--configfile", str(path), "--", *targets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "settings        2" in proc.stdout and "pretrain        2" in proc.stdout, proc.stdout
    proc = snakemake("-n", "--configfile", str(path))  # the whole DAG, also nothing written
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "settings" in proc.stdout and not results.exists()

    proc = snakemake("--configfile", str(path), "--", *targets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert all(Path(t).is_file() for t in targets)
    configs = results / "configs"
    assert (configs / "pretrain" / "mnist" / "cond_future.json").is_file()  # every run's file
    assert (configs / "mnist.json").is_file()
    before = {t: os.stat(t).st_mtime_ns for t in targets}
    future_cfg = configs / "pretrain" / "mnist" / "future.json"
    old_text = future_cfg.read_text()

    settings["pretrain"]["mnist"]["runs"] = {"future": {"variant": "future",
                                                        "train": {"lr": 0.001}}}
    overlay(path, settings)
    proc = snakemake("-n", "--configfile", str(path), "--", *targets)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"settings changed: {future_cfg}" in out
    assert "settings        1" in proc.stdout and "pretrain        1" in proc.stdout, proc.stdout
    assert "wildcards: domain=mnist, run=future" in proc.stdout
    assert "run=composite" not in proc.stdout
    assert future_cfg.read_text() == old_text  # the dry run wrote nothing

    proc = snakemake("--configfile", str(path), "--", *targets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '"lr": 0.001' in future_cfg.read_text()
    assert os.stat(targets[0]).st_mtime_ns > before[targets[0]]  # future: retrained
    assert os.stat(targets[1]).st_mtime_ns == before[targets[1]]  # composite: untouched
    proc = snakemake("-n", "--configfile", str(path), "--", *targets)
    assert "Nothing to be done" in proc.stdout + proc.stderr

    # a settings file gone (a results folder restored without them): a run writes it anew and
    # redoes its reader, and the dry run says so (before, it said "Nothing to be done")
    composite_cfg = configs / "pretrain" / "mnist" / "composite.json"
    composite_cfg.unlink()
    proc = snakemake("-n", "--configfile", str(path), "--", *targets)
    assert "settings        1" in proc.stdout and "pretrain        1" in proc.stdout, proc.stdout
    assert "wildcards: domain=mnist, run=composite" in proc.stdout
    assert not composite_cfg.exists()


def test_the_settings_rules_pass_snakemake_lint_which_writes_nothing(tmp_path):
    path = overlay(tmp_path / "overlay.yaml", {"results_dir": str(tmp_path / "r")})
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert not (tmp_path / "r").exists()  # reading the workflow writes no settings file
    for name in ("Snakefile", "common.smk", "settings.smk"):
        assert f"Lints for snakefile {ROOT / 'workflow' / 'rules' / name}" not in out, out
    assert f"Lints for snakefile {ROOT / 'Snakefile'}" not in out, out
    assert "Lints for rule settings " not in out, out


# --- item 5: tracebacks where one line is promised --------------------------------------------


def test_a_read_only_results_folder_stops_snakemake_with_one_line(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", "1m") as disk:
        (disk / "logs").mkdir()  # an earlier results folder
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        path = overlay(tmp_path / "overlay.yaml", {"results_dir": str(disk)})
        for dry in (["-n"], []):
            proc = snakemake(*dry, "--configfile", str(path))
            assert proc.returncode != 0
            line = one_line(proc.stdout + proc.stderr)
            assert f"config key 'results_dir' is {str(disk)!r} and {disk} is on a read-only " \
                   "file system; make it writable" in line, line
        path = overlay(tmp_path / "overlay.yaml", {"results_dir": str(disk / "new")})
        proc = snakemake("-n", "--configfile", str(path))
        assert proc.returncode != 0
        assert f"{disk} (where it would be made) is on a read-only" in one_line(proc.stderr)


def test_a_full_disk_when_the_workflow_writes_its_settings_is_one_line(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", "4k") as disk:
        with open(disk / "filler", "wb") as fh, pytest.raises(OSError):
            fh.write(b"x" * 65536)
            fh.flush()
        path = overlay(tmp_path / "overlay.yaml", {"results_dir": str(disk / "r")})
        proc = snakemake("--configfile", str(path), "--",
                         str(disk / "r" / "pretrain" / "mnist" / "future" / "final.pt"))
        assert proc.returncode != 0
        line = one_line(proc.stdout + proc.stderr)
        assert line.startswith(f"error: cannot write the settings file {disk / 'r' / 'configs'}")
        assert "(No space left on device); free disk space" in line


def test_a_file_size_limit_is_one_line(tiny_config, tmp_path):
    """`ulimit -f` small: the write fails with EFBIG (File too large), which was a traceback."""
    limit = 64 * 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cfg = json.dumps({k: tiny_config[k] for k in ("mnist", "seed", "config_name", "data_source")})
    proc = videolstm("mnist-data", "--cfg", cfg, "--out-dir", str(tmp_path / "sets"),
                     preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = one_line(proc.stderr)
    assert line.startswith("error: File too large (") and "valid.npy" in line
    assert "Raise the file size limit (ulimit -f)" in line
    assert not (tmp_path / "sets" / "valid.npy").exists()


def test_a_checkpoint_whose_tensors_do_not_fit_its_model_is_one_line(tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "final.pt", hidden=8, recorded_hidden=16)
    test = tmp_path / "test.npy"
    np.save(test, np.zeros((20, 2, 64, 64), np.uint8))
    code, line = run_cli(capsys, "mnist-eval", "--checkpoint", str(ckpt), "--test", str(test),
                         "--out", str(tmp_path / "eval.json"))
    assert code == 2 and line.startswith(f"error: checkpoint {ckpt}: its weights do not fit the "
                                         "model it records (composite, input_dim 4096, hidden 16")
    assert "size mismatch" in line and "delete it and rerun its pretraining step" in line
    assert not (tmp_path / "eval.json").exists()


def test_a_32x32_set_given_to_mnist_baselines_is_one_line(tiny_config, tmp_path, capsys):
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((20, 3, 32, 32), np.uint8))
    cfg = json.dumps({k: tiny_config[k] for k in ("mnist", "seed", "config_name", "data_source")})
    out = tmp_path / "baselines.json"
    code, line = run_cli(capsys, "mnist-baselines", "--cfg", cfg, "--test", str(small),
                         "--out", str(out))
    assert code == 2 and f"test set {small} holds 20 frames of 32x32 per sequence" in line
    assert "of 64x64" in line and not out.exists()


# --- item 6: an evaluation in the wrong Table 2 row ---------------------------------------------


def test_table2_refuses_an_evaluation_of_another_variant(tmp_path, capsys):
    cfg = json.dumps({"config_name": "unit", "data_source": "embedded"})
    ckpt = save_checkpoint(tmp_path / "future.pt", variant="future")
    test = tmp_path / "test.npy"
    np.save(test, np.random.default_rng(0).integers(0, 256, (20, 2, 64, 64), dtype=np.uint8))
    future = tmp_path / "future.json"
    assert main(["mnist-eval", "--checkpoint", str(ckpt), "--test", str(test), "--out",
                 str(future)]) == 0
    assert json.loads(future.read_text())["variant"] == "future"  # the evaluation records it
    for flags in (["table2"], ["table2", "--only", "protocol"]):
        code, line = run_cli(capsys, *flags, "--cfg", cfg, "--mnist-eval", f"composite={future}",
                             "--out-dir", str(tmp_path / "tables"))
        assert code == 2, flags
        assert line == (f"error: --mnist-eval composite={future}: that evaluation is of a "
                        "'future' model, but the row 'Composite Model' takes a 'composite' "
                        "model's evaluation; pass composite=<the composite run's evaluation JSON>")
    assert not (tmp_path / "tables").exists()
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"metrics": {"future_loss": 1.0}, "n_sequences": 2}))
    code, line = run_cli(capsys, "table2", "--only", "table2", "--cfg", cfg, "--patches-eval",
                         f"future={old}", "--out-dir", str(tmp_path / "tables"))
    assert code == 2 and f"--patches-eval future={old}: that evaluation records no variant" in line


# --- item 7: device cuda without a GPU ----------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_fails_videolstm_check(tmp_path, capsys, base_config):
    path = overlay(tmp_path / "overlay.yaml", {"device": "cuda"})
    code, line = run_cli(capsys, "check", "--configfile", str(path))
    assert code == 2
    assert line == ("error: the configuration cannot run as it is (nothing was run): config key "
                    "'device' is 'cuda', but no CUDA GPU is visible here (torch.cuda.is_available()"
                    " is False), so every model job would stop: set device: auto (the GPU when "
                    "there is one, else the CPU) or cpu, or run on a machine with a GPU")
    base_config["device"] = "cuda"
    validate_config(base_config)  # valid settings; the check is where the jobs will run
    assert run_cli(capsys, "check")[0] == 0
