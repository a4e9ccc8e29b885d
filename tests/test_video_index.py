"""Official split parsing (CRLF, trailing spaces, class-name case), statuses of bad videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from videolstm.cli import main
from videolstm.errors import UserError
from videolstm.video import index as vindex
from videolstm.video import synth
from videolstm.video.decode import probe

TINY = dict(classes=3, groups=3, clips_per_group=1, seconds=0.4, test_groups=1, bit_rate=200_000)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("embedded")
    roots = {}
    for ds, extra in (("ucf101", {}), ("hmdb51", {"unused_groups": 1})):
        roots[ds] = base / ds
        synth.generate(ds, roots[ds], synth.SynthConfig(**{**TINY, **extra}, seed=3))
    return roots


def _touch_videos(root: Path, rels: list[str], source: Path) -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / rel)


def test_ucf101_quirks_crlf_case_trailing_spaces(tmp_path, embedded):
    root = tmp_path / "UCF-101"
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    src = next(embedded["ucf101"].rglob("*.avi"))
    # folders as on disk; files named with a different case (like v_HandStandPushups_...)
    _touch_videos(root, ["HandstandPushups/v_HandStandPushups_g01_c01.avi",
                         "HandstandPushups/v_HandStandPushups_g02_c01.avi",
                         "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
                         "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi"], src)
    (lists / "classInd.txt").write_bytes(b"\xef\xbb\xbf1 ApplyEyeMakeup\r\n2 HandstandPushups\r\n")
    for s in (1, 2, 3):
        train = ("ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1  \r\n"
                 "handstandpushups/v_HandStandPushups_g02_c01.avi 2\r\n\r\n")
        test = ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi \r\n"
                "HandstandPushups\\v_HandstandPushups_g01_c01.avi\r\n")
        (lists / f"trainlist0{s}.txt").write_bytes(train.encode())
        (lists / f"testlist0{s}.txt").write_bytes(test.encode())
    frame = vindex.build_index("ucf101", root, vindex.IndexConfig())
    assert list(frame.columns) == vindex.INDEX_COLUMNS
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    assert set(frame["class_name"]) == {"ApplyEyeMakeup", "HandstandPushups"}  # classInd's case
    hs = frame[frame["class_name"] == "HandstandPushups"].set_index("group")
    assert hs.loc["g01", "path"] == "HandstandPushups/v_HandStandPushups_g01_c01.avi"  # on disk
    assert hs.loc["g01", "split1"] == "test" and hs.loc["g02", "split1"] == "train"
    assert set(frame["label"]) == {0, 1}
    assert vindex.check_groups_disjoint(frame) == []


def test_ucf101_label_mismatch_is_an_error(tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 A\n2 B\n")
    for s in (1, 2, 3):
        (lists / f"trainlist0{s}.txt").write_text("A/v_A_g01_c01.avi 2\n")
        (lists / f"testlist0{s}.txt").write_text("")
    with pytest.raises(UserError, match="labelled 2"):
        vindex.parse_ucf101(tmp_path)


def test_hmdb51_trailing_space_ids_and_case(tmp_path, embedded):
    root = tmp_path / "hmdb51"
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    src = next(embedded["hmdb51"].rglob("*.avi"))
    names = ["April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
             "Blow_dry_brush_hair_h_nm_np1_fr_med_1.avi",
             "Prelinger_brush_hair_f_cm_np1_le_bad_2.avi"]
    _touch_videos(root, [f"brush_hair/{n}" for n in names], src)
    _touch_videos(root, ["Cartwheel/x_cartwheel_f_cm_np1_ri_med_0.avi"], src)
    for s in (1, 2, 3):
        (splits / f"brush_hair_test_split{s}.txt").write_bytes(
            f"{names[0]} 1 \r\n{names[1]} 2 \n{names[2]} 0 \n".encode())
        (splits / f"cartwheel_test_split{s}.txt").write_text(
            "x_cartwheel_f_cm_np1_ri_med_0.avi 1 \n")
    frame = vindex.build_index("hmdb51", root, vindex.IndexConfig()).set_index("video")
    assert frame.loc[names[0][:-4], "split1"] == "train"
    assert frame.loc[names[1][:-4], "split2"] == "test"
    assert frame.loc[names[2][:-4], "split3"] == "unused"
    assert frame.loc[names[0][:-4], "group"] == "April_09"
    row = frame.loc["x_cartwheel_f_cm_np1_ri_med_0"]
    assert row["class_name"] == "Cartwheel" and row["status"] == "ok"  # folder's case wins
    assert sorted(set(frame["label"])) == [0, 1]


def test_embedded_layouts_index_and_groups_are_disjoint(embedded):
    ucf = vindex.build_index("ucf101", embedded["ucf101"], vindex.IndexConfig())
    assert len(ucf) == 3 * 3 and (ucf["status"] == "ok").all()
    assert vindex.check_groups_disjoint(ucf) == []
    for s in (1, 2, 3):  # a third of the groups is test in each split, rotating
        assert ucf.groupby("group")[f"split{s}"].nunique().max() == 1
        assert (ucf[f"split{s}"] == "test").sum() == 3
    assert set(ucf["group"]) == {"g01", "g02", "g03"}
    quirk = ucf[ucf["class_name"] == "ThreeMoveLeft"]
    assert quirk.empty or quirk["path"].str.contains("v_ThreeMoveleft_").all()
    hmdb = vindex.build_index("hmdb51", embedded["hmdb51"], vindex.IndexConfig())
    assert set(hmdb["split1"]) == {"train", "test", "unused"}
    assert vindex.check_groups_disjoint(hmdb) == []


def test_truncated_empty_missing_get_status_and_reason(tmp_path, embedded):
    src = next(embedded["ucf101"].rglob("*.avi"))
    data = src.read_bytes()
    (tmp_path / "trunc.avi").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "junk.avi").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    assert probe(src).status == "ok" and probe(src).n_frames == 10
    t = probe(tmp_path / "trunc.avi")
    assert t.status == "truncated" and "header declares 10 frames" in t.reason
    e = probe(tmp_path / "empty.avi")
    assert e.status == "empty" and "0 bytes" in e.reason
    assert probe(tmp_path / "junk.avi").status == "unreadable"
    m = probe(tmp_path / "nothere.avi")
    assert m.status == "missing" and "not found" in m.reason


def test_index_cli_fails_with_summary_unless_skipping(tmp_path, embedded, capsys):
    root = tmp_path / "ucf"
    shutil.copytree(embedded["ucf101"], root)
    victims = sorted(root.rglob("*.avi"))[:2]
    victims[0].write_bytes(b"")
    data = victims[1].read_bytes()
    victims[1].write_bytes(data[: 2 * len(data) // 3])
    out = tmp_path / "ucf101.csv"
    args = ["index", "--dataset", "ucf101", "--root", str(root), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 of 9 listed videos are not usable (empty: 1, truncated: 1)" in err
    assert victims[0].name in err and "allow_skip" in err
    assert not out.exists()
    cfg = '{"datasets": {"ucf101": {"allow_skip": true}}}'
    assert main(args + ["--cfg", cfg]) == 0
    frame = vindex.read_index(out)
    assert (frame["status"] != "ok").sum() == 2
    assert set(frame.loc[frame["status"] != "ok", "reason"].str.len() > 0) == {True}


@pytest.mark.parametrize("name, cls, group", [
    ("Parkour_Dive_dive_f_cm_np1_ri_bad_0.avi", "dive", "Parkour_Dive"),
    ("How_To_Pour_Ice_Tea_pour_u_nm_np1_fr_goo_0.avi", "pour", "How_To_Pour_Ice_Tea"),
    ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "brush_hair", "April_09"),
    ("Catch_the_ball_catch_f_cm_np1_le_bad_1.avi", "catch", "Catch_the_ball"),
])
def test_hmdb51_group_is_the_source_even_when_it_contains_the_class(name, cls, group):
    assert vindex._hmdb_group(name, cls) == group


@pytest.mark.parametrize("entry", ["MoveLeft/../../../outside/x.avi", "/etc/passwd",
                                   "MoveLeft/../../../../../../etc/passwd"])
def test_split_entries_outside_the_root_are_refused(tmp_path, entry):
    with pytest.raises(UserError, match="points outside the dataset root"):
        vindex.inside_root(tmp_path / "UCF-101", entry)
    vindex.inside_root(tmp_path / "UCF-101", "MoveLeft/../MoveLeft/v_x.avi")  # stays inside: fine
    vindex.inside_root(tmp_path / "UCF-101", "..clip.avi")  # a name starting with dots is inside
