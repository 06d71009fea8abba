"""Controller clusters for tests: in-process nodes on a background event loop (fast, for SDK, CLI
and servicer tests) and real `alcor controller run` processes (for failover tests).

    with InProcessCluster(tmp_path, size=1) as c:      # c.endpoints, c.nodes, c.run(coro)
        Client(c.endpoints).create_vpc(...)

    cluster = ProcessCluster(tmp_path, size=3); cluster.start()   # kill9(id), restart(id), add(id)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alcor.controller.config import NodeConfig
from alcor.controller.node import ControllerNode
from alcor.v1 import cluster_pb2, cluster_pb2_grpc

from .cluster import free_port

T = TypeVar("T")
# fast elections for tests; production ticks are the same length, with the same tick counts
TICK = 0.05


def write_tokens(path: Path, tokens: dict[str, str]) -> Path:
    """A token file from {token: scope}."""
    path.write_text("".join(f"{t} {scope}\n" for t, scope in tokens.items()))
    return path


class InProcessCluster:
    """`size` ControllerNodes sharing one background asyncio loop in this process."""

    def __init__(self, root: Path, size: int = 1, **settings: Any) -> None:
        self.root = root
        self.size = size
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.nodes: dict[str, ControllerNode] = {}
        self.configs: dict[str, NodeConfig] = {}

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def endpoints(self) -> list[str]:
        return [c.listen for c in self.configs.values()]

    def __enter__(self) -> InProcessCluster:
        self.thread.start()
        ids = [f"c{i + 1}" for i in range(self.size)]
        addrs = {i: (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}") for i in ids}
        bootstrap = {i: (peer, api) for i, (peer, api) in addrs.items()}
        for i in ids:
            peer, api = addrs[i]
            self.configs[i] = NodeConfig(
                id=i, data_dir=str(self.root / i), listen=api, peer_listen=peer, bootstrap=bootstrap,
                tick_seconds=TICK, **self.settings,
            ).validate()
            self.nodes[i] = ControllerNode(self.configs[i])
        for node in self.nodes.values():
            self.run(node.start())
        self.wait_leader()
        return self

    def leader(self) -> ControllerNode | None:
        for node in self.nodes.values():
            if node._started and node.raft.status().leader == node.config.id:
                return node
        return None

    def wait_leader(self, timeout: float = 15.0) -> ControllerNode:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.leader()
            if node is not None:
                return node
            time.sleep(0.02)
        raise AssertionError("no leader elected")

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes.values():
            self.run(node.stop(0.2))
        self.run(_cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def _cancel_rest() -> None:
    """Cancel what the stopped nodes left behind (grpc.aio call tasks), so the loop closes clean."""
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me]
    for t in rest:
        t.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


@dataclass
class Member:
    id: str
    peer: str
    api: str
    dir: Path
    popen: subprocess.Popen[bytes] | None = None


@dataclass
class ProcessCluster:
    """`alcor controller run` processes on loopback."""

    root: Path
    size: int = 3
    extra: list[str] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    founding: list[str] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [m.api for m in self.members.values() if m.popen is not None]

    def start(self) -> None:
        self.founding = [f"c{i + 1}" for i in range(self.size)]
        for i in self.founding:
            self.members[i] = Member(i, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", self.root / i)
        for i in self.founding:
            self.launch(i, wait=False)
        for i in self.founding:
            self.wait_serving(i)
        self.leader()

    def bootstrap_flag(self) -> list[str]:
        spec = ",".join(f"{m.id}={m.peer}/{m.api}" for m in self.members.values() if m.id in self.founding)
        return ["--bootstrap", spec]

    def launch(self, member_id: str, how: list[str] | None = None, wait: bool = True) -> None:
        m = self.members[member_id]
        log = open(self.root / f"{member_id}.log", "ab")  # noqa: SIM115 - owned by the child
        m.popen = subprocess.Popen(
            [sys.executable, "-m", "alcor.cmd.main", "controller", "run", "--id", member_id,
             "--data-dir", str(m.dir), "--listen", m.api, "--peer-listen", m.peer,
             *(how if how is not None else self.bootstrap_flag()), *self.extra],
            stdout=log, stderr=log,
        )
        if wait:
            self.wait_serving(member_id)

    def add(self, member_id: str) -> Member:
        """A new member process started with --join (it waits to be added: alcor cluster join)."""
        self.members[member_id] = Member(member_id, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}",
                                         self.root / member_id)
        self.launch(member_id, ["--join", self.endpoints[0]])
        return self.members[member_id]

    def wait_serving(self, member_id: str, timeout: float = 20.0) -> None:
        m = self.members[member_id]
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(m.api) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while time.monotonic() < deadline:
                assert m.popen is not None and m.popen.poll() is None, self.log_tail(member_id)
                try:
                    r = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"{member_id} did not start serving\n{self.log_tail(member_id)}")

    def log_tail(self, member_id: str) -> str:
        path = self.root / f"{member_id}.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def status(self, member_id: str) -> cluster_pb2.ClusterStatusResponse:
        with grpc.insecure_channel(self.members[member_id].api) as ch:
            return cluster_pb2_grpc.ClusterServiceStub(ch).Status(cluster_pb2.ClusterStatusRequest(), timeout=1)

    def leader(self, timeout: float = 15.0, exclude: str = "") -> Member:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.members.values()):
                if m.popen is None or m.id == exclude:
                    continue
                try:
                    if self.status(m.id).leader_id == m.id:
                        return m
                except grpc.RpcError:
                    pass
            time.sleep(0.05)
        raise AssertionError("no leader")

    def kill9(self, member_id: str) -> None:
        m = self.members[member_id]
        assert m.popen is not None
        os.kill(m.popen.pid, signal.SIGKILL)
        m.popen.wait()
        m.popen = None

    def restart(self, member_id: str) -> None:
        how = None if member_id in self.founding else ["--join", self.endpoints[0]]
        self.launch(member_id, how)

    def stop(self) -> None:
        for m in self.members.values():
            if m.popen is not None:
                m.popen.terminate()
                try:
                    m.popen.wait(10)
                except subprocess.TimeoutExpired:
                    m.popen.kill()
                    m.popen.wait()
                m.popen = None
