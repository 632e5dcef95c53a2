"""rac-video train: the codec's three training stages (options as python -m rac_video.codec.train)."""
import argparse

HELP = ("train the codec: --stage 0 (autoencoder), 1 (denoiser), 2 (hyperprior), 1u / 3 (ablation baselines), "
        "4 (decoder fine-tune), temporal (the P-frames' temporal prior); --init-from MODEL seeds a run; --export DIR packs the weights")


def add_arguments(p):
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="see python -m rac_video.codec.train --help")


def run(args):
    from ..codec.train import main
    return main(args.train_args)
