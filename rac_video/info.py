"""Environment report: versions, native modules, and which backend each op can use here.

``python -m rac_video.info`` or ``rac-video info`` (``--json`` for machine-readable output).
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import sys


def _version(mod: str) -> str:
    try:
        m = importlib.import_module(mod)
        return str(getattr(m, "__version__", "installed"))
    except Exception as exc:  # noqa: BLE001 — a broken optional package is a fact to report
        return f"not available ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


def collect() -> dict:
    import torch

    from . import __version__, ops
    from . import _native

    info = {
        "rac_video": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {m: _version(m) for m in ("torch", "numpy", "triton", "av", "einops", "decord", "cv2")},
        "torch_cuda": {"available": torch.cuda.is_available(), "built_with": torch.version.cuda,
                       "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]},
        "env": {k: v for k, v in os.environ.items() if k.startswith(("RAC_VIDEO_", "TRITON_INTERPRET"))},
    }
    cpu, why = _native.cpu_module()
    info["cpu_module"] = ({"loaded": True, "threads": cpu.num_threads(), "families": list(cpu.families)}
                          if cpu else {"loaded": False, "reason": why})
    cu, why = _native.load("_C_cuda")
    if cu:
        count, msg = cu.device_count()
        info["cuda_module"] = {"loaded": True, "archs": cu.archs, "cudart": cu.runtime_version,
                               "families": list(cu.families), "device_count": count, "device_error": msg}
    else:
        info["cuda_module"] = {"loaded": False, "reason": why}
    info["build"] = _native.build_status()
    info["models"] = _models()
    devices = ["cpu", "cuda"]  # cuda listed even without a GPU, so its reasons show
    info["ops"] = {name: {dev: {"chosen": op.select(dev) if not _forced_error(op, dev) else None,
                                "backends": {b: (r or "available") for b, r in op.reasons(dev).items()}}
                          for dev in devices}
                   for name, op in sorted(ops.registered_ops().items())}
    return info


def _models() -> dict:
    """Installed models from their records: hash, size and the defaults they set (K, fusion, RDOQ)."""
    from .codec.model import DEFAULT_STEPS
    from .codec.weights import DEFAULT_MODEL, available, read_record

    out = {}
    for name in available():
        try:
            r = read_record(name)
        except Exception as exc:  # noqa: BLE001 - a broken record is reported, not fatal
            out[name] = {"error": str(exc)}
            continue
        out[name] = {"default": name == DEFAULT_MODEL, "sha256": r.get("sha256", "")[:16], "bytes": r.get("bytes"),
                     "steps": r.get("steps", DEFAULT_STEPS), "posterior_fusion": r.get("posterior_fusion", 0.0),
                     "rdoq": r.get("rdoq", 0.0), "device_independent": bool(r.get("device_independent")),
                     "p_frames": bool(r.get("inter")),            # a temporal prior: --gop > 1 works
                     **({"base": r["base"]["name"]} if r.get("base") else {})}
    return out


def _forced_error(op, dev) -> bool:
    try:
        op.select(dev)
        return False
    except Exception:  # noqa: BLE001
        return True


def format_text(info: dict) -> str:
    lines = [f"rac_video {info['rac_video']}  python {info['python']}  {info['platform']}"]
    lines += [f"  {k:8s} {v}" for k, v in info["versions"].items()]
    tc = info["torch_cuda"]
    lines.append(f"  torch cuda: {'available ' + str(tc['devices']) if tc['available'] else 'not available'}")
    c = info["cpu_module"]
    lines.append("native:")
    lines.append("  cpu  (rac_video._C): " + (f"loaded, {c['threads']} OpenMP threads, families {c['families']}"
                                              if c["loaded"] else f"NOT loaded: {c['reason']}"))
    g = info["cuda_module"]
    lines.append("  cuda (rac_video._C_cuda): " + (
        f"loaded (sm {g['archs']}, cudart {g['cudart']}), families {g['families']}, "
        + (f"{g['device_count']} GPU(s)" if g["device_count"] > 0 else f"no GPU: {g['device_error']}")
        if g["loaded"] else f"NOT loaded: {g['reason']}"))
    lines.append("models (K = DDIM steps written by default, c = posterior fusion, α = RDOQ; * default; "
                 "device-independent: integer entropy networks, its files decode to the same symbols on every "
                 "device; device-dependent: float ones, files decode where the encoder's float arithmetic is "
                 "matched):")
    for name, m in info["models"].items():
        lines.append(f"  {'*' if m.get('default') else ' '} {name}: " + (
            f"sha256 {m['sha256']}…, {m['bytes'] / 1e6:.1f} MB, K = {m['steps']}, c = {m['posterior_fusion']:g}, "
            f"α = {m['rdoq']:g}, "
            + ("device-independent" if m["device_independent"] else "device-dependent")
            + (", P-frames (--gop)" if m.get("p_frames") else "")
            + (f", builds on {m['base']}" if m.get("base") else "")
            if "error" not in m else f"unreadable record: {m['error']}"))
    if info["env"]:
        lines.append("environment: " + " ".join(f"{k}={v}" for k, v in info["env"].items()))
    lines.append("ops (backend per device; chosen one marked *):")
    for name, per_dev in info["ops"].items():
        for dev, d in per_dev.items():
            lines.append(f"  {name} [{dev}]")
            for b, r in d["backends"].items():
                mark = "*" if b == d["chosen"] else " "
                lines.append(f"    {mark} {b:7s} {r}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m rac_video.info", description=__doc__)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    info = collect()
    print(json.dumps(info, indent=1) if args.json else format_text(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
