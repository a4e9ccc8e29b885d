"""Checkpoints come from shared DVC remotes: loading one must never execute code."""

import numpy as np
import pytest

from videolstm import checkpoint
from videolstm.errors import UserError
from videolstm.video import temporal_cnn


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # what a hostile file would do on unpickling
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("loader", [checkpoint.load, temporal_cnn.load_model])
def test_a_hostile_pickle_is_refused_and_its_payload_never_runs(tmp_path, loader):
    import torch

    marker = tmp_path / "payload-ran"
    bad = tmp_path / "last.pt"
    torch.save({"format": checkpoint.FORMAT, "config": {}, "state_dict": {}, "x": Payload(marker)}, bad)
    marker.unlink(missing_ok=True)  # torch.save pickles the object; only loading must not run it
    with pytest.raises(UserError, match="refused without running them"):
        loader(bad)
    assert not marker.exists()


def test_a_truncated_checkpoint_is_one_clear_error(tmp_path):
    import torch

    good = tmp_path / "good.pt"
    torch.save({"format": checkpoint.FORMAT, "state_dict": {}}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:40])
    with pytest.raises(UserError, match="cannot be read"):
        checkpoint.load(cut)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="cannot be read"):
        temporal_cnn.load_model(empty)


@pytest.mark.parametrize("content", [b"frame,value\n1,0.5\n", b"\x93NUMPY\x01\x00v\x00{'descr'"])
def test_a_file_that_is_not_an_npy_array_gets_one_clear_line(tmp_path, content):
    """A text file named .npy, or a truncated one: no numpy advice to allow pickles."""
    from videolstm.data_sources import open_frames

    np.save(tmp_path / "x.offsets.npy", np.array([0, 2], np.int64))
    (tmp_path / "x.npy").write_bytes(content)
    with pytest.raises(UserError) as err:
        open_frames(tmp_path / "x")
    assert "x.npy" in str(err.value) and "pickle" not in str(err.value).split("(")[0]
    assert "allow_pickle" not in str(err.value)
