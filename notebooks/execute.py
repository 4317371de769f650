"""Run a notebook top to bottom in a Jupyter kernel and store it with its outputs.

    ANIME_GAN_DATA_DIR=PATH/anime-faces-64 python notebooks/execute.py notebooks/quickstart.ipynb

The kernel is this interpreter's ``python3`` kernel, started in the notebook's folder.
Progress bars are stored as a notebook shows them once finished (the text that carriage
returns and backspaces overwrote is dropped, and so are colour codes), and pictures as
256-colour PNGs, so the file stays small and reads well where it is rendered without a
kernel.  ``--tidy`` only does that to a notebook's stored outputs, without running it.
"""

import argparse
import base64
import io
import os
import re
import sys

import nbformat
from nbclient import NotebookClient
from PIL import Image

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def settle(text):
    """The text as a terminal shows it: ``\\b`` and ``\\r`` overwrite, colour codes dropped."""
    lines = []
    for line in ANSI.sub("", text).split("\n"):
        shown = []
        column = 0
        for char in line:
            if char == "\r":
                column = 0
            elif char == "\b":
                column = max(0, column - 1)
            else:
                shown[column:column + 1] = [char]
                column += 1
        lines.append("".join(shown).rstrip())
    return "\n".join(lines)


def small_png(data):
    """A base64 PNG as a 256-colour one, if that is smaller."""
    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256).save(buffer, format="PNG", optimize=True)
    smaller = base64.b64encode(buffer.getvalue()).decode("ascii")
    return smaller if len(smaller) < len(data) else data


def tidy(nb):
    """Merges each cell's consecutive stream outputs and settles their text; makes the
    pictures small."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            previous = outputs[-1] if outputs else None
            if (output.output_type == "stream" and previous is not None
                    and previous.output_type == "stream" and previous.name == output.name):
                previous.text += output.text
            else:
                outputs.append(output)
        for output in outputs:
            if output.output_type == "stream":
                output.text = settle(output.text)
            elif "image/png" in output.get("data", {}):
                output.data["image/png"] = small_png(output.data["image/png"])
        cell.outputs = outputs
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--tidy", action="store_true", help="only tidy the stored outputs")
    args = parser.parse_args(argv)
    nb = nbformat.read(args.notebook, as_version=4)
    folder = os.path.dirname(os.path.abspath(args.notebook))
    if not args.tidy:
        NotebookClient(nb, timeout=args.timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": folder}}).execute()
    nbformat.write(tidy(nb), args.notebook)
    print(f"wrote {args.notebook}: {os.path.getsize(args.notebook):,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
