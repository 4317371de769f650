"""Train a GAN on anime faces, or use a trained run.

    python main.py --model=wgan --epochs=50 [--data_dir=PATH]
    python main.py --mode=generate --output_dir=RUN --num_images=16
"""

from anime_gan import cli

if __name__ == "__main__":
    cli.main()
