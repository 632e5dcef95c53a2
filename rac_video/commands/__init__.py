"""Subcommands of ``rac-video`` (one module each; see rac_video/cli.py)."""
