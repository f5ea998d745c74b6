"""Where things are and the constants every helper shares."""

import os

PYLIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(PYLIB))
ORIGIN_DIR = os.path.join(REPO, "tests", "origin")
ORIGIN_PY = os.path.join(ORIGIN_DIR, "origin.py")
MODEL_HOSTS_PY = os.path.join(ORIGIN_DIR, "model_hosts.py")
XET_SERVICE_PY = os.path.join(ORIGIN_DIR, "xet_service.py")

LOCALHOST = "127.0.0.1"
MiB = 1 << 20
GiB = 1 << 30


def dlproxy_bin():
    """The binary under test: $DLPROXY_BIN (meson sets it), else build/proxy/dlproxy."""
    return os.environ.get("DLPROXY_BIN") or os.path.join(REPO, "build", "proxy", "dlproxy")
