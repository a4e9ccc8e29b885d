"""The claims table: the verdict rule, its standard errors, reading a results folder, the
committed claims tables and the README's generated block."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import ROOT
from videolstm import claims as cl
from videolstm.tables import write_table

PROV = {"config": "unit", "data_source": "embedded", "extractor": "none"}


# -- the verdict rule -----------------------------------------------------------------------


@pytest.mark.parametrize(("effect", "se", "kwargs", "expected"), [
    (-10.0, 1.0, {}, cl.REPRODUCED),             # clear win, paper's sign (lower is better)
    (10.0, 1.0, {}, cl.CONTRADICTED),            # clear loss, beyond 2 SE the other way
    (-1.5, 1.0, {}, cl.INCONCLUSIVE),            # noise: within 2 SE
    (-2.0, 1.0, {}, cl.INCONCLUSIVE),            # exactly 2 SE is not beyond it
    (-10.0, None, {}, cl.INCONCLUSIVE),          # no spread estimate: never reproduced
    (-10.0, 0.0, {}, cl.INCONCLUSIVE),           # a zero spread is no estimate either
    (-10.0, 1.0, {"learned": False}, cl.INCONCLUSIVE),   # a model that did not learn
    (10.0, 1.0, {"learned": False}, cl.INCONCLUSIVE),    # ... tests neither direction
    (-10.0, 1.0, {"fair": False}, cl.INCONCLUSIVE),      # winner also trained longer
    (-10.0, 1.0, {"ran": False}, cl.NOT_RUN),
    (None, None, {}, cl.NOT_RUN),
])
def test_verdict_rule(effect, se, kwargs, expected):
    assert cl.verdict(effect, se, -1, **kwargs) == expected


def test_verdict_follows_the_papers_sign():
    assert cl.verdict(3.0, 1.0, +1) == cl.REPRODUCED
    assert cl.verdict(-3.0, 1.0, +1) == cl.CONTRADICTED


def test_a_contradiction_by_the_best_of_several_needs_the_union_bound():
    """B picked as the best of k rows by our own numbers looks better than it is: 'A is worse
    than the best' must clear the bar that keeps k comparisons' false rate at one's."""
    nd = statistics.NormalDist()
    assert cl.contradiction_z(1) == cl.Z
    for k in (2, 3, 4):
        assert k * nd.cdf(-cl.contradiction_z(k)) == pytest.approx(nd.cdf(-cl.Z))
    assert 2.5 < cl.contradiction_z(4) < 2.55
    assert cl.verdict(2.3, 1.0, -1) == cl.CONTRADICTED                      # one comparison
    assert cl.verdict(2.3, 1.0, -1, picked_from=4) == cl.INCONCLUSIVE       # best of 4
    assert cl.verdict(2.6, 1.0, -1, picked_from=4) == cl.CONTRADICTED
    assert cl.verdict(-2.3, 1.0, -1, picked_from=4) == cl.REPRODUCED  # the paper's way keeps Z
    assert cl.verdict(1.9, 1.0, -1, picked_from=4) == cl.INCONCLUSIVE
    assert cl.why_inconclusive(cl.Finding(effect=1.9, se=1.0, picked_from=4), -1) == "within 2 SE"
    assert "best of 4" in cl.why_inconclusive(cl.Finding(effect=2.3, se=1.0, picked_from=4), -1)
    assert cl.why_inconclusive(cl.Finding(effect=2.3, se=math.nan), -1) == "no spread estimate"
    cl.all_claims()  # every claim that picks its B states that A beats it (the bar's direction)
    with pytest.raises(ValueError, match="T9"):
        cl._check_pick("T9", ("x", "y"), -0.5, +1)


def test_standard_errors_by_hand():
    # differences 1, 2, 3: mean 2, sample std 1, SE 1 / sqrt(3)
    assert cl.paired_se([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]) == pytest.approx(1 / math.sqrt(3))
    assert cl.paired_se([1.0], [0.0]) is None
    # 3 splits x 4 samples, within-split std (ddof 0) 2.0: SE = 2 / sqrt(12 - 3)
    assert cl.mean_se(2.0, 12, 3) == pytest.approx(2 / 3)
    assert cl.mean_se(2.0, 3, 3) is None  # one sample per split
    cell = {"spread": "2", "n": "12", "per_split": "split 1: 70; split 2: 71; split 3: 69"}
    assert cl.cell_se(cell) == pytest.approx(2 / 3)
    assert cl.combined_se(3.0, 4.0) == pytest.approx(5.0)
    assert cl.combined_se(3.0, None) is None


