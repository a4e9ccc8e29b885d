"""`videolstm mnist-data`: the fixed Moving MNIST evaluation sets (uint8, time first)."""

from __future__ import annotations

import argparse
from pathlib import Path

from videolstm.cli import parse_cfg
from videolstm.config import require


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mnist-data", help="write the fixed Moving MNIST validation/test sets")
    p.add_argument("--cfg", required=True, help="JSON with the mnist config section")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videolstm.data_sources import OOD_SEED_OFFSET, TEST_SEED_OFFSET, VALID_SEED_OFFSET, generator_from_config
    from videolstm.io import atomic_save_npy, atomic_write_json
    from videolstm.movingmnist.digits import digits_description
    from videolstm.movingmnist.generator import load_test_file

    cfg = parse_cfg(args.cfg)
    require(cfg, "mnist", "seed", "config_name")
    out = Path(args.out_dir)
    ev, seed = cfg["mnist"]["eval"], cfg["seed"]
    gen = generator_from_config(cfg, "valid")
    atomic_save_npy(out / "valid.npy", gen.dataset(ev["valid_size"], seed + VALID_SEED_OFFSET))
    test_file = ev.get("test_file")
    if test_file:  # the standard file replaces the generated test set; check it now
        test = load_test_file(test_file, gen.cfg.seq_len, gen.cfg.image_size)
        test_source = f"user file {Path(test_file).name}"
    else:
        test = generator_from_config(cfg, "test").dataset(ev["test_size"], seed + TEST_SEED_OFFSET)
        test_source = "generated"
    atomic_save_npy(out / "test.npy", test)
    for k, n in ((1, "test_1digit"), (3, "test_3digits")):  # Figure 8: out of domain
        g = generator_from_config(cfg, "test", num_digits=k)
        atomic_save_npy(out / f"{n}.npy", g.dataset(ev["ood_size"], seed + OOD_SEED_OFFSET + k))
    atomic_write_json(out / "sets.json", {
        "layout": "uint8 (T, N, 64, 64), time first", "test_source": test_source,
        "valid": ev["valid_size"], "test": int(test.shape[1]), "ood": ev["ood_size"],
        "generator": gen.cfg.__dict__, "config_name": cfg["config_name"],
        "digits": digits_description(cfg["mnist"].get("digits", {})),
    })
    return 0
