"""Parametrisation helpers: every (backend, device) an op can run on in this process."""
import pytest
import torch


def cases(op):
    """pytest params of (backend, device) for every non-reference backend of ``op``.

    Unavailable ones are kept as skips carrying the dispatcher's reason, so the test report
    says which backends were checked here and why the others were not.
    """
    out = []
    devs = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for backend in ("cpu", "cuda", "triton"):
        if backend not in op.impls:
            continue
        for dev in devs:
            if backend == "cpu" and dev != "cpu" or backend == "cuda" and dev != "cuda":
                continue
            why = op.reasons(dev)[backend]
            marks = [pytest.mark.skip(reason=why)] if why else []
            out.append(pytest.param(backend, dev, id=f"{backend}-{dev}", marks=marks))
        if backend == "cuda" and not torch.cuda.is_available():
            out.append(pytest.param(backend, "cuda", id="cuda-cuda",
                                    marks=[pytest.mark.skip(reason=op.reasons("cuda")["cuda"])]))
    return out
