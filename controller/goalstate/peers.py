"""Host progress across controller members: each member serves what its own agents acked
(`HostProgressServicer`, on the peer port) and asks the others (`PeerProgress`), so a
WaitForHosts answered by any member sees every host, whichever member its agent streams from."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import grpc

from alcor.internal import progress_pb2, progress_pb2_grpc
from alcor.raft.transport import PeerTransport
from alcor.v1 import network_pb2 as net

log = logging.getLogger(__name__)

PEER_TIMEOUT_S = 1.0  # a member that does not answer in time is left out of this round


def merge(progress: Iterable[net.HostProgress], into: dict[str, net.HostProgress]) -> None:
    """Fold reports of the same hosts together: the highest applied revision, connected if
    connected to any member."""
    for p in progress:
        held = into.get(p.host_id)
        if held is None:
            into[p.host_id] = net.HostProgress(
                host_id=p.host_id, applied_revision=p.applied_revision, connected=p.connected
            )
            continue
        held.applied_revision = max(held.applied_revision, p.applied_revision)
        held.connected = held.connected or p.connected


class HostProgressServicer(progress_pb2_grpc.HostProgressServiceServicer):
    """Answers a peer with what this member's agents applied."""

    def __init__(self, local: Callable[[list[str]], list[net.HostProgress]], transport: PeerTransport) -> None:
        self.local = local
        self.transport = transport

    def add_to_server(self, server: grpc.aio.Server) -> None:
        progress_pb2_grpc.add_HostProgressServiceServicer_to_server(self, server)

    async def Applied(
        self, request: progress_pb2.AppliedRequest, context: grpc.aio.ServicerContext
    ) -> progress_pb2.AppliedResponse:
        await self.transport.authenticate(context)
        return progress_pb2.AppliedResponse(hosts=self.local(list(request.host_ids)))


class PeerProgress:
    """Asks every other member, at once, what their agents applied of the given hosts."""

    def __init__(self, transport: PeerTransport, timeout: float = PEER_TIMEOUT_S) -> None:
        self.transport = transport
        self.timeout = timeout

    async def __call__(self, host_ids: list[str]) -> list[net.HostProgress]:
        if not host_ids:
            return []
        request = progress_pb2.AppliedRequest(host_ids=host_ids)
        peers = self.transport.peer_ids()
        answers = await asyncio.gather(*(self._ask(p, request) for p in peers), return_exceptions=True)
        out: dict[str, net.HostProgress] = {}
        for peer, answer in zip(peers, answers, strict=True):
            if isinstance(answer, BaseException):
                # a member down or partitioned: its agents move to others, asked next round
                log.debug("host progress from %s: %s", peer, answer)
                continue
            merge(answer.hosts, out)
        return list(out.values())

    async def _ask(self, peer: str, request: progress_pb2.AppliedRequest) -> progress_pb2.AppliedResponse:
        stub = progress_pb2_grpc.HostProgressServiceStub(self.transport.channel_to(peer))
        return await stub.Applied(request, timeout=self.timeout, metadata=self.transport.metadata())
