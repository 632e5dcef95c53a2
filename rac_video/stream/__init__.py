"""Low-latency gaze-contingent streaming (docs/design.md §7): encoder server, decoder client, gaze
back-channel, latency instrumentation, seeded network emulation, browser viewer. See docs/streaming.md.

Modules: ``framing`` (wire messages around the ``.racv`` header/packets), ``server``, ``client``,
``netem``, ``stats``, ``codecs`` (rac or the JPEG stand-in; frames are coded by ``pipeline.FrameEncoder`` /
``FrameDecoder``), ``sources``, ``gazeio``,
``viewer`` (page + loopback HTTP server), ``bench`` (server and client together, report).
"""