def test_budget_check_only_when_the_winner_trained_longer():
    f = cl.Finding(effect=-5.0)
    f.check_budget({"A": 100, "B": 300}, "A", "B")  # the winner had less: still fair
    assert f.fair and "A trained 100 steps" in f.notes[0]
    f.check_budget({"A": 300, "B": 100}, "A", "B")
    assert not f.fair


# -- a results folder made by hand -----------------------------------------------------------


def _table2(root, cells, patches_run=True):
    rows = []
    for run, (value, flag) in cells.items():
        rows.append({"row": cl.T2_ROWS[run], "column": cl.T2_COLS["mnist"], "value": value,
                     "n": 4, "flag": flag})
        if patches_run:
            rows.append({"row": cl.T2_ROWS[run], "column": cl.T2_COLS["patches"],
                         "value": 200.0, "n": 4, "flag": ""})
    write_table("table2", pd.DataFrame(rows), root / "tables", PROV)


def _eval(root, run, losses, step=1000):
    path = root / "eval" / "mnist" / f"{run}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"step": step, "per_sequence": {"future_loss": losses},
                                "metrics": {"future_loss": float(np.mean(losses))}}))


def _row(rows, cid):
    return next(r for r in rows if r["id"] == cid)


def test_table2_claim_paired_se_flags_and_parts(tmp_path):
    fp = [400.0, 410.0, 420.0, 430.0]
    comp = [390.0, 399.0, 411.0, 420.0]  # better on every sequence by 9-10
    cfp = [700.0, 700.0, 700.0, 700.0]
    cc = [650.0, 660.0, 640.0, 650.0]
    _table2(tmp_path, {"future": (np.mean(fp), ""), "composite": (np.mean(comp), ""),
                       "cond_future": (np.mean(cfp), "not learned"),
                       "composite_cond": (np.mean(cc), "not learned")})
    for run, losses in (("future", fp), ("composite", comp), ("cond_future", cfp),
                        ("composite_cond", cc)):
        _eval(tmp_path, run, losses)
    rows = cl.evaluate(tmp_path, "unit", "embedded", parts=["mnist"])
    m1 = _row(rows, "T2-M1")
    assert m1["verdict"] == cl.REPRODUCED
    assert float(m1["se"]) == pytest.approx(cl.paired_se(comp, fp), rel=1e-5)
    assert float(m1["ours"]) == pytest.approx(np.mean(comp) - np.mean(fp), rel=1e-5)
    m2 = _row(rows, "T2-M2")  # the conditional model is flagged: never reproduced
    assert m2["verdict"] == cl.INCONCLUSIVE and "not learned" in m2["notes"]
    # parts this configuration does not run say so
    for cid in ("T2-P1", "T1-1", "T3-1", "T4-1", "F12-1", "LR-1"):
        assert _row(rows, cid)["verdict"] == cl.NOT_RUN, cid
    # Figures 7/8 not measured here: not run, with the reason
    assert _row(rows, "F7-1")["verdict"] == cl.NOT_RUN
    assert "mnist_checks.json" in _row(rows, "F7-1")["notes"]


def test_stale_or_missing_per_sequence_losses_give_no_se(tmp_path):
    _table2(tmp_path, {"future": (400.0, ""), "composite": (390.0, "")})
    _eval(tmp_path, "future", [400.0, 401.0, 399.0])
    _eval(tmp_path, "composite", [300.0, 300.0, 300.0])  # not the run in the table
    m1 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["mnist"]), "T2-M1")
    assert m1["verdict"] == cl.INCONCLUSIVE and m1["se"] == ""
    assert "not the run in Table 2" in m1["notes"]


@pytest.mark.parametrize("shift", [-20.0, +20.0])
def test_table2_best_of_three_needs_every_rivals_losses_only_to_be_reproduced(tmp_path, shift):
    """T2-M3 picks the best of three rows. Reproduced (the conditional composite 20 lower) needs
    A's paired SE against every row, so a rival's missing evaluation leaves it inconclusive; a
    contradiction (20 higher than the best) rests on the best row alone and stands."""
    rows = {"future": [400.0, 410.0, 420.0, 430.0], "composite": [390.0, 401.0, 409.0, 420.0],
            "cond_future": [395.0, 405.0, 415.0, 425.0]}
    rows["composite_cond"] = [x + shift + (k % 2) for k, x in enumerate(rows["composite"])]
    _table2(tmp_path, {r: (np.mean(v), "") for r, v in rows.items()})
    for run, losses in rows.items():
        _eval(tmp_path, run, losses)
    expected = cl.REPRODUCED if shift < 0 else cl.CONTRADICTED
    m3 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["mnist"]), "T2-M3")
    assert m3["verdict"] == expected and "best other: Composite Model" in m3["notes"]
    (tmp_path / "eval" / "mnist" / "cond_future.json").unlink()
    m3 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["mnist"]), "T2-M3")
    assert m3["verdict"] == (cl.INCONCLUSIVE if shift < 0 else cl.CONTRADICTED)
    assert float(m3["se"]) > 0 and "no SE against Conditional Future Predictor" in m3["notes"]


