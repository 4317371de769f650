"""``python -m anime_gan``: the same command line as ``main.py`` and ``anime-gan``."""

from anime_gan import cli

if __name__ == "__main__":
    cli.main()
