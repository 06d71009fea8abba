"""Raft members as real processes on loopback: kill -9, SIGSTOP and whole-cluster crashes under
load lose no acknowledged write, replicas end identical, a deposed leader serves no stale read, and
what clients saw through a leader kill and a pause is linearizable."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from pathlib import Path
from typing import Self

import grpc
import pytest
from support.linearizability import GET, PUT, History, check
from support.processes import Proc, ProcessCluster

pytestmark = pytest.mark.slow


class Threads:
    """Client threads run by `_run(thread index)` until `stop` is set (when the block ends)."""

    def __init__(self, cluster: ProcessCluster, threads: int) -> None:
        self.cluster = cluster
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(threads)]

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _run(self, t: int) -> None:
        raise NotImplementedError


class Writers(Threads):
    """Threads writing unique keys to whoever leads; a key counts as acknowledged only when Put
    returned OK. Timeouts and aborts are not acknowledgements (the outcome may be either)."""

    def __init__(self, cluster: ProcessCluster, threads: int = 4) -> None:
        super().__init__(cluster, threads)
        self.acked: set[str] = set()
        self.lock = threading.Lock()

    def _run(self, t: int) -> None:
        target: Proc | None = None
        i = 0
        while not self.stop.is_set():
            if target is None or target.popen is None:
                alive = self.cluster.alive()
                if not alive:
                    time.sleep(0.02)
                    continue
                target = alive[(t + i) % len(alive)]  # followers forward to the leader
            key = f"w{t}-{i}"
            i += 1
            try:
                target.call("Put", f"{key}=v".encode(), timeout=2.0)
            except grpc.RpcError:
                target = None
                time.sleep(0.01)
                continue
            with self.lock:
                self.acked.add(key)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked)} writes acknowledged"
            time.sleep(0.02)


def converged_items(cluster: ProcessCluster, timeout: float = 20.0) -> dict[str, str]:
    """Wait until every live replica holds the same items, and return them."""
    deadline = time.monotonic() + timeout
    while True:
        dumps = []
        for p in cluster.alive():
            try:
                dumps.append(json.loads(p.call("Dump", b"", timeout=5.0)))
            except grpc.RpcError:
                dumps.append(None)
        if dumps and all(d == dumps[0] for d in dumps) and dumps[0] is not None:
            return dumps[0]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "replicas did not converge"
        time.sleep(0.2)


@pytest.fixture(params=[3, 5], ids=["3-nodes", "5-nodes"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    c = ProcessCluster(tmp_path, size=request.param)
    yield c
    c.stop()


def test_kill_9_leader_under_load(cluster: ProcessCluster) -> None:
    cluster.start()
    with Writers(cluster) as w:
        w.wait_for(200)
        old = cluster.leader()
        cluster.kill9(old.id)
        new = cluster.leader(exclude=old.id)
        assert new.id != old.id
        before = len(w.acked)
        w.wait_for(before + 200)
        cluster.launch(old.id)
        w.wait_for(len(w.acked) + 100)
    items = converged_items(cluster)
    assert w.acked <= items.keys(), f"lost: {sorted(w.acked - items.keys())[:10]}"


def test_sigstop_leader_under_load_then_it_never_serves_a_stale_read(cluster: ProcessCluster) -> None:
    cluster.start()
    old = cluster.leader()
    old.call("Put", b"fresh=before")
    stale: list[bytes | grpc.StatusCode] = []
    with Writers(cluster) as w:
        w.wait_for(100)
        cluster.signal(old.id, signal.SIGSTOP)
        try:
            new = cluster.leader(exclude=old.id)
            new.call("Put", b"fresh=after")
            w.wait_for(len(w.acked) + 100)
            # Reads sent to the paused leader now sit in its socket: it meets them the moment it
            # wakes, still believing it leads, racing the news of the new term.
            readers = [threading.Thread(target=_read, args=(old, stale)) for _ in range(8)]
            for t in readers:
                t.start()
            time.sleep(0.3)
        finally:
            cluster.signal(old.id, signal.SIGCONT)
        for t in readers:
            t.join(30)
        w.wait_for(len(w.acked) + 100)
    assert len(stale) == 8 and b"before" not in stale, stale
    seen = []
    for _ in range(20):  # once it has stepped down it serves again (forwarding the ReadIndex)
        try:
            seen.append(old.call("Get", b"fresh", timeout=2.0))
        except grpc.RpcError as e:
            seen.append(e.code())
    assert b"before" not in seen and b"after" in seen, seen
    items = converged_items(cluster)
    assert w.acked <= items.keys(), f"lost: {sorted(w.acked - items.keys())[:10]}"


def _read(proc: Proc, out: list[bytes | grpc.StatusCode]) -> None:
    try:
        out.append(proc.call("Get", b"fresh", timeout=5.0))
    except grpc.RpcError as e:
        out.append(e.code())


def test_kill_9_every_member_at_once_and_restart(cluster: ProcessCluster) -> None:
    cluster.start()
    with Writers(cluster) as w:
        w.wait_for(300)
        cluster.kill9_all()
        acked = set(w.acked)
        for p in cluster.procs.values():
            cluster.launch(p.id)
        w.wait_for(len(acked) + 100)
    items = converged_items(cluster)
    assert acked <= items.keys(), f"lost after whole-cluster kill: {sorted(acked - items.keys())[:10]}"
    assert w.acked <= items.keys()


def test_five_members_survive_losing_two(tmp_path: Path) -> None:
    c = ProcessCluster(tmp_path, size=5)
    try:
        c.start()
        with Writers(c) as w:
            w.wait_for(200)
            leader = c.leader()
            follower = next(p for p in c.alive() if p.id != leader.id)
            c.kill9(leader.id)
            c.kill9(follower.id)
            c.leader(exclude=leader.id)
            w.wait_for(len(w.acked) + 200)
            c.launch(leader.id)
            c.launch(follower.id)
        items = converged_items(c)
        assert w.acked <= items.keys()
    finally:
        c.stop()


def refused(e: grpc.RpcError) -> bool:
    """Did the member answer that the put was not applied (kvserver.code_for)?"""
    code, details = e.code(), e.details() or ""  # type: ignore[attr-defined]
    return code == grpc.StatusCode.ABORTED or (
        code == grpc.StatusCode.UNAVAILABLE and details.startswith("NotLeader")
    )


class Clients(Threads):
    """Threads doing random puts (a value unique to each) and linearizable gets on a few keys
    against random live members (followers forward), recorded in a History.

    A put the member refused as ProposalLost (ABORTED) or NotLeader (UNAVAILABLE naming it:
    no leader, or the leader said it is not one) was certainly not applied, and the history
    holds the member to that. A bare UNAVAILABLE is a connection lost, maybe after the member
    appended the put: unknown, as are timeouts and anything else."""

    KEYS = (b"k0", b"k1", b"k2")

    def __init__(self, cluster: ProcessCluster, history: History, threads: int = 5, seed: int = 0) -> None:
        super().__init__(cluster, threads)
        self.history = history
        self.seed = seed

    def _run(self, t: int) -> None:
        rng = random.Random(self.seed * 1000 + t)
        client = f"c{t}"
        i = 0
        while not self.stop.is_set():
            alive = self.cluster.alive()
            if not alive:
                time.sleep(0.02)
                continue
            target = rng.choice(alive)
            key = rng.choice(self.KEYS)
            if rng.random() < 0.5:
                value = f"{client}-{i}".encode()
                i += 1
                handle = self.history.invoke(client, PUT, key, value)
                method, payload = "Put", key + b"=" + value
            else:
                handle = self.history.invoke(client, GET, key)
                method, payload = "Get", key
            try:
                output = target.call(method, payload, timeout=2.0)
            except grpc.RpcError as e:
                if method == "Put" and refused(e):
                    self.history.failed(handle)
                else:
                    self.history.unknown(handle)
                time.sleep(0.01)
                continue
            self.history.ok(handle, output)

    def read_from(self, target: Proc) -> None:
        """One get of each key sent to target now, answered whenever it answers (on a paused
        member: when it wakes, still believing it leads, racing the news of the new term)."""
        for n, key in enumerate(self.KEYS):
            probe = threading.Thread(target=self._get, args=(f"probe{n}", target, key), daemon=True)
            self.threads.append(probe)
            probe.start()

    def _get(self, client: str, target: Proc, key: bytes) -> None:
        handle = self.history.invoke(client, GET, key)
        try:
            output = target.call("Get", key, timeout=5.0)
        except grpc.RpcError:
            self.history.unknown(handle)
            return
        self.history.ok(handle, output)

    def wait_for_ok(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while (done := self.history.counts().ok) < count:
            assert time.monotonic() < deadline, f"only {done} operations answered"
            time.sleep(0.02)


def test_history_through_leader_kill_and_pause_is_linearizable(tmp_path: Path) -> None:
    history = History()
    c = ProcessCluster(tmp_path, size=3)
    try:
        c.start()
        with Clients(c, history, threads=5, seed=7) as clients:
            clients.wait_for_ok(100)
            old = c.leader()
            c.kill9(old.id)
            c.leader(exclude=old.id)
            clients.wait_for_ok(history.counts().ok + 100)
            c.launch(old.id)
            clients.wait_for_ok(history.counts().ok + 100)
            paused = c.leader()
            c.signal(paused.id, signal.SIGSTOP)
            stopped = time.monotonic()
            try:
                c.leader(exclude=paused.id)
                clients.wait_for_ok(history.counts().ok + 30)  # writes the paused one never saw
                clients.read_from(paused)
                time.sleep(max(0.3, stopped + 1.5 - time.monotonic()))
            finally:
                c.signal(paused.id, signal.SIGCONT)
            clients.wait_for_ok(history.counts().ok + 100)
    finally:
        c.stop()
    counts = history.counts()
    result = check(history)
    print(f"history: {counts}; searched {result.ops} operations")
    assert counts.ok >= 200, counts
    assert result.ok, result.explanation
