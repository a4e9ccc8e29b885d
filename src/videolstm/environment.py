"""The workflow's jobs run `videolstm`: find it beside the Python that runs Snakemake."""

from __future__ import annotations

import os
import sys


def put_python_bin_first() -> None:
    """Prepend the running interpreter's bin folder to PATH, so `.venv/bin/snakemake` works
    without activating the environment (jobs inherit the variable)."""
    here = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != here:
        os.environ["PATH"] = here + os.pathsep + path
