# Shared helpers of the workflow: configuration validation, each job's resolved settings as a file
# input (so a job reruns when its settings change), run lists and phase targets.
import json
import os
from dataclasses import asdict
from types import SimpleNamespace

from snakemake.logging import logger
from snakemake.utils import validate

from videolstm import catalogue
from videolstm.check import onstart_check
from videolstm.config import SCHEMA_PATH, results_dir_unwritable, validate_config
from videolstm.environment import put_python_bin_first
from videolstm.errors import UserError
from videolstm.io import atomic_write_text
from videolstm.job_resources import rule_resource
from videolstm.pretrain_settings import resolve_run
from videolstm.video import workflow as video_wf
from videolstm.video.scope import parse_domain

# jobs find `videolstm` beside the Python running Snakemake (no need to activate .venv)
put_python_bin_first()

# our validator first: it names a mistyped key and the closest allowed one (one line per
# problem, no traceback: SystemExit stops Snakemake with just the message)
try:
    validate_config(config, source="the workflow configuration")
except UserError as exc:
    raise SystemExit(f"error: {exc}") from None
validate(config, str(SCHEMA_PATH))

RESULTS = config.get("results_dir", "results")
if results_dir_unwritable(RESULTS):  # also on a dry run: a real run could not write anything
    raise SystemExit(f"error: {results_dir_unwritable(RESULTS)}")
# which halves of the paper this configuration runs (config key `parts`; default all)
PARTS = catalogue.parts(config)
VIDEO_DOMAINS = catalogue.VIDEO_DOMAINS
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
CONDA_ENV = "../../envs/videolstm.yaml"


def job_resource(rule, key, fixed):
    """A model rule's resource: `fixed`, or per job from its model shapes (resources.from_plan)."""
    return rule_resource(config, rule, key, fixed)


def job_runtime(fixed):
    """Time limit (minutes) of a data or evaluation rule: `fixed` (embedded and CPU scale), or
    the configured resources.runtime_min when jobs are sized for paper scale."""
    res = config.get("resources") or {}
    return int(res["runtime_min"]) if res.get("from_plan") else fixed


def cfg_json(*keys):
    """JSON of the named top-level config sections (plus the run identity)."""
    picked = {key: config[key] for key in keys if key in config}
    picked["config_name"] = config["config_name"]
    picked["data_source"] = config["data_source"]
    picked["seed"] = config["seed"]
    picked["device"] = config.get("device", "auto")
    return json.dumps(picked, sort_keys=True)


# The resolved settings of each job are a file under results/configs/ that the job takes as an
# input and its command reads (`--cfg FILE`): a person can open it and rerun the command printed
# by `snakemake -n -p`. It is rewritten only when its content changes, so its modification time
# reruns exactly the jobs whose settings changed, also in a clone restored by `dvc pull` + `make
# pulled`, where Snakemake has no record of the settings the outputs were made with.
# Every settings file of the configuration is written at once, when Snakemake plans its first
# job, whichever targets are asked (each written while its own job was planned, a second
# target's file was missed by Snakemake's cache of the folder: MissingInputException). Reading
# the workflow (--lint, --list-rules) writes nothing, nor does a dry run: there a missing file is
# a job of rule `settings` (settings.smk), and a changed one a forced job of it, so that
# `snakemake -n` lists the jobs a real run redoes.
CONFIGS = f"{RESULTS}/configs"
DRY_RUN = bool(workflow.output_settings.dryrun)
WRITE_SETTINGS = not DRY_RUN and workflow.is_main_process  # not in a cluster job's own Snakemake
SETTINGS = {}  # name -> content of each settings file of this configuration
SETTINGS_WRITTEN = []  # [True] once every settings file is written


def settings_path(name):
    return f"{CONFIGS}/{name}.json"


def settings_file(name, text):
    """Input function of settings file `name` (its content `text`, JSON) for a rule's `cfg`."""
    SETTINGS[name] = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"

    def settings_input(wildcards):
        write_all_settings()
        return settings_path(name)

    return settings_input


def write_all_settings():
    """Write every changed settings file, once (see plan_settings)."""
    if not SETTINGS_WRITTEN:
        SETTINGS_WRITTEN.append(True)
        plan_settings(sorted(SETTINGS))


def plan_settings(names):
    """Write each changed or missing settings file of `names`; a dry run writes none but plans
    a forced job of `settings` for each (Snakemake would not redo a job for a changed file, nor
    for a missing one whose readers' outputs exist, where a run would write it and redo them)."""
    for name in names:
        if not settings_changed(name):
            continue
        if WRITE_SETTINGS:
            try:
                write_settings(name, settings_path(name))
            except OSError as exc:  # one line, no traceback
                raise SystemExit(f"error: cannot write the settings file {settings_path(name)} "
                                 f"({exc.strerror or exc}); free disk space or make the results "
                                 "folder writable. Nothing was run") from None
        elif DRY_RUN:
            if os.path.isfile(settings_path(name)):
                logger.info(f"settings changed: {settings_path(name)} (a run rewrites it and "
                            "redoes the jobs that read it)")
            workflow.dag.forcefiles.add(settings_path(name))


