"""Batch encode / decode / evaluation over many inputs, on a local process pool or on Ray.

``rac-video batch encode|decode|eval`` (``rac_video.commands.batch``) builds a list of items
(:mod:`.items`: a folder, globs or a manifest CSV), runs one task per item on an engine
(:mod:`.engines`: ``local`` = a process pool on this machine, ``ray`` = a Ray cluster) and keeps a
results manifest (:mod:`.runner`) that makes a re-run skip every item already done with the same
settings. The tasks themselves (:mod:`.tasks`) run the ``rac-video encode`` / ``decode`` commands in
the worker, so the outputs are those of the single commands (``.racv``: the same bytes but for the
container's random stream id, which differs between any two encodes). See docs/scaling.md.
"""
from .items import Item, settings_hash  # noqa: F401
