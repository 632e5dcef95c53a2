"""The design document is in the repository and every reference to it resolves (docs/design.md)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DESIGN = os.path.join(ROOT, "docs", "design.md")
SCAN = ("rac_video", "kernels", "csrc", "tools", "tests", "docs", "benchmarks", "README.md")
SUFFIXES = (".py", ".md", ".h", ".cpp", ".cu", ".toml", ".html")
REF = re.compile(r"design\.md\)?\s*((?:§\s*\d+(?:\.\d+)*(?:\s*[–,-]\s*)?\s*)+)")


def _sections():
    with open(DESIGN, encoding="utf-8") as f:
        return {m.group(1) for m in (re.match(r"#+ (\d+(?:\.\d+)*)\.? ", ln) for ln in f) if m}


def _files():
    for top in SCAN:
        path = os.path.join(ROOT, top)
        if os.path.isfile(path):
            yield path
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
            for name in filenames:
                if name.endswith(SUFFIXES):
                    yield os.path.join(dirpath, name)


def _text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, OSError):
        return ""


def test_design_doc_has_numbered_sections():
    sections = _sections()
    assert {"1", "2", "3", "3.3", "3.4", "3.5", "6", "8"} <= sections


def test_every_design_reference_resolves():
    sections = _sections()
    bad = []
    for path in _files():
        for m in REF.finditer(_text(path)):
            for ref in re.findall(r"\d+(?:\.\d+)*", m.group(1)):
                if ref not in sections:
                    bad.append(f"{os.path.relpath(path, ROOT)}: {m.group(0).strip()}")
    assert not bad, "references to sections docs/design.md does not have:\n" + "\n".join(bad)


@pytest.mark.parametrize("token", ["DESIGN §", "DESIGN's"])
def test_no_references_to_the_old_out_of_tree_design(token):
    this = os.path.abspath(__file__)
    hits = [os.path.relpath(p, ROOT) for p in _files() if p != this and token in _text(p)]
    assert not hits, f"'{token}' points at a document that is not in the repository; use docs/design.md §N: {hits}"
