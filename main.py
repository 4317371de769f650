"""Train a GAN on anime faces, or use a trained run: the ``anime-gan`` command, from a clone.

    python main.py --epochs=5 --output_dir=runs/quickstart
    python main.py --experiment=wgan_gp_64 --data_dir=PATH
    python main.py --mode=generate --output_dir=runs/quickstart --num_images=16
    python main.py --help

Installed, the same command is ``anime-gan`` and ``python -m anime_gan``.
"""

from anime_gan import cli

if __name__ == "__main__":
    cli.main()
