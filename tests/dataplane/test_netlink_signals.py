"""pyroute2 forks a child to open a namespace's socket and ends it with SIGTERM: the fork must
happen with the signals our process may handle blocked, or a Python handler runs in the child
and unhooks our asyncio transports (see alcor.agent.dataplane.ebpf.netlink)."""

from __future__ import annotations

import os
import signal

from alcor.agent.dataplane.ebpf.netlink import _HELD, _held_signals


def _blocked() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_signals_are_blocked_around_a_fork_and_restored_after() -> None:
    before = _blocked()
    assert signal.SIGTERM not in before
    with _held_signals():
        assert _blocked() >= _HELD
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child inherits the mask: report whether SIGTERM is blocked there
            os.write(write, b"1" if signal.SIGTERM in _blocked() else b"0")
            os._exit(0)
        os.close(write)
        inherited = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
    assert inherited == b"1"
    assert _blocked() == before


def test_a_signal_sent_while_held_arrives_when_released() -> None:
    got: list[int] = []
    old = signal.signal(signal.SIGHUP, lambda signum, _frame: got.append(signum))
    try:
        with _held_signals():
            os.kill(os.getpid(), signal.SIGHUP)
            assert got == []
        assert got == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, old)
