"""Train a GAN on anime faces: python main.py --model=wgan --epochs=50 [--data_dir=PATH]."""

from absl import app

from anime_gan import cli
from anime_gan.train import train


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = cli.config_from_flags()
    train(config)


if __name__ == "__main__":
    cli.define_flags()
    app.run(main)
