"""The JSON a measurement tool leaves under benchmarks/: its command, model and machine, then its data."""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path


def write_report(path: Path, tool: str, argv, codec, **fields) -> dict:
    """Write ``{"command", "model", "weights_sha256", "machine", **fields}`` to ``path`` (folders made).
    ``argv`` is what the tool parsed (None: sys.argv[1:]), ``codec`` the loaded model."""
    import torch

    args = list(argv) if argv is not None else sys.argv[1:]
    out = {"command": " ".join(["python", tool, *args]), "model": codec.name, "weights_sha256": codec.weights_hash,
           "machine": {"host": platform.node(), "cores": os.cpu_count(), "torch": torch.__version__}, **fields}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out
