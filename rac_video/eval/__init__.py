"""Evaluation harness: metrics, baselines at matched bitrate, BD-rate, runs, plots, side-by-side videos.

Modules: ``metrics`` (bpp, PSNR / MS-SSIM whole, inside / outside the importance region, foveated,
flicker, optional FovVideoVDP), ``bdrate`` (Bjøntegaard delta), ``baselines`` (x264 / x265 / SVT-AV1 with
and without ROI QP offsets, JPEG), ``matching`` (bitrate matching), ``run`` (config-driven runs),
``plots`` and ``sidebyside`` (matplotlib / video outputs, optional).
"""
