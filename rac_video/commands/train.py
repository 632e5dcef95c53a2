"""rac-video train: the codec's three training stages (options as python -m rac_video.codec.train)."""
import argparse

HELP = "train the codec: --stage 0 (autoencoder), 1 (denoiser), 2 (hyperprior); --export DIR packs the weights"


def add_arguments(p):
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="see python -m rac_video.codec.train --help")


def run(args):
    from ..codec.train import main
    return main(args.train_args)
