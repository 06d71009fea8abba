"""A local controller cluster: `alcor controller run` processes on loopback, for `alcor demo`,
the end-to-end tests and the benchmarks.

    cluster = LocalCluster(root, size=3); cluster.start()   # kill9(id), restart(id), add(id), stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alcor.v1 import cluster_pb2, cluster_pb2_grpc


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Member:
    id: str
    peer: str
    api: str
    dir: Path
    popen: subprocess.Popen[bytes] | None = None


@dataclass
class LocalCluster:
    """`alcor controller run` processes on loopback."""

    root: Path
    size: int = 3
    # the address every member listens on (the demo's hosts reach it through their underlay)
    host: str = "127.0.0.1"
    extra: list[str] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    founding: list[str] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [m.api for m in self.members.values() if m.popen is not None]

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.founding = [f"c{i + 1}" for i in range(self.size)]
        for i in self.founding:
            self.members[i] = Member(i, f"{self.host}:{free_port(self.host)}", f"{self.host}:{free_port(self.host)}", self.root / i)
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
        self.members[member_id] = Member(member_id, f"{self.host}:{free_port(self.host)}", f"{self.host}:{free_port(self.host)}",
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

    def stop_member(self, member_id: str) -> None:
        """SIGTERM one member (a graceful stop) and wait for it."""
        m = self.members[member_id]
        if m.popen is not None:
            m.popen.terminate()
            m.popen.wait(20)
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
