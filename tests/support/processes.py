"""Clusters of kvserver.py processes on loopback, and a client that finds the leader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from .cluster import free_port

KVSERVER = Path(__file__).resolve().parent / "kvserver.py"


@dataclass
class Proc:
    id: str
    peer: str
    api: str
    dir: Path
    popen: subprocess.Popen[bytes] | None = None
    channel: grpc.Channel | None = None

    def call(self, method: str, payload: bytes, timeout: float = 3.0) -> bytes:
        assert self.channel is not None
        fn = self.channel.unary_unary(f"/kv/{method}")
        return fn(payload, timeout=timeout)  # type: ignore[no-any-return]

    def status(self) -> dict[str, object]:
        return json.loads(self.call("Status", b"", timeout=1.0))  # type: ignore[no-any-return]


@dataclass
class ProcessCluster:
    root: Path
    size: int = 3
    extra: list[str] = field(default_factory=list)
    procs: dict[str, Proc] = field(default_factory=dict)
    founding: set[str] = field(default_factory=set)

    def start(self) -> None:
        ids = [chr(ord("a") + i) for i in range(self.size)]
        self.founding = set(ids)
        for i in ids:
            self.procs[i] = Proc(i, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", self.root / i)
        for i in ids:
            self.launch(i)
        self.leader()

    def add(self, member_id: str) -> Proc:
        """A new member process that joins through the current members (`--join`)."""
        joined = ",".join(p.api for p in self.alive())
        self.procs[member_id] = Proc(
            member_id, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", self.root / member_id
        )
        self.launch(member_id, ["--join", joined])
        return self.procs[member_id]

    def launch(self, member_id: str, how: list[str] | None = None) -> None:
        p = self.procs[member_id]
        if how is None:
            founding = [q for q in self.procs.values() if q.id in self.founding]
            how = ["--bootstrap", ",".join(f"{q.id}={q.peer}/{q.api}" for q in founding)]
        log = open(self.root / f"{member_id}.log", "ab")  # noqa: SIM115 - owned by the child
        p.popen = subprocess.Popen(
            [
                sys.executable,
                str(KVSERVER),
                "--id",
                member_id,
                "--dir",
                str(p.dir),
                "--peer",
                p.peer,
                "--api",
                p.api,
                *how,
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        assert p.popen.stdout is not None
        line = p.popen.stdout.readline()
        assert line.startswith(b"ready"), f"{member_id} did not start: {line!r}"
        p.channel = grpc.insecure_channel(p.api)

    def kill9(self, member_id: str) -> None:
        p = self.procs[member_id]
        assert p.popen is not None
        os.kill(p.popen.pid, signal.SIGKILL)
        p.popen.wait()
        p.popen = None

    def kill9_all(self) -> None:
        """SIGKILL every live member before reaping any: the whole cluster dies at one instant."""
        alive = [p for p in self.procs.values() if p.popen is not None]
        for p in alive:
            assert p.popen is not None
            os.kill(p.popen.pid, signal.SIGKILL)
        for p in alive:
            assert p.popen is not None
            p.popen.wait()
            p.popen = None

    def signal(self, member_id: str, sig: int) -> None:
        p = self.procs[member_id]
        assert p.popen is not None
        os.kill(p.popen.pid, sig)

    def alive(self) -> list[Proc]:
        return [p for p in self.procs.values() if p.popen is not None]

    def leader(self, timeout: float = 15.0, exclude: str = "") -> Proc:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.alive():
                if p.id == exclude:
                    continue
                try:
                    if p.status()["is_leader"]:
                        return p
                except grpc.RpcError:
                    pass
            time.sleep(0.05)
        raise AssertionError("no leader")

    def stop(self) -> None:
        for p in self.procs.values():
            if p.popen is not None:
                p.popen.terminate()
                try:
                    p.popen.wait(5)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
                    p.popen.wait()
                p.popen = None
            if p.channel is not None:
                p.channel.close()
