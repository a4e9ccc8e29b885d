"""Which outputs belong to one split: everything made with the labels of a split's training videos.

The flow percepts (kinds `flow`, `flowstack`) are fc6 activations of a temporal-stream CNN trained
with labels, so each split has its own CNN, trained on that split's training videos only, and its
own flow percepts `percepts/<dataset>/<kind>_split<N>` (UCF-101's split-2 and split-3 test videos
are split-1 training videos: one shared CNN would have seen them). A pretraining domain whose
`data.arrays` name `{split}` is trained once per split, as domain `<domain>_split<N>`, on that
split's arrays (and, with `data.videos: train`, on the split's training videos only).
RGB percepts come from a network that never saw these datasets' labels and are shared.
"""

from __future__ import annotations

import re

SPLIT_SCOPED_KINDS = ("flow", "flowstack")
SPLIT_FIELD = "{split}"
_SCOPED = re.compile(r"(?P<base>.+)_split(?P<split>[123])")


def scoped_name(base: str, split: int | str) -> str:
    """`<base>_split<N>`: the name of a per-split pretraining domain, flow percepts or temporal
    CNN (`parse_domain` reads it back)."""
    return f"{base}_split{split}"


def percept_name(kind: str, split: int | str) -> str:
    """The file stem of a dataset's percepts of `kind` as used for `split`."""
    return scoped_name(kind, split) if kind in SPLIT_SCOPED_KINDS else kind


def percept_kind(name: str) -> str:
    """The kind of a percept file stem: `flow_split2` -> `flow`, `rgb` -> `rgb`."""
    return name.split("_split")[0]


def is_split_scoped(settings: dict) -> bool:
    return any(SPLIT_FIELD in str(s) for s in (settings.get("data") or {}).get("arrays") or [])


def parse_domain(domain: str) -> tuple[str, int | None]:
    """`percepts_flow_split2` -> (`percepts_flow`, 2); `mnist` -> (`mnist`, None)."""
    m = _SCOPED.fullmatch(domain)
    return (m["base"], int(m["split"])) if m else (domain, None)


def split_arrays(arrays: list[str], split: int | None, domain: str) -> list[str]:
    """A domain's array stems for one split (`{split}` filled in)."""
    from videolstm.errors import UserError

    scoped = any(SPLIT_FIELD in a for a in arrays)
    if scoped and split is None:
        raise UserError(f"pretrain.{domain}.data.arrays name {SPLIT_FIELD}: the domain is trained "
                        f"per split, as {scoped_name(domain, 1)}, {scoped_name(domain, 2)}, ...")
    if split is not None and not scoped:
        raise UserError(f"pretrain domain {scoped_name(domain, split)}: pretrain.{domain}.data.arrays do "
                        f"not name {SPLIT_FIELD}, so the domain is not trained per split")
    return [a.replace(SPLIT_FIELD, str(split)) for a in arrays]
