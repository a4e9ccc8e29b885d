"""Tables: the paper's values come from the CSV, differences are computed, missing cells say so."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from videolstm.errors import UserError
from videolstm.tables import paper_numbers, write_table

PROV = {"config_name": "unit", "data_source": "embedded", "extractor": "fake-fc6",
        "skipped_videos": 0}


def _ours():
    return pd.DataFrame(
        [
            {"row": "Baseline LSTM", "column": "UCF-101", "value": 70.0, "spread": 1.5, "n": 3},
            {"row": "Composite Model", "column": "UCF-101", "value": 76.25, "spread": 0.5, "n": 3},
        ]
    )


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_paper_numbers_reads_csv():
    df = paper_numbers()
    assert list(df.columns) == ["artifact", "row", "column", "value"]
    cell = df[(df.artifact == "table3") & (df.row == "Composite Model") & (df.column == "UCF-101")]
    assert cell["value"].tolist() == [75.8]


def test_write_table_values_difference_not_run(tmp_path):
    paths = write_table("table3", _ours(), tmp_path, PROV)
    assert [p.name for p in paths] == ["table3.csv", "table3.md", "table3.tex"]
    rows = _read_csv(tmp_path / "table3.csv")
    by = {(r["row"], r["column"]): r for r in rows}
    # every paper cell of table 3 is present (4 columns x 7 rows)
    assert len(rows) == 28
    base = by[("Baseline LSTM", "UCF-101")]
    assert float(base["paper"]) == 74.5 and float(base["ours"]) == 70.0
    assert float(base["difference"]) == pytest.approx(-4.5)
    assert base["n"] == "3" and base["status"] == "ours"
    assert base["config"] == "unit" and base["data_source"] == "embedded"
    assert base["extractor"] == "fake-fc6" and base["skipped_videos"] == "0"
    comp = by[("Composite Model", "UCF-101")]
    assert float(comp["difference"]) == pytest.approx(0.45)
    missing = by[("Autoencoder", "HMDB-51 small")]
    assert missing["status"] == "not run" and missing["ours"] == "" and missing["paper"] == "28.6"
    md = (tmp_path / "table3.md").read_text()
    assert "not run" in md and "74.5" in md and "-4.5" in md and "70.0 ± 1.5" in md
    assert "Config: unit" in md and "embedded" in md and "fake-fc6" in md
    assert "not a reproduction of the paper" in md
    tex = (tmp_path / "table3.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\textit{not run}" in tex and "-4.5" in tex


def test_row_order_and_extra_rows_and_quoted(tmp_path):
    ours = pd.DataFrame(
        [{"row": "Composite LSTM Model [RGB]", "column": "UCF-101", "value": 50.0},
         {"row": "Our extra row", "column": "UCF-101", "value": 10.0}]
    )
    quoted = ["C3D (Tran et al. 2014) [RGB]"]
    write_table("table4", ours, tmp_path, PROV, row_order=["Our extra row"], quoted_rows=quoted)
    rows = _read_csv(tmp_path / "table4.csv")
    assert rows[0]["row"] == "Our extra row" and rows[0]["paper"] == ""
    by = {(r["row"], r["column"]): r for r in rows}
    assert by[("C3D (Tran et al. 2014) [RGB]", "UCF-101")]["status"] == "quoted"
    assert by[("C3D (Tran et al. 2014) [RGB]", "UCF-101")]["paper"] == "72.3"
    md = (tmp_path / "table4.md").read_text()
    assert "quoted" in md


def test_identical_bytes_across_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_table("table3", _ours(), a, PROV, note="note")
    write_table("table3", _ours().iloc[::-1].reset_index(drop=True), b, PROV, note="note")
    for ext in ("csv", "md", "tex"):
        assert (a / f"table3.{ext}").read_bytes() == (b / f"table3.{ext}").read_bytes()
    assert not [p for p in a.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_missing_provenance_is_user_error(tmp_path):
    with pytest.raises(UserError, match="extractor"):
        write_table("table3", _ours(), tmp_path, {"config": "x", "data_source": "real"})


def test_action_tables_carry_a_chance_row(tmp_path):
    from videolstm.finetune import report

    runs = pd.DataFrame([
        {"init": init, "dataset": ds, "stream": "rgb", "size": "all", "video_acc": acc,
         "extractor": "pixels", "split": 1, "n_classes": classes, "n_train": 40}
        for init, acc in (("single_frame", 30.0), ("baseline", 40.0), ("composite", 50.0))
        for ds, classes in (("ucf101", 8), ("hmdb51", 5))
    ])
    cfg = {"config_name": "unit", "data_source": "embedded",
           "finetune": {"pretrained": "composite", "small": {"ucf101": 2, "hmdb51": 2}}}
    report.table1(runs, cfg, tmp_path)
    rows = {(r["row"], r["column"]): r for r in _read_csv(tmp_path / "table1.csv")}
    assert float(rows[(report.CHANCE_ROW, "UCF-101 RGB")]["ours"]) == 12.5
    assert float(rows[(report.CHANCE_ROW, "HMDB-51 RGB")]["ours"]) == 20.0
    assert (report.CHANCE_ROW, "UCF-101 1-frame flow") not in rows  # no flow runs, no chance cell


def test_cells_average_split_means_and_spread_only_over_samples_within_a_split():
    from videolstm.finetune.report import split_stats

    # split 1: samples 40, 60 (mean 50, std 10); split 2: samples 80, 80 (mean 80, std 0)
    runs = pd.DataFrame({"split": [1, 1, 2, 2], "video_acc": [40.0, 60.0, 80.0, 80.0]})
    value, spread, per_split = split_stats(runs)
    assert value == 65.0 and per_split == {1: 50.0, 2: 80.0}
    assert spread == 5.0  # mean of 10 and 0; the 30-point gap between splits is not spread
    one_each = pd.DataFrame({"split": [1, 2, 3], "video_acc": [10.0, 20.0, 30.0]})
    assert np.isnan(split_stats(one_each)[1])


def test_table1_flow_single_frame_is_the_temporal_cnns_own_accuracy(tmp_path):
    from videolstm.finetune import report

    runs = pd.DataFrame([
        {"init": init, "dataset": "ucf101", "stream": stream, "size": "all", "video_acc": 40.0,
         "extractor": "x", "split": 1, "n_classes": 8, "n_train": 40}
        for init in ("single_frame", "baseline", "composite") for stream in ("rgb", "flow")])
    cfg = {"config_name": "unit", "data_source": "embedded", "finetune": {"pretrained": "composite"}}
    report.table1(runs, cfg, tmp_path, temporal_cnn=[{"test_video_accuracy": 0.625, "split": 1}])
    rows = {(r["row"], r["column"]): r for r in _read_csv(tmp_path / "table1.csv")}
    assert float(rows[("Single Frame", report.FLOW_COLUMN)]["ours"]) == 62.5
    assert float(rows[("Single Frame", "UCF-101 RGB")]["ours"]) == 40.0  # RGB keeps the regression
    assert "temporal-stream CNNs' own video accuracy" in (tmp_path / "table1.md").read_text()
