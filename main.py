"""Train a GAN on anime faces, or use a trained run.

    python main.py --model=wgan --epochs=50 [--data_dir=PATH]
    python main.py --mode=generate --output_dir=RUN --num_images=16
"""

from absl import app

from anime_gan import cli


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    cli.run(cli.config_from_flags())


if __name__ == "__main__":
    cli.define_flags()
    app.run(main, flags_parser=cli.parse_flags)
