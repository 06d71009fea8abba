"""Raft clusters of RaftNode + KvStateMachine inside one asyncio loop, on loopback gRPC."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc

from alcor.cmd.localcluster import free_port
from alcor.raft.config import Config
from alcor.raft.lmdb_storage import LmdbStorage
from alcor.raft.node import RaftNode, bootstrap_storage
from alcor.raft.types import Role

from .kv import KvStateMachine


@dataclass
class Member:
    id: str
    address: str
    node: RaftNode
    server: grpc.aio.Server
    sm: KvStateMachine


class LocalCluster:
    def __init__(
        self, root: Path, secret: str | None = "test-secret", snapshot_entries: int = 20_000
    ) -> None:
        self.root = root
        self.secret = secret
        self.snapshot_entries = snapshot_entries
        self.members: dict[str, Member] = {}
        self.addresses: dict[str, str] = {}

    async def start(self, ids: list[str]) -> None:
        self.addresses = {i: f"127.0.0.1:{free_port()}" for i in ids}
        founding = {i: (a, "") for i, a in self.addresses.items()}
        for i in ids:
            storage = bootstrap_storage(str(self.root / i / "raft"), founding)
            await self._launch(i, self.addresses[i], storage)

    async def join(self, member_id: str) -> Member:
        """Start an empty node that knows where the current members are, as `--join` would."""
        address = f"127.0.0.1:{free_port()}"
        known = {i: (a, "") for i, a in self.addresses.items()}
        self.addresses[member_id] = address
        return await self._launch(member_id, address, LmdbStorage(self.root / member_id / "raft"), known)

    async def _launch(
        self, i: str, address: str, storage: LmdbStorage, known: dict[str, tuple[str, str]] | None = None
    ) -> Member:
        sm = KvStateMachine(self.root / i / "state")
        node = RaftNode(
            Config(i),
            storage,
            sm,
            secret=self.secret,
            tick_seconds=0.02,
            snapshot_entries=self.snapshot_entries,
            known_members=known,
        )
        server = grpc.aio.server()
        node.transport.add_to_server(server)
        server.add_insecure_port(address)
        await server.start()
        await node.start()
        m = Member(i, address, node, server, sm)
        self.members[i] = m
        return m

    async def restart(self, member_id: str) -> Member:
        old = self.members.pop(member_id)
        await self.kill(old)
        return await self._launch(member_id, old.address, LmdbStorage(self.root / member_id / "raft"))

    async def kill(self, m: Member) -> None:
        await m.server.stop(None)
        await m.node.stop()
        m.node.storage.close()
        m.sm.env.close()

    async def stop(self) -> None:
        for m in list(self.members.values()):
            await self.kill(m)
        self.members.clear()

    async def leader(self, timeout: float = 10.0, exclude: set[str] | None = None) -> Member:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            leaders = [
                m
                for m in self.members.values()
                if m.node.role == Role.LEADER and m.id not in (exclude or set())
            ]
            # ...and every running member knows it (a follower that has not heard from the new
            # leader yet refuses proposals with NotLeader)
            if len(leaders) == 1 and all(
                m.node.leader == leaders[0].id for m in self.members.values() if not m.node.stopped
            ):
                return leaders[0]
            assert asyncio.get_running_loop().time() < deadline, "no single leader elected"
            await asyncio.sleep(0.02)

    async def converge(self, timeout: float = 10.0) -> None:
        """Wait until every member applied the leader's commit index."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            commits = [m.node.core.committed for m in self.members.values()]
            # the node's view: the state machine itself may be mid-restore in a worker thread
            applied = [m.node.status().applied_index for m in self.members.values()]
            if len(set(applied)) == 1 and applied[0] >= max(commits):
                return
            assert asyncio.get_running_loop().time() < deadline, f"no convergence: {applied} {commits}"
            await asyncio.sleep(0.02)
