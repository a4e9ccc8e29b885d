"""`results_dir` is pasted into every shell command of the workflow (issue 22): a value holding
shell syntax or a space is refused before anything runs, so is a folder that is not a results
folder, and every rule quotes the paths it substitutes (`{input:q}`, `{log:q}`, ...)."""

import ast
import copy
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from videolstm.config import validate_config
from videolstm.errors import UserError

RULES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))


def videolstm(*args):
    """The `videolstm` command a user runs (the console script beside this Python)."""
    script = Path(sys.executable).with_name("videolstm")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "videolstm"]
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True)


def snakemake_dry_run(*args):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", "--nolock", *args],
        cwd=ROOT, capture_output=True, text=True,
    )


def overlay(tmp_path, **settings):
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def refusal_line(text, value):
    """The one line of `text` that refuses `value` as results_dir (None when there is none)."""
    for line in text.splitlines():
        if f"config key 'results_dir' is {value!r}: " in line:
            return line
    return None


def refused(cfg, value):
    """validate_config's one-line message refusing results_dir `value` in `cfg`."""
    cfg = copy.deepcopy(cfg)
    cfg["results_dir"] = value
    with pytest.raises(UserError) as exc:
        validate_config(cfg)
    message = str(exc.value)
    assert "\n" not in message and refusal_line(message, value) == message, message
    assert "set results_dir to a new or empty folder" in message
    return message


@pytest.mark.parametrize("kind", ["command", "space"])
def test_a_results_dir_with_shell_syntax_or_a_space_is_refused_before_anything_runs(tmp_path, kind):
    """`$(touch ...)` would run when a job's shell command is built, a space would split the path
    (`> {log}` truncating a file outside the results folder): `videolstm check` and the workflow
    both stop with one line naming the key, the value and what to do; nothing is made."""
    pwned = tmp_path / "PWNED"
    value = (f"{tmp_path}/x$(touch {pwned})" if kind == "command" else f"{tmp_path}/my results")
    bad = " $()" if kind == "command" else " "  # the characters the message names
    path = overlay(tmp_path, results_dir=value)

    proc = videolstm("check", "--configfile", str(path))
    line = refusal_line(proc.stderr, value)
    assert proc.returncode == 2 and line, proc.stdout + proc.stderr
    assert line.startswith("error: invalid configuration in ") and str(path) in line
    assert f"contains {bad!r}, but only letters, digits and _ - . / are allowed" in line
    assert "set results_dir to a new or empty folder" in line and "e.g. results-mine" in line
    assert proc.stderr.strip() == line  # one line, no traceback

    proc = snakemake_dry_run("--configfile", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert refusal_line(out, value), out[-3000:]
    assert "Shell command" not in out and "Job stats" not in out  # stopped before planning
    assert not pwned.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay.yaml"], list(tmp_path.iterdir())


def test_the_root_an_unrelated_folder_and_unsafe_names_are_refused_results_folders_accepted(
        base_config, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # relative results folders are taken from where snakemake runs
    assert "file system root" in refused(base_config, "/")
    assert "file system root" in refused(base_config, "//")
    assert "'..' part" in refused(base_config, f"{tmp_path}/../elsewhere")
    assert "'..' part" in refused(base_config, "../results")
    assert "starts with '-'" in refused(base_config, "-rf")
    assert "is empty" in refused(base_config, "")
    assert "current folder itself" in refused(base_config, ".")
    for value in ("results;rm", "results'x", "results\nx", "~/results", "results*"):
        assert "only letters, digits and _ - . / are allowed" in refused(base_config, value)

    unrelated = tmp_path / "home"
    unrelated.mkdir()
    (unrelated / "thesis.tex").write_text("years of work\n")
    message = refused(base_config, str(unrelated))
    assert "exists, is not empty and is not a results folder of this workflow" in message
    assert "tables" in message and "logs" in message
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x\n")
    assert "not a folder" in refused(base_config, str(a_file))
    # through the command a user runs, too
    proc = videolstm("check", "--configfile", str(overlay(tmp_path, results_dir=str(unrelated))))
    assert proc.returncode == 2 and refusal_line(proc.stderr, str(unrelated)), proc.stderr
    assert (unrelated / "thesis.tex").read_text() == "years of work\n"

    # accepted: the shipped results folders (populated), an earlier run's, an empty and a new one
    earlier = tmp_path / "earlier"
    (earlier / "logs").mkdir(parents=True)
    (earlier / "logs" / "x.log").write_text("")
    (tmp_path / "empty").mkdir()
    for value in ("results", "results-cpu", "results/", "./results-cpu", str(earlier),
                  str(tmp_path / "empty"), str(tmp_path / "new" / "r_1.v-2"), "results-mine"):
        cfg = copy.deepcopy(base_config)
        cfg["results_dir"] = value
        validate_config(cfg)
    proc = videolstm("check", "--configfile",
                     str(overlay(tmp_path, results_dir=str(tmp_path / "fresh"))))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "fresh").exists()  # the check writes nothing


def shell_strings(path):
    """(rule, command) of every `shell:` directive of a .smk file: the string literals indented
    under it, concatenated as Python does."""
    lines = path.read_text().splitlines()
    found, rule = [], None
    for i, line in enumerate(lines):
        m = re.match(r"(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
        if line.strip() != "shell:":
            continue
        indent = len(line) - len(line.lstrip())
        parts = []
        for nxt in lines[i + 1:]:
            if not nxt.strip() or len(nxt) - len(nxt.lstrip()) <= indent:
                break
            parts.append(nxt.strip())
        source = " ".join(parts)
        assert re.match(r"^(\"|')", source), f"{path.name} rule {rule}: shell is not a plain string"
        found.append((rule, ast.literal_eval(f"({source})")))
    assert len(found) == path.read_text().count("shell:"), path
    return found


def test_every_shell_command_quotes_what_it_substitutes():
    """Static: in every `shell:` of workflow/rules/*.smk each path (input, output, log, params,
    and the wildcards inside paths) is substituted with `:q`, so Snakemake shell-quotes it; only
    numbers ({threads}, {resources.*}) go unquoted. Arguments filled by several paths are lists
    (quoted item by item), never pre-joined strings."""
    commands = [(p.name, rule, cmd) for p in RULES for rule, cmd in shell_strings(p)]
    assert len(commands) >= 20
    unquoted = []
    for name, rule, cmd in commands:
        for _, field, spec, _ in string.Formatter().parse(cmd):
            if field is None or field == "threads" or field.startswith("resources."):
                continue
            if not (spec or "").endswith("q"):
                unquoted.append(f"{name} rule {rule}: {{{field}{':' + spec if spec else ''}}}")
    assert not unquoted, "substituted without :q: " + ", ".join(unquoted)


def test_a_dataset_root_with_a_space_reaches_each_command_as_one_argument(tmp_path):
    """Dataset roots are the user's folders and may hold spaces: the rules that pass them in
    argument lists (clips, percepts, flow) quote them too, as `index` and `patches` did."""
    root = tmp_path / "my videos"
    path = overlay(tmp_path, results_dir=str(tmp_path / "r"),
                   datasets={"ucf101": {"root": str(root)}, "unlabelled": {"root": str(root)}})
    proc = snakemake_dry_run("--forceall", "--configfile", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    commands = [line for line in out.splitlines() if line.startswith("Shell command: ")]
    using = [c for c in commands if str(root) in c]
    assert {c.split()[3] for c in using} >= {"index", "clips", "patches", "percepts", "flow"}, using
    for cmd in using:
        assert f"'{root}'" in cmd and f" {root} " not in cmd, cmd