def test_not_run_table_cells_say_not_run(tmp_path):
    _table2(tmp_path, {"future": (400.0, ""), "composite": (390.0, "")}, patches_run=False)
    rows = cl.evaluate(tmp_path, "unit", "embedded")  # every part configured
    assert _row(rows, "T2-P1")["verdict"] == cl.NOT_RUN  # the table's patches cells: not run
    assert _row(rows, "T1-1")["verdict"] == cl.NOT_RUN   # table1.csv absent


def test_action_claims_from_spread_and_n(tmp_path):
    cells = [("Single Frame", 50.0, 1.0), ("LSTM classifier", 60.0, 1.0),
             ("Composite LSTM Model + Finetuning", 60.5, 1.0)]
    rows = [{"row": r, "column": "UCF-101 RGB", "value": v, "spread": s, "n": 10,
             "per_split": "split 1: 0"} for r, v, s in cells]
    rows.append({"row": "Chance (100 / classes)", "column": "UCF-101 RGB", "value": 12.5})
    write_table("table1", pd.DataFrame(rows), tmp_path / "tables", PROV)
    out = cl.evaluate(tmp_path, "unit", "embedded", parts=["video"])
    t1 = _row(out, "T1-1")  # +10 with SE sqrt(2 / 9): reproduced
    assert t1["verdict"] == cl.REPRODUCED
    assert float(t1["se"]) == pytest.approx(math.sqrt(2 / 9), rel=1e-5)
    assert _row(out, "T1-3")["verdict"] == cl.INCONCLUSIVE  # +0.5 within 2 SE


