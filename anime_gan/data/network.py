"""Whether a download can start: without a network, TensorFlow Datasets retries for minutes
before it gives up; a host that cannot be reached says so at once."""

import socket
import urllib.request

from anime_gan.errors import DataError

# Where TensorFlow Datasets looks first for a data set it downloads.
TFDS_HOST = "storage.googleapis.com"


def check_online(name, host=TFDS_HOST, timeout=5.0):
    """Raises ``DataError`` naming ``tfds:name`` when ``host`` cannot be reached (no network,
    no name server, a firewall): the download could most likely not start.  Behind a
    proxy (which reaches hosts this machine cannot) the download is left to try."""
    proxies = urllib.request.getproxies()  # the environment's, or the system's settings
    if proxies.get("https") or proxies.get("all"):
        return
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except (OSError, UnicodeError) as error:
        why = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise DataError(f"--dataset=tfds:{name}: is not prepared, and it cannot be downloaded: "
                        f"{host} cannot be reached ({why}); prepare it on a machine with a "
                        f"network (tfds build {name.split('/')[0]}) and copy it into "
                        "--tfds_data_dir, or use --data_dir") from None
