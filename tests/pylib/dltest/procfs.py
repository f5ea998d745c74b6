"""Linux /proc readers: a process's CPU time, memory and open file descriptors.

    cpu_seconds(pid)            utime + stime of all its threads, seconds
    settle_cpu(pid)             cpu_seconds once it has stopped growing
    status_kib(pid, "VmRSS")    a field of /proc/<pid>/status in KiB (None when absent)
    rss_bytes(pid), peak_rss_bytes(pid)  VmRSS, VmHWM in bytes
    fd_breakdown(pid, own_ports) -> FdBreakdown(client, upstream, listen, other, total, detail)
"""

from __future__ import annotations

import collections
import os
import re
import time

from .processes import SetupError

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all its threads), in seconds; /proc/<pid>/stat
    fields 14 and 15, counted after the ')' that ends the command name."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def settle_cpu(pid: int, quiet: float = 0.1, max_wait: float = 3.0) -> float:
    """CPU seconds once the process has stopped accumulating CPU (a clock tick is 10 ms), so
    work that finishes after the client's last byte (closing files, cache commits) is counted."""
    last = cpu_seconds(pid)
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.5 / _CLK_TCK:
            return now
        last = now
    return last


def status_kib(pid: int, field: str) -> int | None:
    """A `Field:  N kB` line of /proc/<pid>/status, in KiB; None when the field is absent."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _status_bytes(pid: int, field: str) -> int:
    kib = status_kib(pid, field)
    if kib is None:
        raise SetupError(f"/proc/{pid}/status has no {field}")
    return kib * 1024


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the resident-set high-water mark since the process started."""
    return _status_bytes(pid, "VmHWM")


def rss_bytes(pid: int) -> int:
    return _status_bytes(pid, "VmRSS")


FdBreakdown = collections.namedtuple("FdBreakdown", "client upstream listen other total detail")

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "07": "CLOSE",
              "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
              "04": "FIN_WAIT1", "05": "FIN_WAIT2"}


def tcp_table() -> dict:
    """inode -> (local_port, remote_port, state) for every TCP socket in our network namespace."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                    table[inode] = (int(local.rsplit(":", 1)[1], 16),
                                    int(remote.rsplit(":", 1)[1], 16), state)
        except FileNotFoundError:
            pass
    return table


def fd_breakdown(pid: int, own_ports) -> FdBreakdown:
    """Classify a process's open fds: client (TCP on one of `own_ports`), listen, upstream
    (other TCP), other (files, pipes, eventfds, unix sockets...)."""
    fd_dir = f"/proc/{pid}/fd"
    links = []
    for fd in os.listdir(fd_dir):
        try:
            links.append(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            pass
    table = tcp_table()
    client = upstream = listen = other = 0
    detail = collections.Counter()
    own_ports = set(own_ports)
    for link in links:
        m = re.fullmatch(r"socket:\[(\d+)\]", link)
        tcp = table.get(m.group(1)) if m else None
        if tcp is None:
            other += 1
            kind = "socket" if m else re.sub(r"\d+", "N", link)
            if link.startswith("/"):
                kind = "file:" + os.path.basename(os.path.dirname(link)) + "/" + os.path.basename(link)
            detail[kind] += 1
            continue
        lport, rport, state = tcp
        st = TCP_STATES.get(state, state)
        if st == "LISTEN":
            listen += 1
        elif lport in own_ports:
            client += 1
            detail[f"client:{st}"] += 1
        else:
            upstream += 1
            detail[f"upstream:{rport}:{st}"] += 1
    return FdBreakdown(client, upstream, listen, other, len(links), dict(detail))