def test_written_files_and_summary(tmp_path):
    rows = cl.evaluate(tmp_path, "unit", "embedded", parts=["mnist"])
    paths = cl.write_claims(rows, tmp_path / "claims", "unit", "embedded",
                            summary=tmp_path / "summary.md")
    with open(paths[0], newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(cl.all_claims()) and tuple(table[0]) == cl.CSV_COLUMNS
    summary = paths[2].read_text()
    assert summary.count("\n- **") == len(rows)


# -- what the pipeline and the commands rely on ---------------------------------------------


def test_table2_names_agree_with_the_table_command():
    from videolstm.movingmnist import table2

    assert cl.T2_ROWS == table2.TABLE2_RUNS
    assert cl.T2_COLS == {"mnist": table2.MNIST_COL, "patches": table2.PATCHES_COL}


def test_per_sequence_losses_average_to_the_metrics():
    from videolstm.baselines import image_baselines
    from videolstm.evaluate import evaluate_model
    from videolstm.models import ModelConfig, build_model

    torch.manual_seed(0)
    frames = np.random.default_rng(0).integers(0, 256, (20, 5, 16, 16), dtype=np.uint8)
    model = build_model("composite", ModelConfig(input_dim=256, hidden=8, layers=1))
    ev = evaluate_model(model, frames, batch_size=2)
    for key in ("future_loss", "recon_loss", "future_mse_per_frame"):
        assert len(ev["per_sequence"][key]) == 5
        assert np.mean(ev["per_sequence"][key]) == pytest.approx(ev["metrics"][key])
    base = image_baselines(frames, np.full(256, 0.2), 10, 10, batch_size=2)
    seqs = base["per_sequence"]["mean_frame"]["future_loss"]
    assert np.mean(seqs) == pytest.approx(base["baselines"]["mean_frame"]["future_loss"])


def test_rollout_activity_is_zero_for_a_constant():
    from videolstm.movingmnist.figure_checks import activity

    still = np.ones((100, 3, 4))
    moving = np.sin(np.arange(100.0))[:, None, None] * np.ones((100, 3, 4))
    assert np.allclose(activity(still), 0.0)
    assert (activity(moving) > 0.5).all()


# -- the committed results ------------------------------------------------------------------


@pytest.mark.parametrize("results, parts", [("results", None), ("results-cpu", ["mnist"]),
                                            ("results-cpu/action", ["video"])])
def test_every_claim_points_to_an_existing_artifact(results, parts):
    """Recomputed from the committed tables alone (a fresh clone has no eval/), every claim with
    a result names a committed file that exists; and so does every committed claims row."""
    rows = cl.evaluate(ROOT / results, "check", "embedded", parts=parts)
    committed = list(csv.DictReader(open(ROOT / results / "tables" / "claims.csv", newline="")))
    assert [r["id"] for r in committed] == [r["id"] for r in rows]
    for r in committed:
        assert r["verdict"] in (cl.REPRODUCED, cl.CONTRADICTED, cl.INCONCLUSIVE, cl.NOT_RUN)
        if r["verdict"] != cl.NOT_RUN:
            assert (ROOT / r["artifact"]).is_file(), r["artifact"]
    for r in rows:
        if r["verdict"] != cl.NOT_RUN:
            assert (ROOT / results / r["artifact"].split(f"/{results}/", 1)[1]).is_file()


def test_cpu_run_has_no_video_part():
    committed = list(csv.DictReader(open(ROOT / "results-cpu/tables/claims.csv", newline="")))
    for r in committed:
        if r["id"].startswith(("T1-", "T3-", "T4-", "F12-", "T2-P", "LR-")):
            assert r["verdict"] == cl.NOT_RUN, r["id"]


def test_claims_page_block_matches_the_committed_summaries():
    """docs/claims.md (linked from the README) holds the runs' summaries as generated, their links
    made relative to docs/."""
    from videolstm.commands.claims import CLAIMS_PAGE, README_SUMMARIES

    page = (ROOT / CLAIMS_PAGE).read_text(encoding="utf-8")
    summaries = [(ROOT / s).read_text(encoding="utf-8") for s in README_SUMMARIES]
    assert cl.current_readme_block(page) == cl.readme_block(summaries, Path(CLAIMS_PAGE).parent), (
        f"{CLAIMS_PAGE}'s claims block is out of date: run `videolstm claims-readme`")
    assert "](../results/tables/claims.md)" in page
    assert "<!-- claims:begin -->" not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_claims_block_links_are_relative_to_the_page():
    summary = "**Config `x`** (full table: [results/tables/claims.md](results/tables/claims.md)): 1.\n"
    assert "](results/tables/claims.md)" in cl.readme_block([summary])
    assert "[results/tables/claims.md](../results/tables/claims.md)" in cl.readme_block([summary], "docs")
    page = "# t\n\n<!-- claims:begin -->\nold\n<!-- claims:end -->\ntail\n"
    new = cl.replace_readme_block(page, cl.readme_block([summary], "docs"))
    assert new.startswith("# t\n\n<!-- claims:begin -->") and new.endswith("<!-- claims:end -->\ntail\n")
    with pytest.raises(ValueError, match="claims:begin"):
        cl.current_readme_block("# no block\n")


def _lab(root, fc_small, fc_big, conv, mean_frame_mse=0.036 * 4096):
    rows = [{"row": f"FC-LSTM autoencoder {h} units (scaled down, no paper value)",
             "column": "Moving MNIST MSE", "value": float(np.mean(v)), "n": len(v)}
            for h, v in ((32, fc_small), (128, fc_big))]
    rows.append({"row": "ConvLSTM autoencoder (no paper value)", "column": "Moving MNIST MSE",
                 "value": float(np.mean(conv)), "n": len(conv)})
    write_table("labreport", pd.DataFrame(rows), root / "tables", PROV)
    for name, hidden, variant, v in (("fc32", 32, "autoencoder", fc_small),
                                     ("fc128", 128, "autoencoder", fc_big),
                                     ("convlstm", 0, "convlstm", conv)):
        path = root / "eval" / "labreport" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"variant": variant, "step": 150, "model_config": {
            "hidden": hidden, "input_dim": 4096}, "per_sequence": {
            "recon_mse_per_frame": [x * 4096 for x in v]}}))
    base = root / "eval" / "baselines" / "mnist.json"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(json.dumps({"baselines": {"mean_frame": {
        "future_mse_per_frame": mean_frame_mse}}}))


def test_lab_report_models_no_better_than_the_mean_frame_test_nothing(tmp_path):
    small, big = [0.020, 0.021, 0.022, 0.023], [0.010, 0.011, 0.012, 0.013]
    _lab(tmp_path, small, big, conv=[0.005, 0.006, 0.005, 0.006])
    rows = cl.evaluate(tmp_path, "unit", "embedded", parts=["labreport"])
    assert _row(rows, "LR-1")["verdict"] == cl.REPRODUCED
    assert _row(rows, "LR-2")["verdict"] == cl.REPRODUCED
    _lab(tmp_path, small, big, conv=[0.040, 0.041, 0.040, 0.041])  # worse than the mean frame
    lr2 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["labreport"]), "LR-2")
    assert lr2["verdict"] == cl.INCONCLUSIVE and "did not learn" in lr2["notes"]


