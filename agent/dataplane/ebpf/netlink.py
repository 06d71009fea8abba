"""Netlink through pyroute2: one IPRoute per network namespace, tc attach, netns helpers.

Opening an `IPRoute` in a namespace costs several milliseconds (pyroute2 forks a helper that
passes the socket back), so `Netlink` keeps one per namespace. Namespaces are always opened with
`flags=0`: pyroute2's default (O_CREAT) would silently create a mistyped one. tc filters always
get an explicit `prio`: without it every replace adds a new filter with a kernel-chosen
priority instead of swapping the program in place.

pyroute2 opens a namespace's socket in a forked child and ends that child with SIGTERM as soon
as it has answered. The child is a copy of this process, so a Python SIGTERM handler (an agent's
graceful shutdown) would run there, close our asyncio transports and thereby remove them from
the epoll sets the child shares with us: the next netlink call here then waits forever. Such
forks therefore happen with the signals blocked (`_held_signals`): the child inherits the
block and leaves through `os._exit`; a signal sent to us meanwhile arrives when it is lifted.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

NETNS_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
TC_INGRESS = "ffff:fff2"
PRIO = 1  # our one filter per device: replace-filter at this prio swaps programs without loss

T = TypeVar("T")


_HELD = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


@contextmanager
def _held_signals() -> Iterator[None]:
    """Block the signals a Python handler may catch while pyroute2 forks (module docstring)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Netlink:
    """IPRoute handles by namespace name (None: the namespace this process runs in)."""

    def __init__(self) -> None:
        self._handles: dict[str | None, IPRoute] = {}

    def __call__(self, name: str | None) -> IPRoute:
        ipr = self._handles.get(name)
        if ipr is None:
            if name is None:
                ipr = IPRoute()
            else:
                with _held_signals():
                    ipr = IPRoute(netns=name, flags=0)
            self._handles[name] = ipr
        return ipr

    def forget(self, name: str | None) -> None:
        """Close the handle of a namespace that is going away."""
        ipr = self._handles.pop(name, None)
        if ipr is not None:
            ipr.close()

    def close(self) -> None:
        for name in list(self._handles):
            self.forget(name)


def netns_exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def create_netns(name: str) -> None:
    with _held_signals():
        netns.create(name)


def remove_netns(name: str) -> None:
    if netns_exists(name):
        netns.remove(name)


_libc = ctypes.CDLL(None, use_errno=True)


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a short-lived thread that has joined namespace `name` (setns changes only the
    calling thread, so the agent's own namespace is untouched). Used for /proc/sys writes."""
    out: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {name}: {os.strerror(err)}")
            finally:
                os.close(fd)
            out["value"] = fn()
        except BaseException as e:  # handed to the caller's thread
            out["error"] = e

    thread = threading.Thread(target=target, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]  # type: ignore[return-value]


def write_sysctl(path: str, value: str) -> None:
    """Write /proc/sys/<path> (dotted) in the calling thread's namespace."""
    with open("/proc/sys/" + path.replace(".", "/"), "w") as f:
        f.write(value)


def link_index(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def ensure_clsact(ipr: IPRoute, ifindex: int) -> None:
    try:
        ipr.tc("add", "clsact", ifindex)
    except NetlinkError as e:
        if e.code != errno.EEXIST:
            raise


def attach(ipr: IPRoute, ifindex: int, prog_fd: int, name: str, prio: int = PRIO) -> None:
    """Attach (or swap in place) a direct-action BPF program on the device's clsact ingress."""
    ensure_clsact(ipr, ifindex)
    ipr.tc(
        "replace-filter",
        "bpf",
        ifindex,
        ":1",
        fd=prog_fd,
        name=name,
        parent=TC_INGRESS,
        classid=1,
        direct_action=True,
        prio=prio,
    )


def attached(ipr: IPRoute, ifindex: int) -> list[tuple[int, str]]:
    """(prio, program name) of the BPF filters on the device's ingress."""
    out: list[tuple[int, str]] = []
    try:
        filters = ipr.get_filters(index=ifindex, parent=TC_INGRESS)
    except NetlinkError:
        return out
    for f in filters:
        opts = f.get_attr("TCA_OPTIONS")
        if f.get_attr("TCA_KIND") != "bpf" or opts is None:
            continue
        prio = f["info"] >> 16
        out.append((prio, opts.get_attr("TCA_BPF_NAME") or ""))
    return out
