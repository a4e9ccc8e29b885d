"""Determinism of outputs and clean failures on bad storage: nothing half-written looks complete."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from videolstm import io as vio
from videolstm.train import train

TABLE_SCRIPT = r"""
import json, sys
import pandas as pd
from videolstm.tables import write_table
summary = json.load(open(sys.argv[1]))
ours = pd.DataFrame([{"row": "Composite Model", "column": "Cross Entropy on MNIST",
                      "value": summary["valid"]["total"]}])
write_table("table2", ours, sys.argv[2], {"config": summary["config_name"], "extractor": "none",
            "data_source": summary["data_source"]})
"""

FIGURE_SCRIPT = r"""
import sys, time
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from videolstm.movingmnist.figures import save_figure
time.sleep(1.1)  # a timestamp in the metadata would differ between the two runs
for ext in ("png", "pdf"):
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    ax.set_title("determinism")
    save_figure(fig, f"{sys.argv[1]}/fig.{ext}")
"""


def _py(script: str, *args: str, seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run([sys.executable, "-c", script, *args], check=True, env=env)


def test_same_config_twice_gives_byte_identical_outputs(tiny_config, tmp_path):
    for name in ("a", "b"):
        train(tiny_config, "mnist", "composite", tmp_path / name)
    for f in ("metrics.csv", "summary.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    for name, seed in (("a", "1"), ("b", "2")):  # fresh interpreters, different hash seeds
        _py(TABLE_SCRIPT, str(tmp_path / name / "summary.json"), str(tmp_path / name / "tables"),
            seed=seed)
        _py(FIGURE_SCRIPT, str(tmp_path / name), seed=seed)
    for f in ("tables/table2.csv", "tables/table2.md", "tables/table2.tex", "fig.png", "fig.pdf"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert b"CreationDate" not in (tmp_path / "a" / "fig.pdf").read_bytes()
    assert b"Software" not in (tmp_path / "a" / "fig.png").read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_full_disk_mid_write_keeps_previous_output(tmp_path, monkeypatch):
    target = tmp_path / "results" / "table.csv"
    vio.atomic_write_text(target, "old,complete\n")
    real_write = Path.write_bytes

    def half_then_enospc(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", half_then_enospc)
    with pytest.raises(OSError) as err:
        vio.atomic_write_text(target, "new," + "x" * 10_000 + "\n")
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_text() == "old,complete\n"
    assert _leftovers(target.parent) == []


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str):
    """A real small file system (needs root and mount); skips the test otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", f"vl{uuid.uuid4().hex[:6]}",
                          str(path)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _pretrain_cli(cfg: dict, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videolstm", "pretrain", "--cfg", json.dumps(cfg),
         "--domain", "mnist", "--run", "composite", "--out-dir", str(out), "--threads", "1"],
        capture_output=True, text=True, timeout=300)


def test_really_full_disk_and_read_only_folder_fail_cleanly(tiny_config, tmp_path):
    """A 64 KiB file system cannot hold a checkpoint; then the same folder read-only."""
    with tiny_tmpfs(tmp_path / "disk", "64k") as disk:
        out = disk / "run"
        out.mkdir()
        (out / "metrics.csv").write_text("step,split,total\n1,train,1.0\n")  # an earlier output
        res = _pretrain_cli(tiny_config, out)
        assert res.returncode == 2, res.stderr[-2000:]
        assert "No space left on device" in res.stderr
        assert "earlier outputs are intact" in res.stderr
        assert "Traceback" not in res.stderr
        assert (out / "metrics.csv").read_text() == "step,split,total\n1,train,1.0\n"
        assert not (out / "final.pt").exists() and not (out / "last.pt").exists()
        assert _leftovers(out) == []

        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        res = _pretrain_cli(tiny_config, out)
        assert res.returncode == 2 and "Read-only file system" in res.stderr, res.stderr[-2000:]
        assert "Traceback" not in res.stderr
        assert (out / "metrics.csv").read_text() == "step,split,total\n1,train,1.0\n"


def test_unwritable_results_folder_message(tiny_config, tmp_path, monkeypatch):
    """Permission denied (as for a non-root user on a folder they cannot write): one clear line."""
    from videolstm import cli

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), kwargs.get("dir"))

    monkeypatch.setattr(vio.tempfile, "mkstemp", denied)
    code = cli.main(["pretrain", "--cfg", json.dumps(tiny_config), "--domain", "mnist",
                     "--run", "composite", "--out-dir", str(tmp_path / "run"), "--threads", "1"])
    assert code == 2
    assert not list((tmp_path / "run").glob("*"))