def test_one_run_per_split_gets_the_paired_split_se_and_a_stale_encoder_is_named(tmp_path):
    per = {"Single Frame": [50.0, 52.0, 51.0], "LSTM classifier": [60.0, 63.0, 61.0],
           "Composite LSTM Model + Finetuning": [61.0, 64.0, 62.5]}
    rows = [{"row": r, "column": "UCF-101 RGB", "value": float(np.mean(v)), "n": 3,
             "per_split": "; ".join(f"split {s + 1}: {x:.2f}" for s, x in enumerate(v))}
            for r, v in per.items()]
    rows.append({"row": "Chance (100 / classes)", "column": "UCF-101 RGB", "value": 12.5})
    write_table("table1", pd.DataFrame(rows), tmp_path / "tables", PROV)
    out = cl.evaluate(tmp_path, "unit", "embedded", parts=["video"])
    d = np.array(per["LSTM classifier"]) - np.array(per["Single Frame"])  # 10, 11, 10
    t1 = _row(out, "T1-1")
    assert float(t1["se"]) == pytest.approx(d.std(ddof=1) / math.sqrt(3), rel=1e-4)
    assert t1["verdict"] == cl.REPRODUCED and "paired difference over 3 splits" in t1["notes"]
    # the composite's encoder did not learn: T1-3 tests nothing, and says why
    (tmp_path / "tables" / "percept_pretraining.csv").write_text(
        "domain,run,variant,steps,decoder,model,mean_frame,last_frame,ratio,learned\n"
        "percepts_rgb,composite,composite,10,future,99,100,120,0.99,False\n")
    t3 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T1-3")
    assert t3["verdict"] == cl.INCONCLUSIVE and "did not learn" in t3["notes"]


def test_figure12_gain_with_all_labels_takes_the_paired_split_se_from_table1(tmp_path):
    """Figure 12's last point has one run per split: its gain's SE comes from Table 1's per-split
    cells (the same runs), so the claim is judged rather than left without an SE."""
    per = {"LSTM classifier": [60.0, 63.0, 61.0],
           "Composite LSTM Model + Finetuning": [62.0, 66.0, 62.5]}
    rows = [{"row": r, "column": "UCF-101 RGB", "value": float(np.mean(v)), "n": 3,
             "per_split": "; ".join(f"split {s + 1}: {x:.2f}" for s, x in enumerate(v))}
            for r, v in per.items()]
    prov = {**PROV, "splits": "1,2,3"}  # as the fine-tuning tables record it
    write_table("table1", pd.DataFrame(rows), tmp_path / "tables", prov)
    gain_all = np.mean(per["Composite LSTM Model + Finetuning"]) - np.mean(per["LSTM classifier"])
    fig = tmp_path / "figures" / "figure12.csv"
    fig.parent.mkdir(parents=True)
    lines = ["dataset,model,size,videos_per_class,mean_acc,std_acc,n_runs"]
    for model, few, many in (("Baseline LSTM", 20.0, np.mean(per["LSTM classifier"])),
                             ("Composite LSTM Model", 30.0,
                              np.mean(per["Composite LSTM Model + Finetuning"]))):
        lines += [f"UCF-101,{model},1,1,{few},2.0,15", f"UCF-101,{model},all,20,{many},,3"]
    fig.write_text("\n".join(lines) + "\n")
    row = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "F12-1")
    d = np.array(per["Composite LSTM Model + Finetuning"]) - np.array(per["LSTM classifier"])
    se_all = d.std(ddof=1) / math.sqrt(3)
    se_few = 2.0 / math.sqrt(15 - 3)  # each model's point: spread / sqrt(n - splits)
    assert float(row["ours"]) == pytest.approx(10.0 - gain_all, abs=1e-3)
    assert float(row["se"]) == pytest.approx(math.sqrt(2 * se_few**2 + se_all**2), rel=1e-4)
    assert row["verdict"] == cl.REPRODUCED and "Table 1's per-split cells" in row["notes"]
    # a Table 1 that is not the figure's runs gives no SE, and so no verdict either way
    rows[0]["value"] = 55.0
    write_table("table1", pd.DataFrame(rows), tmp_path / "tables", prov)
    row = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "F12-1")
    assert row["se"] in ("", None) and row["verdict"] == cl.INCONCLUSIVE


