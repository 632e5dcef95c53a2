"""Build the native backends of rac_video.

Two torch-free pybind11 modules (they take raw pointers, sizes and a CUDA stream from a
thin Python wrapper, so one build works with any torch version):

* ``rac_video._C``       C++17 + OpenMP, always built (csrc/*.cpp).
* ``rac_video._C_cuda``  CUDA kernels (csrc/cuda/*.cu) + host bindings (csrc/cuda/*.cpp),
                         built when nvcc is found; the CUDA runtime is linked statically so
                         the module imports on machines without a GPU or driver.

Environment variables
* ``RAC_VIDEO_CUDA``        ``0`` never build CUDA, ``1`` require it (fail if it cannot be
                            built), unset: build it when nvcc is found, otherwise skip.
* ``RAC_VIDEO_CUDA_ARCHS``  e.g. ``"80;90"`` (default: the local GPU's compute capability,
                            or ``80;90`` when there is no GPU).
* ``CUDA_HOME``             toolkit location (default: derived from ``nvcc`` on PATH).
* ``RAC_VIDEO_SANITIZE``    ``1`` builds ``_C`` with AddressSanitizer/UBSan (fuzzing).

Whatever happened to CUDA is written to ``rac_video/_build_status.json`` so that
``rac-video info`` can say why a backend is missing.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

from pybind11.setup_helpers import Pybind11Extension
from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def _rel(paths):
    return sorted(os.path.relpath(p, ROOT) for p in paths)


def _cuda_home():
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = shutil.which("nvcc")
    if home and os.path.exists(os.path.join(home, "bin", "nvcc")):
        return home, os.path.join(home, "bin", "nvcc")
    if nvcc is None:
        return None, None
    for cand in (os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), "/usr/local/cuda"):
        if os.path.exists(os.path.join(cand, "include", "cuda_runtime.h")):
            return cand, nvcc
    return None, nvcc


def _cuda_archs():
    env = os.environ.get("RAC_VIDEO_CUDA_ARCHS")
    if env:
        return [a.strip().replace(".", "") for a in env.replace(",", ";").split(";") if a.strip()]
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        caps = sorted({c.strip().replace(".", "") for c in out.stdout.split() if c.strip()})
        if out.returncode == 0 and caps:
            return caps
    except (OSError, subprocess.SubprocessError):
        pass
    return ["80", "90"]


# no-math-errno: sqrt vectorises; no-trapping-math: compares and floor if-convert and vectorise (same values);
# fp-contract=off: no FMA contraction in the x86-64-v4 (AVX-512 + FMA) clones, every float op rounds as written
cpu_flags = ["-O3", "-fopenmp", "-fvisibility=hidden", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
cpu_link = ["-fopenmp"]
if os.environ.get("RAC_VIDEO_SANITIZE") == "1":
    cpu_flags = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fopenmp"]
    cpu_link = ["-fsanitize=address,undefined", "-fopenmp"]

ext_cpu = Pybind11Extension(
    "rac_video._C",
    _rel(glob.glob(os.path.join(ROOT, "csrc", "*.cpp"))),
    include_dirs=["csrc"],
    extra_compile_args=cpu_flags,
    extra_link_args=cpu_link,
    cxx_std=17,
)
ext_cuda = Pybind11Extension(
    "rac_video._C_cuda",
    _rel(glob.glob(os.path.join(ROOT, "csrc", "cuda", "*.cpp"))),
    include_dirs=["csrc"],
    extra_compile_args=["-O2", "-fvisibility=hidden"],
    cxx_std=17,
)


class BuildExt(build_ext):
    """Compiles the .cu sources with nvcc before linking ``_C_cuda``; skips it with a reason."""

    def build_extensions(self):
        self.cuda_status = {"built": False, "reason": ""}
        mode = os.environ.get("RAC_VIDEO_CUDA", "").strip()
        if mode == "0":
            self._skip_cuda("RAC_VIDEO_CUDA=0 at build time")
        else:
            home, nvcc = _cuda_home()
            if nvcc is None:
                self._skip_cuda("nvcc not found on PATH at build time (set CUDA_HOME or RAC_VIDEO_CUDA=1)")
            elif home is None:
                self._skip_cuda(f"found {nvcc} but no CUDA headers next to it (set CUDA_HOME)")
            else:
                try:
                    self._prepare_cuda(home, nvcc)
                except (OSError, subprocess.CalledProcessError) as exc:
                    if mode == "1":
                        raise
                    self._skip_cuda(f"nvcc failed: {exc}")
        super().build_extensions()
        self._write_status()

    def build_extension(self, ext):
        if ext.name != "rac_video._C_cuda":
            return super().build_extension(ext)
        try:
            super().build_extension(ext)
        except Exception as exc:  # a broken host toolchain must not fail the install
            if os.environ.get("RAC_VIDEO_CUDA", "").strip() == "1":
                raise
            print(f"rac_video: skipping the CUDA backend: building _C_cuda failed: {exc}", file=sys.stderr)
            self.cuda_status = {"built": False, "reason": f"building _C_cuda failed: {exc}"}

    def _skip_cuda(self, reason):
        print(f"rac_video: skipping the CUDA backend: {reason}", file=sys.stderr)
        self.extensions = [e for e in self.extensions if e.name != "rac_video._C_cuda"]
        self.cuda_status = {"built": False, "reason": reason}

    def _prepare_cuda(self, home, nvcc):
        archs = _cuda_archs()
        gencode = []
        for a in archs:
            gencode += ["-gencode", f"arch=compute_{a},code=sm_{a}"]
        gencode += ["-gencode", f"arch=compute_{archs[-1]},code=compute_{archs[-1]}"]  # PTX for newer GPUs
        objdir = os.path.join(self.build_temp, "cuda")
        os.makedirs(objdir, exist_ok=True)
        objects = []
        for src in sorted(glob.glob(os.path.join(ROOT, "csrc", "cuda", "*.cu"))):
            obj = os.path.join(objdir, os.path.basename(src) + ".o")
            cmd = [nvcc, "-c", src, "-o", obj, "-O3", "-std=c++17", "--use_fast_math",
                   "-Xcompiler", "-fPIC", "-I", os.path.join(ROOT, "csrc"), *gencode]
            print(" ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True)
            objects.append(obj)
        libdir = next((d for d in (os.path.join(home, "lib64"), os.path.join(home, "lib"),
                                   os.path.join(home, "targets", "x86_64-linux", "lib"))
                       if os.path.exists(os.path.join(d, "libcudart_static.a"))), None)
        if libdir is None:
            raise OSError(f"libcudart_static.a not found under {home}")
        for ext in self.extensions:
            if ext.name == "rac_video._C_cuda":
                ext.include_dirs.append(os.path.join(home, "include"))
                ext.extra_objects = objects
                ext.library_dirs = [libdir]
                ext.libraries = ["cudart_static", "dl", "rt", "pthread"]
                ext.define_macros = [("RAC_VIDEO_CUDA_ARCHS", '"' + ";".join(archs) + '"')]
        self.cuda_status = {"built": True, "reason": "", "archs": archs, "cuda_home": home,
                            "nvcc": subprocess.run([nvcc, "--version"], capture_output=True,
                                                   text=True).stdout.strip().splitlines()[-1]}

    def _write_status(self):
        # next to the built modules (wheels) and in the source tree (editable installs)
        dirs = {os.path.dirname(os.path.abspath(self.get_ext_fullpath("rac_video._C"))),
                os.path.join(ROOT, "rac_video")}
        for d in dirs:
            if os.path.isdir(d):
                with open(os.path.join(d, "_build_status.json"), "w") as f:
                    json.dump({"cuda": self.cuda_status}, f, indent=1)


setup(
    # kernels/ (the Triton kernels) is installed as the subpackage rac_video.kernels
    packages=find_packages(include=["rac_video", "rac_video.*"]) + ["rac_video.kernels"],
    package_dir={"rac_video.kernels": "kernels"},
    ext_modules=[ext_cpu, ext_cuda],
    cmdclass={"build_ext": BuildExt},
)
