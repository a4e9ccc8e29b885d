import copy
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT
from videolstm.config import deep_merge, load_config, validate_config
from videolstm.errors import UserError


def test_shipped_configs_are_valid():
    load_config(ROOT / "config" / "config.yaml")
    load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "paper.yaml")


def test_unknown_key_is_named_with_a_suggestion(base_config):
    bad = copy.deepcopy(base_config)
    bad["pretrain"]["defaults"]["hiden"] = 3
    with pytest.raises(UserError, match=r"unknown config key 'pretrain.defaults.hiden'; did you mean 'hidden'"):
        validate_config(bad)


def test_wrong_enum_lists_allowed_values(base_config):
    bad = copy.deepcopy(base_config)
    bad["mnist"]["generator"]["speed"] = "fast"
    with pytest.raises(UserError, match=r"'mnist.generator.speed' is 'fast'; allowed values: 'fixed', 'random'"):
        validate_config(bad)


@pytest.mark.parametrize("key,value,msg", [
    ("steps", 0, "minimum"), ("lr", "fast", "not of type"), ("layers", 2.5, "not of type"),
])
def test_out_of_range_and_wrong_type(base_config, key, value, msg):
    bad = copy.deepcopy(base_config)
    bad["pretrain"]["defaults"][key] = value
    with pytest.raises(UserError, match=f"pretrain.defaults.{key}.*{msg}"):
        validate_config(bad)


def test_overlay_merges_recursively():
    merged = deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 5}})
    assert merged == {"a": {"b": 5, "c": 2}, "d": 1}


def test_cli_reports_bad_config_without_traceback(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["mnist"]["generator"]["num_digits"] = 9
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--nolock", "--configfile", str(path)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert "mnist.generator.num_digits" in proc.stdout + proc.stderr


def test_command_without_its_config_section_says_so(capsys, tmp_path):
    from videolstm.cli import main

    assert main(["pretrain", "--cfg", "{}", "--domain", "mnist", "--run", "x", "--out-dir", str(tmp_path)]) == 2
    assert "--cfg lacks the config section(s) pretrain" in capsys.readouterr().err
    assert main(["pretrain", "--cfg", "[1]", "--domain", "mnist", "--run", "x", "--out-dir", str(tmp_path)]) == 2
    assert "--cfg must hold a JSON object" in capsys.readouterr().err


def test_a_commands_cfg_is_checked_against_the_workflow_schema(tiny_config, tmp_path, capsys):
    """`videolstm <cmd> --cfg` gets the same schema as the workflow: a typo is refused, not ignored
    (before, {"hiden": 5} trained silently with the default size)."""
    import json

    from videolstm.cli import main

    cfg = json.loads(json.dumps(tiny_config))
    cfg["pretrain"]["defaults"]["hiden"] = 5
    rc = main(["pretrain", "--cfg", json.dumps(cfg), "--domain", "mnist", "--run", "future",
               "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown config key 'pretrain.defaults.hiden'" in err and "hidden" in err
    assert not (tmp_path / "out" / "final.pt").exists()


def test_make_reproduce_names_a_yaml_error_by_file_and_line(tmp_path):
    """Snakemake's own message for a broken --configfile names neither file nor line; make
    reproduce checks the configuration first with one that does."""
    import subprocess

    from tests.conftest import ROOT

    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrain:\n  defaults:\n    hidden: [1, 2\n  x: 3\n")
    proc = subprocess.run(["make", "-o", ".venv/.installed", "reproduce", f"CONFIG={bad}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"config file {bad} is not valid YAML" in proc.stderr and "line 3" in proc.stderr
    assert "snakemake --cores" not in proc.stdout  # stopped before the workflow


def test_run_names_outside_the_wildcard_pattern_are_named(base_config):
    base_config["pretrain"]["mnist"]["runs"]["my-run"] = {"variant": "future"}
    with pytest.raises(UserError, match="'my-run' does not match"):
        validate_config(base_config)


def test_library_configs_name_unknown_keys_instead_of_dropping_them(base_config):
    """Direct library callers get the same strictness as the schema gives the workflow."""
    from videolstm.finetune.engine import TrainConfig as ClassifierConfig
    from videolstm.train import resolve_run
    from videolstm.video.flow import FlowConfig

    with pytest.raises(UserError, match="unknown key.*stpes"):
        ClassifierConfig.from_dict({"stpes": 5})
    base_config["pretrain"]["mnist"]["runs"]["future"]["train"] = {"hiden": 5}
    with pytest.raises(UserError, match="unknown key.*hiden.*mnist.runs.future.train"):
        resolve_run(base_config["pretrain"], "mnist", "future")
    assert FlowConfig.from_dict({"cnn": {}, "size": 8}).size == 8  # keys read elsewhere pass


# what the program passes at run time (not configuration), and the pool-only generator fields
RUNTIME = {"seed", "workers", "threads", "device", "split"}


@pytest.mark.parametrize("section, cls, extra", [
    ("pretrain.defaults", "videolstm.train.TrainConfig", set()),
    ("finetune.lstm", "videolstm.finetune.engine.TrainConfig", set()),
    ("mnist.generator", "videolstm.movingmnist.generator.GeneratorConfig", set()),
    ("video.ucf101", "videolstm.video.synth.SynthConfig", {"videos", "segment_seconds"}),
    ("patches", "videolstm.video.patches.PatchConfig", set()),
    ("flow", "videolstm.video.flow.FlowConfig", set()),
    ("flow.cnn", "videolstm.video.temporal_cnn.CNNConfig", set()),
    ("percepts.rgb", "videolstm.video.percepts.PerceptConfig", set()),
    ("clips", "videolstm.video.clips.ClipsConfig", set()),
])
def test_the_yaml_is_the_one_source_of_defaults(base_config, section, cls, extra):
    """Every setting of a config dataclass is written in config/config.yaml, and the dataclass
    default (used only when code builds one directly) is that same value: no second default."""
    import dataclasses
    import importlib

    module, name = cls.rsplit(".", 1)
    klass = getattr(importlib.import_module(module), name)
    values = base_config
    for key in section.split("."):
        values = values[key]
    for f in dataclasses.fields(klass):
        if f.name in RUNTIME | extra:
            continue
        assert f.name in values, f"{section}.{f.name} is not in config/config.yaml"
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        default = list(default) if isinstance(default, tuple) else default
        assert default == values[f.name], (section, f.name, default, values[f.name])


def test_an_empty_overlay_is_refused_by_name(tmp_path, base_config):
    from videolstm.check import onstart_check

    empty = tmp_path / "overlay.yaml"
    for text in ("# nothing here yet\n", "{}\n"):  # Snakemake merges "{}" silently
        empty.write_text(text)
        with pytest.raises(UserError, match="overlay.yaml is empty"):
            load_config(ROOT / "config" / "config.yaml", empty)
        with pytest.raises(SystemExit, match="overlay.yaml is empty"):  # snakemake --configfile
            onstart_check(base_config, [str(empty)])


def test_what_a_cfg_may_leave_out_means_what_config_yaml_says(base_config):
    """`device` and `parts` left out of a hand-written --cfg mean config/config.yaml's device and
    every part the schema knows (config.yaml runs them all): one fallback each, in config.py."""
    from videolstm.config import configured_device, configured_parts, load_schema

    assert configured_device({}) == base_config["device"]
    assert configured_device({"device": "cpu"}) == "cpu"
    assert "parts" not in base_config
    assert configured_parts({}) == set(load_schema()["properties"]["parts"]["items"]["enum"])
    assert configured_parts({"parts": ["mnist"]}) == {"mnist"}
