"""Records each use of the convolutions by patches (``anime_gan.patches_conv``), at the
bottleneck and at the image, for the tests in this process (a fixture) and in a
subprocess (``distributed_step.py``)."""

from anime_gan import patches_conv


def record_patch_uses(set_attribute=setattr):
    """Wraps the four builders of the convolutions by patches so that each call appends
    ``(which, input shape)`` to the list returned; ``set_attribute`` is ``setattr`` or a
    pytest ``monkeypatch.setattr``, which undoes it after the test."""
    uses = []
    for which in ("downsample_by_patches", "upsample_by_patches", "downsample_image",
                  "upsample_to_image"):
        original = getattr(patches_conv, which)
        set_attribute(patches_conv, which, lambda x, kernel, which=which, f=original: (
            uses.append((which, tuple(x.shape))), f(x, kernel))[1])
    return uses
