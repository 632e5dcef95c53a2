#!/usr/bin/env python
"""Train the codec (three stages, resumable); same as ``rac-video train``. See rac_video/codec/train.py."""
import sys

from rac_video.codec.train import main

if __name__ == "__main__":
    sys.exit(main())