def test_fusion_rests_on_the_flow_encoder_too(tmp_path):
    """Table 4's fused row: a flow encoder that did not learn makes the fusion claim test nothing
    (a 'contradicted' fusion then would blame fusion for an untrained stream)."""
    per = {"Composite LSTM Model [RGB]": [70.0, 71.0, 69.0],
           "Composite LSTM Model [flow]": [34.0, 33.0, 35.0],
           "Composite LSTM Model [RGB+flow]": [65.0, 66.0, 64.5]}
    rows = [{"row": r, "column": "UCF-101", "value": float(np.mean(v)), "n": 3,
             "per_split": "; ".join(f"split {s + 1}: {x:.2f}" for s, x in enumerate(v))}
            for r, v in per.items()]
    rows.append({"row": "Chance (100 / classes)", "column": "UCF-101", "value": 12.5})
    write_table("table4", pd.DataFrame(rows), tmp_path / "tables", PROV)
    learned = ("domain,run,variant,steps,decoder,model,mean_frame,last_frame,ratio,learned\n"
               "percepts_rgb,composite,composite,10,future,20,60,70,0.33,True\n"
               "percepts_flow_split1,composite,composite,10,future,20,60,70,0.33,True\n")
    (tmp_path / "tables" / "percept_pretraining.csv").write_text(learned)
    t4 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T4-1")
    assert t4["verdict"] == cl.CONTRADICTED  # every encoder learned: fusion lost, said so
    (tmp_path / "tables" / "percept_pretraining.csv").write_text(
        learned + "percepts_flowstack_split1,composite,composite,10,future,99,100,120,0.99,False\n")
    t4 = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T4-1")
    assert t4["verdict"] == cl.INCONCLUSIVE
    assert "Composite LSTM Model [RGB+flow]: its pretrained encoder (percepts_flowstack/composite)" \
        " did not learn" in t4["notes"]


def _sample_runs(accs: dict[str, list[list[float]]], size: str = "2") -> pd.DataFrame:
    """Runs of Table 3's UCF-101 'small' column: {init: [[split 1's samples], [split 2's]]}."""
    return pd.DataFrame([
        {"init": init, "dataset": "ucf101", "stream": "rgb", "size": size, "sample": k,
         "split": s + 1, "video_acc": acc, "extractor": "x", "n_classes": 8, "n_train": 16}
        for init, splits in accs.items() for s, samples in enumerate(splits)
        for k, acc in enumerate(samples)])


# Table 3 runs of two splits x four labelled-set samples, and the config its claims read
SAMPLE_ACCS = [[20.0, 40.0, 30.0, 50.0], [25.0, 45.0, 35.0, 15.0]]
T3_CFG = {"config_name": "unit", "data_source": "embedded",
          "finetune": {"pretrained": "composite", "small": {"ucf101": 2}}}


