"""The pretraining domains' fixed settings and the lab report's runs, without torch: the
configuration's validation (videolstm.config), the job catalogue and training all read them."""

from __future__ import annotations

DOMAIN_DEFAULTS = {
    "mnist": {"n_in": 10, "n_recon": 10, "n_future": 10, "output": "sigmoid"},
    "labreport": {"n_in": 10, "n_recon": 10, "n_future": 10, "output": "sigmoid"},
    "patches": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
    "percepts_rgb": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
    "percepts_flow": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
    "percepts_flowstack": {"n_in": 16, "n_recon": 16, "n_future": 13, "output": "linear"},
}


def labreport_domain(pretrain: dict) -> dict:
    """The lab report's runs on Moving MNIST: FC autoencoders of each hidden size and a ConvLSTM.

    Frames as pretrain.mnist; settings from pretrain.defaults and pretrain.labreport.train only
    (never pretrain.mnist.train: the lab report trained its own way, RMSProp).
    """
    lab = pretrain.get("labreport", {})
    runs = {f"fc{h}": {"variant": "autoencoder", "train": {"hidden": h}} for h in lab.get("hidden_sizes", [])}
    runs["convlstm"] = {"variant": "convlstm"}
    mnist = pretrain.get("mnist", {})
    return {**{k: v for k, v in mnist.items() if k not in ("runs", "train")},
            "train": dict(lab.get("train", {})), "runs": runs}


def domain_frames(cfg: dict, domain: str) -> tuple[int, int]:
    """(n_in, n_future) of a pretraining domain: its defaults overridden by pretrain.<domain>."""
    dom = {**DOMAIN_DEFAULTS[domain], **(cfg.get("pretrain", {}).get(domain) or {})}
    return int(dom["n_in"]), int(dom["n_future"])
