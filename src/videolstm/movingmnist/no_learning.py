"""What 'no learning' scores on a Moving MNIST set: the trivial baselines of Table 2 and the
protocol table, with the mean frame taken from generated training sequences."""

from __future__ import annotations

from videolstm.errors import UserError


def mnist_baselines(cfg: dict, test_path: str) -> dict:
    """The baselines JSON for the set at `test_path` (cfg: mnist, seed, pretrain.mnist)."""
    from videolstm.baselines import image_baselines, mean_frame
    from videolstm.config import require
    from videolstm.data_sources import BASELINE_SEED_OFFSET, generator_from_config
    from videolstm.domains import domain_frames
    from videolstm.evaluate import load_set
    from videolstm.movingmnist.digits import digits_description

    require(cfg, "mnist", "seed")
    n_in, n_future = domain_frames(cfg, "mnist")
    # the mean frame of training sequences (training digits only), never of the test set
    gen = generator_from_config(cfg, "train")
    test = load_set(test_path)
    size = gen.cfg.image_size
    if test.shape[2] != size or test.shape[0] < n_in + n_future:
        raise UserError(
            f"test set {test_path} holds {test.shape[0]} frames of {test.shape[2]}x{test.shape[3]} "
            f"per sequence, but the baselines need {n_in} in + {n_future} future frames of "
            f"{size}x{size} (mnist.generator, pretrain.mnist): pass the Moving MNIST set that "
            "mnist-data wrote with the same --cfg")
    train = gen.dataset(1000, cfg["seed"] + BASELINE_SEED_OFFSET)
    result = image_baselines(test, mean_frame(train), n_in, n_future)
    result.update(test_set=str(test_path), mean_frame_from="1,000 generated training sequences",
                  digits=digits_description(cfg["mnist"].get("digits", {})),
                  config_name=cfg.get("config_name"), data_source=cfg.get("data_source"))
    return result