def test_cells_trained_on_the_same_labelled_sets_are_compared_paired(tmp_path):
    """Every classifier of a (split, sample) is trained on the same labelled videos, so which
    videos were drawn moves all of them together: the SE of a difference is that of the paired
    differences. The unpaired SE leaves a steady +2 gain inside the samples' 10-point spread."""
    from videolstm.finetune import report

    base = SAMPLE_ACCS
    # split 1: +2.0 / +2.1 alternating (std 0.05); split 2: +3.0 / +3.4 (std 0.2)
    accs = {"baseline": base, "composite": [[x + g + w * (k % 2) for k, x in enumerate(s)]
                                            for s, g, w in zip(base, (2.0, 3.0), (0.1, 0.4), strict=True)]}
    for other in ("autoencoder", "future", "cond_autoencoder", "cond_future"):
        accs[other] = base
    cfg = T3_CFG
    seeds = {init: [[60.0, 70.0, 65.0, 75.0]] * 2 for init in accs}
    seeds["composite"] = [[62.0, 72.0, 67.0, 77.0]] * 2  # +2 on every seed number: no pairing
    report.table3(pd.concat([_sample_runs(accs), _sample_runs(seeds, size="all")]), cfg,
                  tmp_path / "tables")
    cells = cl.read_table(tmp_path / "tables" / "table3.csv")
    comp = cells[("Composite Model", "UCF-101 small")]
    assert cl.per_sample_values(comp)[(2, 3)] == pytest.approx(18.4)  # each run, by split/sample
    row = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T3-1")
    d = np.array([[2.0, 2.1, 2.0, 2.1], [3.0, 3.4, 3.0, 3.4]])
    assert float(row["ours"]) == pytest.approx(d.mean(), abs=1e-3)
    # the within-split stds (0.05, 0.2) averaged; the gap between the splits' gains is no spread
    assert float(row["se"]) == pytest.approx(0.125 / math.sqrt(8 - 2), rel=1e-3)
    assert row["verdict"] == cl.REPRODUCED and "paired by labelled-set sample" in row["notes"]
    unpaired = cl.combined_se(cl.cell_se(comp), cl.cell_se(cells[("Future Predictor",
                                                                  "UCF-101 small")]))
    assert cl.verdict(d.mean(), unpaired, +1) == cl.INCONCLUSIVE  # what the tables alone gave
    # with all labels the runs are training seeds: listed, never paired (seed k of two models
    # share nothing), so the steady +2 by seed number stays inside the seeds' spread
    all_cells = [cells[(r, "UCF-101")] for r in ("Composite Model", "Future Predictor")]
    assert "seed 3=77.00" in all_cells[0]["per_sample"]
    assert cl.per_sample_values(all_cells[0]) == {}
    t3_all = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T3-2")
    assert float(t3_all["se"]) == pytest.approx(cl.combined_se(*map(cl.cell_se, all_cells)),
                                                rel=1e-5)
    assert t3_all["verdict"] == cl.INCONCLUSIVE and "unpaired" in t3_all["notes"]
    # pairs are (split, sample): the same gains on other samples' runs pair nothing up, and two
    # cells that do not list the same runs are not paired at all (the effect, a difference of
    # the cells' means, would then not be the mean of the pairs the SE is made from)
    comp_text = comp["per_sample"].replace("0=", "9=")
    assert cl.sample_paired_se({"per_sample": comp_text}, comp)[:2] == (None, 6)
    missing = {"per_sample": comp["per_sample"].replace(", 3=18.40", "")}
    assert cl.sample_paired_se(missing, comp)[0] is None
    assert cl.sample_paired_se({"per_sample": "split 1: 0=nan, 1=3.00"},
                               {"per_sample": "split 1: 0=1.00, 1=2.00"})[0] is None
    assert cl.per_sample_values({"per_sample": "split 2: 0=1e-05, 12=-3.50, seed 10=9.00"}) == {
        (2, 0): 1e-05, (2, 12): -3.5}


def test_beating_the_best_of_several_means_beating_each_by_its_own_se():
    """'A beats the best other' picked by our numbers: A must beat every row by 2 SEs of that
    pair (an intersection-union test), or a noisy row that the pick passed over could hide a
    loss that the best row's small SE says nothing about."""
    best = (-2.3, 1.0)  # lower is better: A 2.3 SE below the best other
    assert cl.verdict(*best, -1, picked_from=3, rivals=[best, (-3.5, 1.6)]) == cl.REPRODUCED
    assert cl.verdict(*best, -1, picked_from=3, rivals=[best, (-3.0, 1.6)]) == cl.INCONCLUSIVE
    assert cl.verdict(*best, -1, picked_from=3, rivals=[best, (-3.0, None)]) == cl.INCONCLUSIVE
    assert cl.verdict(*best, -1, picked_from=3) == cl.REPRODUCED  # no rivals given: one pair
    found = cl.Finding(effect=-2.3, se=1.0, picked_from=2,
                       rivals={"X": best, "Y": (-3.0, 1.6)})
    assert "not Y by 2 of that pair's SE" in cl.why_inconclusive(found, -1)


@pytest.mark.parametrize(("noise", "verdict"), [(0.0, cl.REPRODUCED), (8.0, cl.INCONCLUSIVE)])
def test_table3_composite_must_beat_each_other_variant_by_its_own_se(tmp_path, noise, verdict):
    """T3: the Composite leads the best other variant (the Autoencoder, whose pair has a small
    SE) by 4 points at about 10 SE, and the Future Predictor, a point lower on average, by 5.
    When the Future Predictor's runs swing by +-8 points from sample to sample, its pair's SE
    (about 3.3) leaves that lead within 2 SE: the claim is not reproduced."""
    from videolstm.finetune import report

    base = SAMPLE_ACCS
    accs = {init: base for init in ("baseline", "autoencoder", "cond_autoencoder", "cond_future")}
    accs["composite"] = [[x + 3.0 + 2.0 * (k % 2) for k, x in enumerate(s)] for s in base]
    accs["future"] = [[x - 1.0 + noise * (-1) ** (k + 1) for k, x in enumerate(s)] for s in base]
    report.table3(_sample_runs(accs), T3_CFG, tmp_path / "tables")
    row = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T3-1")
    assert float(row["ours"]) == pytest.approx(4.0, abs=1e-3)
    assert "best other: Autoencoder" in row["notes"]
    assert float(row["ours"]) > 9 * float(row["se"])
    assert row["verdict"] == verdict
    if verdict == cl.INCONCLUSIVE:
        assert "not Future Predictor" in row["why"]


