# Shared helpers of the rule files: configuration validation, config sections as JSON for
# `params:` (so Snakemake's params trigger reruns a step when its settings change), run lists.
import json
from dataclasses import asdict

from snakemake.utils import validate

from videolstm.config import SCHEMA_PATH, validate_config
from videolstm.train import labreport_domain, resolve_run

# our validator first: it names a mistyped key and the closest allowed one
validate_config(config, source="the workflow configuration")
validate(config, str(SCHEMA_PATH))

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
CONDA_ENV = "../../envs/videolstm.yaml"


wildcard_constraints:
    domain=r"[a-z_]+",
    run=r"[A-Za-z0-9_]+",
    dataset=r"[a-z0-9_]+",


def cfg_json(*keys):
    """JSON of the named top-level config sections (plus the run identity), for a rule's params."""
    picked = {key: config.get(key) for key in keys}
    picked["config_name"] = config["config_name"]
    picked["data_source"] = config["data_source"]
    picked["seed"] = config["seed"]
    picked["device"] = config.get("device", "auto")
    return json.dumps(picked, sort_keys=True)


def pretrain_runs(domain):
    """Names of the configured pretraining runs of a domain (mnist, patches, percepts_rgb, ...)."""
    if domain == "labreport":
        return sorted(labreport_domain(config["pretrain"])["runs"])
    return sorted(config["pretrain"].get(domain, {}).get("runs", {}))


def pretrain_cfg_json(wildcards):
    """Only what one run depends on, so editing one run's settings reruns only that run."""
    variant, train, settings = resolve_run(config["pretrain"], wildcards.domain, wildcards.run)
    picked = {
        "pretrain": {
            "defaults": asdict(train),
            wildcards.domain: {**settings, "runs": {wildcards.run: {"variant": variant}}},
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


def pretrain_inputs(wildcards):
    """Frame arrays an array domain trains on (none for Moving MNIST, generated on the fly)."""
    if wildcards.domain in ("mnist", "labreport"):
        return {}
    stems = config["pretrain"][wildcards.domain].get("data", {}).get("arrays", [])
    return {
        "arrays": [f"{RESULTS}/{s}.npy" for s in stems],
        "offsets": [f"{RESULTS}/{s}.offsets.npy" for s in stems],
    }


def pretrain_targets(domain):
    return [f"{RESULTS}/pretrain/{domain}/{run}/final.pt" for run in pretrain_runs(domain)]


def mnist_targets():
    return (
        [f"{RESULTS}/data/moving_mnist/test.npy"]
        + pretrain_targets("mnist")
        + pretrain_targets("labreport")
    )


def all_targets():
    targets = list(mnist_targets())
    for extra in OPTIONAL_TARGETS:
        targets.extend(extra())
    return targets


# rule files of later phases append callables returning their final targets
OPTIONAL_TARGETS = []