def settings_changed(name):
    """The settings file `name` is missing or holds other settings than this configuration's."""
    if not os.path.isfile(settings_path(name)):
        return True
    with open(settings_path(name), encoding="utf-8") as fh:
        return fh.read() != SETTINGS[name]


def write_settings(name, path):
    """Write settings file `name` to `path` (when planning, or as the job of `settings`)."""
    if name not in SETTINGS:  # only rule `settings` asks for a name (a target given by hand)
        raise ValueError(f"{path} is not a settings file of this configuration (it has "
                         f"{len(SETTINGS)}, e.g. {settings_path(min(SETTINGS))})")
    atomic_write_text(path, SETTINGS[name])


def cfg_file(*keys):
    """Input function of the file of cfg_json(*keys), shared by every job reading those sections."""
    return settings_file("_".join(keys) or "run", cfg_json(*keys))


def pretrain_runs(domain):
    """Names of the pretraining runs of a domain (mnist, patches, ...) this configuration trains."""
    return sorted({j.wildcards["run"] for j in PRETRAIN_JOBS if domain_of(j) == domain})


def domain_of(job):
    return parse_domain(job.wildcards["domain"])[0]


def pretrain_cfg_json(wildcards):
    """Only what one run depends on, so editing one run's settings reruns only that run."""
    variant, train, settings = resolve_run(config["pretrain"], wildcards.domain, wildcards.run)
    base, split = parse_domain(wildcards.domain)
    if split is not None:  # a per-split domain: the command fills in {split} itself
        raw = config["pretrain"][base]
        settings = {k: v for k, v in raw.items() if k not in ("runs", "train")}
    picked = {
        "pretrain": {
            "defaults": asdict(train),
            base: {**settings, "runs": {wildcards.run: {"variant": variant}}},
        },
        "config_name": config["config_name"],
        "data_source": config["data_source"],
        "device": config.get("device", "auto"),
        "seed": config["seed"],
    }
    if wildcards.domain in ("mnist", "labreport"):
        picked["mnist"] = config["mnist"]
        picked["pretrain"]["labreport"] = config["pretrain"].get("labreport", {})
    return json.dumps(picked, sort_keys=True)


def pretrain_cfg_file(wildcards):
    name = f"pretrain/{wildcards.domain}/{wildcards.run}"
    if name not in SETTINGS:  # not a configured run (those are known when the workflow is read)
        settings_file(name, pretrain_cfg_json(wildcards))
        if SETTINGS_WRITTEN:  # the others are written already
            plan_settings([name])
    write_all_settings()
    return settings_path(name)


def pretrain_inputs(wildcards):
    """Frame arrays an array domain trains on (none for Moving MNIST, generated on the fly)."""
    return catalogue.pretrain_job(config, RESULTS, wildcards.domain, wildcards.run).inputs


def pretrain_targets(domain):
    jobs = [j for j in PRETRAIN_JOBS if domain_of(j) == domain]
    return [j.outputs["final"] for j in sorted(jobs, key=lambda j: (j.wildcards["domain"], j.wildcards["run"]))]


def mnist_targets():
    if not PARTS & {"mnist", "labreport"}:
        return []
    return (
        [f"{RESULTS}/data/moving_mnist/test.npy"]
        + pretrain_targets("mnist")
        + pretrain_targets("labreport")
        + mnist_result_targets()
    )


def all_targets():
    targets = list(mnist_targets())
    if "video" in PARTS:  # action recognition and everything it needs
        for extra in OPTIONAL_TARGETS:
            targets.extend(extra())
    return targets + claims_targets()


# --- The paper's claims, checked (workflow/rules/claims.smk) ------------------------------


def claims_targets():
    return [f"{RESULTS}/tables/claims.{e}" for e in ("csv", "md")] + [
        f"{RESULTS}/tables/claims_summary.md"
    ]


