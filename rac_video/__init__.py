"""rac_video: region-adaptive generative video codec with spatially varying diffusion."""
__version__ = "0.1.0"
