"""Loopback ports: find a free one, wait until one accepts connections."""

from __future__ import annotations

import socket
import time
from typing import Callable

from .const import LOCALHOST
from .processes import SetupError


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that nothing listened on a moment ago (bound, then
    released; callers that bind it later retry on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Until 127.0.0.1:port accepts a TCP connection; raises if `alive()` turns false first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise SetupError(f"process exited before 127.0.0.1:{port} accepted connections")
        try:
            with socket.create_connection((LOCALHOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SetupError(f"127.0.0.1:{port} did not accept connections within {timeout:.0f} s")