def claims_inputs(wildcards):
    """What the configured parts produce that a claim reads: the tables and figure data, and
    the evaluations holding per-sequence losses (for paired standard errors)."""
    made = set(all_targets()) - set(claims_targets())
    files = [
        f"{RESULTS}/{p}"
        for p in (
            "tables/table1.csv", "tables/table2.csv", "tables/table3.csv", "tables/table4.csv",
            "tables/labreport.csv", "figures/figure12.csv", FIGURE_CHECKS,
            "tables/percept_pretraining.csv",
        )
        if f"{RESULTS}/{p}" in made
    ]
    if f"{RESULTS}/tables/table2.csv" in made:
        files += table2_mnist_evals() + table2_baseline_files()
        files += [f"{RESULTS}/eval/patches/{r}.json" for r in table2_patches_runs()]
    if f"{RESULTS}/tables/labreport.csv" in made:
        files += labreport_inputs(wildcards)["evals"]
    return files


def claims_stem(wildcards, output):
    """OUT of `videolstm claims --out OUT` (it writes OUT.csv and OUT.md)."""
    return output.csv[: -len(".csv")]


# rule files of later phases append callables returning their final targets
OPTIONAL_TARGETS = []


# --- Moving MNIST results (workflow/rules/paper.smk) ---------------------------------------
from videolstm.tables import TABLE2_RUNS

MNIST_SETS = f"{RESULTS}/data/moving_mnist"


def table2_runs():
    """Configured Moving MNIST runs that fill Table 2's rows."""
    return [r for r in TABLE2_RUNS if r in pretrain_runs("mnist")]


def table2_mnist_evals():
    return [f"{RESULTS}/eval/mnist/{r}.json" for r in table2_runs()]


# Arguments that several paths fill are lists: the rules quote each item (`{params.x:q}`).
def table2_mnist_args():
    return [f"{r}={RESULTS}/eval/mnist/{r}.json" for r in table2_runs()]


def table2_patches_runs():
    """Patches runs of Table 2 (rule patches_eval writes results/eval/patches/{run}.json)."""
    return [r for r in TABLE2_RUNS if r in pretrain_runs("patches")]


def table2_inputs(wildcards):
    return {
        "mnist": table2_mnist_evals(),
        "patches": [f"{RESULTS}/eval/patches/{r}.json" for r in table2_patches_runs()],
        "baselines": table2_baseline_files(),
    }


def table2_baseline_files():
    """The 'no learning' rows of Table 2: Moving MNIST always, patches when patches are run."""
    files = [f"{RESULTS}/eval/baselines/mnist.json"]
    if table2_patches_runs():
        files.append(f"{RESULTS}/eval/baselines/patches.json")
    return files


def table2_baseline_args(wildcards):
    args = ["--mnist-baselines", f"{RESULTS}/eval/baselines/mnist.json"]
    if table2_patches_runs():
        args += ["--patches-baselines", f"{RESULTS}/eval/baselines/patches.json"]
    return args


def baselines_cfg_json(domain):
    """What a baselines step depends on: the digits and generator (mnist) and n_in / n_future."""
    picked = json.loads(cfg_json("mnist") if domain == "mnist" else cfg_json())
    dom = config["pretrain"].get(domain) or {}  # the command fills in the domain's defaults
    picked["pretrain"] = {domain: {k: dom[k] for k in ("n_in", "n_future") if k in dom}}
    return json.dumps(picked, sort_keys=True)


def baselines_cfg_file(domain):
    return settings_file(f"baselines_{domain}", baselines_cfg_json(domain))


def table2_patches_args(wildcards):
    runs = table2_patches_runs()
    if not runs:
        return []
    return ["--patches-eval", *(f"{r}={RESULTS}/eval/patches/{r}.json" for r in runs)]


def labreport_inputs(wildcards):
    runs = pretrain_runs("labreport")
    return {
        "evals": [f"{RESULTS}/eval/labreport/{r}.json" for r in runs],
        "ckpts": [f"{RESULTS}/pretrain/labreport/{r}/final.pt" for r in runs],
        "test": f"{MNIST_SETS}/test.npy",
    }


def labreport_args():
    runs = pretrain_runs("labreport")
    evals = [f"{r}={RESULTS}/eval/labreport/{r}.json" for r in runs]
    ckpts = [f"{r}={RESULTS}/pretrain/labreport/{r}/final.pt" for r in runs]
    return ["--eval", *evals, "--checkpoint", *ckpts]


def figure_runs():
    """The run behind each figure role; without a composite_1layer run, the composite (the
    embedded config's composite has 1 layer)."""
    runs = pretrain_runs("mnist")
    one_layer = "composite_1layer" if "composite_1layer" in runs else "composite"
    return {"composite_1layer": one_layer, "composite": "composite", "composite_cond": "composite_cond"}


def figure_checkpoints():
    return sorted({f"{RESULTS}/pretrain/mnist/{r}/final.pt" for r in figure_runs().values()})


def figure_checkpoint_args():
    return [f"{role}={RESULTS}/pretrain/mnist/{r}/final.pt" for role, r in figure_runs().items()]