@pytest.mark.parametrize(("g", "verdict"), [(-0.06, cl.INCONCLUSIVE), (0.5, cl.CONTRADICTED)])
def test_table3_worse_than_the_best_of_four_is_judged_at_the_union_bound(tmp_path, g, verdict):
    """T3 picks its 'best other' out of four rows by our own numbers: the Future Predictor ahead
    of the Composite by 2.3 paired SEs (g = -0.06) is not a contradiction, by 3.7 (g = 0.5) is."""
    from videolstm.finetune import report

    base = SAMPLE_ACCS
    # the Future Predictor's lead alternates g, g + 2 on both splits: within-split std 1.0
    accs = {init: base for init in ("baseline", "composite", "autoencoder", "cond_autoencoder",
                                    "cond_future")}
    accs["future"] = [[x + g + 2.0 * (k % 2) for k, x in enumerate(s)] for s in base]
    cfg = T3_CFG
    report.table3(_sample_runs(accs), cfg, tmp_path / "tables")
    row = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "T3-1")
    assert float(row["ours"]) == pytest.approx(-(g + 1.0), abs=1e-3)
    assert float(row["se"]) == pytest.approx(1.0 / math.sqrt(8 - 2), rel=1e-3)
    assert "best other: Future Predictor" in row["notes"]
    assert row["verdict"] == verdict
    if verdict == cl.INCONCLUSIVE:
        assert "best of 4" in row["why"]


def test_figure12_points_carry_their_runs_and_the_paired_gain(tmp_path):
    """figure12.csv lists each point's runs (per_sample) and the pretrained model's gain over
    the baseline on the same labelled sets; F12's SE at a size is that gain's paired SE."""
    from videolstm.finetune import report
    from videolstm.finetune.controls import paired

    few = [[20.0, 35.0, 25.0], [30.0, 18.0, 22.0]]
    runs = pd.concat([
        _sample_runs({"baseline": few, "composite": [[x + 4.0 + k for k, x in enumerate(s)]
                                                     for s in few]}, size="1"),
        _sample_runs({"baseline": [[60.0, 62.0, 61.0]] * 2,
                      "composite": [[61.0, 63.5, 61.0]] * 2}, size="all")])
    cfg = {"config_name": "unit", "data_source": "embedded",
           "finetune": {"pretrained": "composite"}}
    df = report.figure12_data(runs, cfg)
    gain = df[df.model == "Composite LSTM Model" + report.GAIN_SUFFIX].set_index("size")
    ref = paired(runs, "composite", "baseline", "1")
    assert gain.loc["1", "mean_acc"] == pytest.approx(ref["effect"]) == pytest.approx(5.0)
    assert gain.loc["1", "std_acc"] == pytest.approx(ref["spread"])
    assert gain.loc["1", "n_runs"] == 6
    report.figure12(runs, cfg, tmp_path / "figures")
    t1 = {"row": ["LSTM classifier"], "column": ["UCF-101 RGB"], "value": [61.0], "n": [6],
          "per_split": ["split 1: 61.00; split 2: 61.00"]}
    write_table("table1", pd.DataFrame(t1), tmp_path / "tables", {**PROV, "splits": "1,2"})
    row = _row(cl.evaluate(tmp_path, "unit", "embedded", parts=["video"]), "F12-1")
    # paired at 1 per class; with all labels (seeds) unpaired: each model's SE combined
    d_few = np.array([4.0, 5.0, 6.0])
    base_all, comp_all = np.array([60.0, 62.0, 61.0]), np.array([61.0, 63.5, 61.0])
    se_all = math.hypot(base_all.std() / math.sqrt(4), comp_all.std() / math.sqrt(4))
    se = math.hypot(d_few.std() / math.sqrt(4), se_all)
    assert float(row["ours"]) == pytest.approx(5.0 - (comp_all - base_all).mean(), abs=1e-3)
    assert float(row["se"]) == pytest.approx(se, rel=1e-3)
    assert "paired by labelled-set sample at 1 videos/class" in row["notes"]
    assert gain.loc["all", "std_acc"] == pytest.approx(math.hypot(base_all.std(), comp_all.std()))
