"""An image file's format, width and height, read from its header without decoding it.

So that a small file declaring a huge image (a 20000x20000 PNG is 1.2 GB of pixels)
is skipped before the decoder allocates it, and a folder of images mostly smaller than
the training size is warned of before it is decoded.
"""

import logging
import struct

logger = logging.getLogger(__name__)

HEAD_BYTES = 32  # enough for every format's signature and the PNG, BMP and WebP sizes

# Formats tf.io.decode_image reads, recognised by their first bytes.
_SIGNATURES = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
}
# JPEG start-of-frame markers (the ones that carry the image size).
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _webp_size(head):
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: the canvas size, 24-bit minus one
        return (int.from_bytes(head[24:27], "little") + 1,
                int.from_bytes(head[27:30], "little") + 1)
    if chunk == b"VP8L":  # lossless: 14-bit fields, minus one
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: after the frame tag and start code
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _jpeg_size(f):
    """Walks the JPEG's segments to its start-of-frame."""
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        while marker[1] == 0xFF:  # fill bytes
            marker = marker[1:] + f.read(1)
        if marker[1] in _SOF:
            segment = f.read(7)
            if len(segment) < 7:
                return None
            height, width = struct.unpack(">HH", segment[3:7])
            return width, height
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:  # no length
            continue
        length = f.read(2)
        if len(length) < 2:
            return None
        f.seek(struct.unpack(">H", length)[0] - 2, 1)


def _gif_size(head, f):
    """The logical screen, or the first frame's extent where larger: the decoder allocates
    the frame, which a crafted file may make larger than the screen it declares."""
    width, height = struct.unpack("<HH", head[6:10])
    f.seek(13 + ((3 << ((head[10] & 7) + 1)) if head[10] & 0x80 else 0))  # global colours
    while True:
        block = f.read(1)
        if block == b",":  # the first image descriptor
            left, top, frame_width, frame_height = struct.unpack("<HHHH", f.read(8))
            return max(width, left + frame_width), max(height, top + frame_height)
        if block != b"!":  # not an extension either: no frame to size
            return width, height
        f.read(1)  # the extension's label, then its sub-blocks
        size = f.read(1)
        while size not in (b"", b"\x00"):
            f.seek(size[0], 1)
            size = f.read(1)


def image_size(kind, head, f):
    """(width, height) of an image file of format ``kind`` ('png', 'jpeg', 'gif', 'bmp',
    'webp') from its first 32 bytes ``head`` (and, for JPEG and GIF, the open file ``f``);
    None where the header does not say."""
    if kind == "png" and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if kind == "gif":
        return _gif_size(head, f)
    if kind == "bmp" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)
    if kind == "webp":
        return _webp_size(head)
    if kind == "jpeg":
        return _jpeg_size(f)
    return None


def image_format(head):
    """'jpeg', 'png', 'gif', 'bmp' or 'webp' from a file's first bytes, or None."""
    for name, signatures in _SIGNATURES.items():
        if head.startswith(signatures):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def declared_size(path):
    """(width, height) an image file's header declares, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            return image_size(image_format(head), head, f)
    except (OSError, struct.error, IndexError):
        return None


def warn_if_mostly_smaller(paths, side, data_dir, sample=256):
    """Warns when most images (an even sample of the files' headers) are smaller than
    ``side`` on their shorter side: training would learn them upscaled, blurred."""
    count = min(sample, len(paths))
    checked = [paths[i * len(paths) // count] for i in range(count)]
    sizes = [size for size in map(declared_size, checked) if size]
    small = sum(min(size) < side for size in sizes)
    if sizes and small * 2 > len(sizes):
        logger.warning("%d%% of the images under %s (a sample of %d) are smaller than "
                       "--image_size=%d: they are upscaled, so what the GAN learns is "
                       "blurred; a smaller --image_size fits them",
                       round(100 * small / len(sizes)), data_dir, len(sizes), side)
