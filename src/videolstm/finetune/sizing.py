"""Device memory of a bank of LSTM classifiers trained together: what the scheduler declares for a
fine-tuning job (videolstm.job_resources) and what the job keeps free for its bank when it
decides whether a percept table can be resident (finetune.sweep), one rule for both."""

from __future__ import annotations

from videolstm.counts import classifier_counts
from videolstm.finetune.runs import SHUFFLED, SINGLE_FRAME
from videolstm.memory import OPT_STATES


def bank_bytes(dim: int, hidden: int, layers: int, classes: int, lstm: dict, runs: int,
               validated: bool, test_blocks: float = 0) -> int:
    """Device bytes of `runs` LSTM classifiers trained together (finetune.engine): parameters,
    gradients, optimiser states and, when validated, each run's best parameters; the larger of a
    training step's saved activations and an evaluation chunk's; the block probabilities of the
    `test_blocks` test blocks. Also what the fine-tuning job keeps free for its bank when it
    decides whether a percept table can be resident."""
    block, batch = int(lstm["block"]), int(lstm["batch_size"])
    step = classifier_counts(dim, hidden, layers, classes, block, batch)
    states = 2 + OPT_STATES.get(lstm.get("optimizer", "adam"), 2) + (1 if validated else 0)
    train_act = runs * (step["saved"] + block * batch * dim * 4)
    eval_act = runs * int(lstm.get("eval_chunk", 512)) * block * (5 * hidden + dim) * 4
    probs = runs * test_blocks * classes * 4
    return int(runs * step["params"] * 4 * states + max(train_act, eval_act) + probs)


def group_sizes(ft: dict, runs: list) -> dict[str, int]:
    """Per stream, the most LSTM classifiers trained at once (finetune.sweep trains single-frame,
    shuffled and the other runs as separate groups, each in chunks of max_runs_together)."""
    groups: dict[tuple, int] = {}
    for r in runs:
        if r.init != SINGLE_FRAME:
            key = (r.stream, r.init == SHUFFLED)
            groups[key] = groups.get(key, 0) + 1
    out: dict[str, int] = {}
    for (stream, _), n in groups.items():
        out[stream] = max(out.get(stream, 0), min(int(ft["max_runs_together"]), n))
    return out
