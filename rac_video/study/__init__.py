"""Blind 2-AFC preference studies of reconstructions at equal bytes (``rac-video study``).

* ``prepare`` — pairs of reconstructions of the same image or clip by two methods at matched bytes
  (``prepare_pairs``: our codec's modes and the eval baselines), as PNG frames with a manifest;
* ``server`` — a local web page (``study.html``) that shows them blind, side by side or one at a time
  with mouse-contingent ("gaze") viewing, and appends keyboard answers to a CSV;
* ``stats`` — preference shares with Wilson intervals and exact binomial tests.
"""
from .prepare import StudyError, load_sources, prepare_pairs
from .stats import binomial_test, summarize, wilson_interval

__all__ = ["StudyError", "load_sources", "prepare_pairs", "summarize", "wilson_interval", "binomial_test"]