def mnist_result_targets():
    """Tables and figures of the Moving MNIST half of the paper (what the config can make)."""
    targets = []
    if table2_runs():
        targets += [f"{RESULTS}/tables/table2.{e}" for e in ("csv", "md", "tex")]
        targets += [f"{RESULTS}/tables/moving_mnist_protocol.{e}" for e in ("csv", "md", "tex")]
    if pretrain_runs("labreport"):
        targets += [f"{RESULTS}/tables/labreport.{e}" for e in ("csv", "md", "tex")]
        targets.append(f"{RESULTS}/figures/labreport_reconstructions.png")
    if all(r in pretrain_runs("mnist") for r in figure_runs().values()):
        targets += [f"{RESULTS}/figures/{n}" for n in MNIST_FIGURES]
        targets.append(f"{RESULTS}/{FIGURE_CHECKS}")
    return targets


# Figures 7 and 8 as numbers (rule mnist_figure_checks), read by the claims
FIGURE_CHECKS = "eval/figures/mnist_checks.json"


def figure_check_checkpoint():
    return f"{RESULTS}/pretrain/mnist/{figure_runs()['composite_1layer']}/final.pt"


MNIST_FIGURES = (
    "figure5.png", "figure7.png", "figure8.png", "figure9.png", "figure10.png", "prediction.gif"
)


def output_dir(wildcards, output):
    """Folder of a rule's first output (a params helper; no hard-coded output prefixes)."""
    return os.path.dirname(output[0])


# Phases: one target rule per DVC stage (phases.smk). A phase's targets are the final targets
# under its folders, so a rule file lists its outputs once (OPTIONAL_TARGETS or mnist_targets).
PHASE_DIRS = catalogue.PHASE_DIRS


def paper_tables(wildcards=None):
    """Every table CSV of the paper among the final targets (the claims and the controls are
    verdicts, percept_pretraining and probes checks of the encoders, not table cells of the
    paper): DVC's metrics are collected from them."""
    verdicts = set(claims_targets()) | {f"{RESULTS}/tables/{name}.csv" for name in (
        "controls", "percept_pretraining", "probes")}
    return sorted(
        t
        for t in all_targets()
        if t.startswith(f"{RESULTS}/tables/") and t.endswith(".csv") and t not in verdicts
    )


def phase_targets(phase):
    prefixes = tuple(f"{RESULTS}/{d}/" for d in PHASE_DIRS[phase])
    return sorted(t for t in all_targets() if t.startswith(prefixes))


def results_root(wildcards):
    """Root of the arrays a pretraining run reads (paths in the config are relative to it)."""
    return RESULTS


def array_stem(wildcards, input):
    """STEM of an input STEM.npy (the CLI reads STEM.npy and STEM.offsets.npy)."""
    return input.arrays[: -len(".npy")]


# Outputs that later phases would otherwise build inside an earlier stage's folder: every
# pretrained encoder belongs to the pretrain stage, and the video pipeline's intermediates
# (clips, the digit CNN, flow fields, temporal CNNs) to the data stage (tests/test_dvc_remote.py
# checks this).
def array_pretrain_targets():
    return [t for d in VIDEO_DOMAINS for t in pretrain_targets(d)]


def video_intermediates():
    from videolstm.video import workflow as vw

    flow_datasets, cnns = vw.flow_consumers(config)
    out = [f"{RESULTS}/data/clips/unlabelled.csv"]
    out += vw.rgb_weights_input(config, RESULTS)  # the digit CNN, when it is the extractor
    out += [f"{RESULTS}/data/flow/{d}.npy" for d in flow_datasets]
    out += [f"{RESULTS}/data/temporal_cnn/{c}.pt" for c in cnns]
    return out


def percept_pretrain_summaries(wildcards=None):
    """summary.json of every run pretrained on percepts (each records its held-out baselines)."""
    stems = tuple(f"{RESULTS}/pretrain/{d}" for d in VIDEO_DOMAINS if d.startswith("percepts_"))
    return sorted(t[: -len("final.pt")] + "summary.json" for t in array_pretrain_targets()
                  if t.startswith(stems))


OPTIONAL_TARGETS.append(array_pretrain_targets)
OPTIONAL_TARGETS.append(video_intermediates)


# every configured pretraining run's settings, known before Snakemake plans any job (see CONFIGS
# above), whatever the parts; and the runs this configuration trains (videolstm.catalogue)
try:
    for _job in catalogue.pretrain_jobs(config, RESULTS, configured=True):
        settings_file(_job.settings, pretrain_cfg_json(SimpleNamespace(**_job.wildcards)))
    PRETRAIN_JOBS = catalogue.pretrain_jobs(config, RESULTS)
except UserError as exc:
    raise SystemExit(f"error: {exc}") from None
