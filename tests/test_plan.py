"""videolstm plan: FLOPs counted on the meta device agree with a hand count; disk follows the
stored formats; what cannot be known before the index exists is said, not guessed."""

from pathlib import Path

import pandas as pd
import pytest

from videolstm.cli import main
from videolstm.config import load_config
from videolstm.models import ModelConfig
from videolstm.plan import make_plan, pretrain_step
from videolstm.video.index import INDEX_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def test_training_step_flops_match_a_hand_count():
    d, h, b, t_in, t_f = 12, 5, 3, 4, 2
    cfg = ModelConfig(input_dim=d, hidden=h, layers=1, n_in=t_in, n_recon=t_in, n_future=t_f)
    flops, params = pretrain_step("future", cfg, b)
    enc_in = t_in * b * 2 * d * 4 * h  # input projection: forward + weight gradient (x has none)
    enc_rec = t_in * b * 2 * h * 4 * h  # recurrence: forward + input and weight gradients
    dec_rec = t_f * b * 2 * h * 4 * h
    readout = t_f * b * 2 * h * d
    assert flops == 2 * enc_in + 3 * (enc_rec + dec_rec + readout)
    assert params == (4 * h * d + 4 * h * h + 4 * h + 3 * h) + (4 * h * h + 4 * h + 3 * h) + (d * h + d)


def test_paper_plan_uses_the_index_and_says_what_it_cannot_know(tmp_path):
    cfg = load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "paper.yaml")
    cfg.pop("results_dir", None)
    plan = make_plan(cfg, tmp_path)
    items = {i.what: i for i in plan.items}
    assert items["optical flow fields: ucf101"].disk_bytes is None
    assert "unknown until its index is built" in items["rgb percepts: ucf101"].note
    (tmp_path / "data" / "index").mkdir(parents=True)
    given = {"status": ["ok", "ok", "missing"], "n_frames": [100, 50, 999], "label": [0, 1, 1]}
    index = pd.DataFrame({c: given.get(c, [""] * 3) for c in INDEX_COLUMNS})  # a real index's columns
    index.to_csv(tmp_path / "data" / "index" / "ucf101.csv", index=False)
    items = {i.what: i for i in make_plan(cfg, tmp_path).items}
    size = cfg["flow"]["size"]
    assert items["optical flow fields: ucf101"].disk_bytes == 150 * 2 * size * size  # uint8 u, v
    assert items["rgb percepts: ucf101"].disk_bytes == 150 * 4096 * 2  # float16 fc6
    assert items["rgb percepts: ucf101"].flops > 150 * 30e9  # VGG16 to fc6: ~31 GFLOP a frame
    mnist = items["mnist/composite"]
    assert mnist.flops > 0 and "2 x 2048" in mnist.note
    # the classifiers train once per candidate learning rate; the controls' runs are counted
    rgb, ctl = items["ucf101 rgb LSTM classifiers"], items["ucf101 rgb controls' LSTM classifiers"]
    assert "x 3 learning rates" in rgb.note and "90 runs" in ctl.note  # 30 runs x 3 splits
    assert ctl.flops == pytest.approx(rgb.flops / int(rgb.note.split()[0]) * 90)


def test_plan_command_prints_every_stage(capsys):
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    for stage in ("data", "percepts", "pretrain", "finetune"):
        assert f"\n{stage} " in out
    assert "No wall time is estimated" in out
