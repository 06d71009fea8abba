"""Moving Raft messages between peers over gRPC (grpc.aio): one stream per peer, snapshots in chunks.

Sending never blocks the node loop: `send()` sorts messages into a bounded queue per peer and a
task per peer drains it onto that peer's stream, reconnecting with backoff. Raft tolerates lost
messages, so a full queue or a broken stream drops messages rather than stalling consensus; the
core's probing and heartbeats resend what matters. Received messages are handed to `deliver`
(the node loop's inbox) in arrival order.

Security: TLS with mutual certificate checks when `TlsFiles` are given, and a cluster secret that
every call must present ("authorization: Bearer <secret>"); a peer without it is refused with
UNAUTHENTICATED before any of its messages reach the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from alcor.internal import peer_pb2, peer_pb2_grpc
from alcor.internal import raft_pb2 as pb

from .errors import NotLeader, OutcomeUnknown, ProposalDropped, ProposalLost, RaftError
from .types import Message, MessageType, Snapshot
from .wire import message_from_pb, message_to_pb

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Messages waiting per peer; beyond this a slow or dead peer loses messages, not memory.
QUEUE_LIMIT = 4096
# A peer stream carries batches of up to this many messages per frame.
BATCH_LIMIT = 256
MAX_MESSAGE_BYTES = 64 << 20
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # a dead peer is noticed within seconds even when no message is flowing to it
    ("grpc.keepalive_time_ms", 5_000),
    ("grpc.keepalive_timeout_ms", 3_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # fast reconnects: the default backoff would hide a restarted peer for up to two minutes
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]
SERVER_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 4_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_permit_without_calls", 1),
]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files: this node's certificate and key, and the CA that signs every peer's."""

    ca: Path
    cert: Path
    key: Path

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.ca.read_bytes(),
            require_client_auth=True,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            self.ca.read_bytes(), self.key.read_bytes(), self.cert.read_bytes()
        )


def _bearer(secret: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {secret}")] if secret else []


class PeerTransport(peer_pb2_grpc.RaftPeerServicer):
    """Both sides of the peer protocol for node `node_id`; add it to a grpc.aio server."""

    def __init__(
        self,
        node_id: str,
        deliver: Callable[[Message], None],
        secret: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.node_id = node_id
        self._deliver = deliver
        self._secret = secret
        self._tls = tls
        self._peers: dict[str, _Peer] = {}
        # the log index at which the cluster removed a member (None: it did not, or not since
        # this node started), and what to do when a peer says so of this node
        self.removed_at: Callable[[str], int | None] = lambda member_id: None
        self.on_removed: Callable[[int], None] | None = None
        # serves a follower's forwarded proposal on the leader: (data, context) -> result
        self.on_propose: Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]] | None = None
        self.dropped = 0  # messages dropped on full queues or broken streams (a metric)

    # -- configuration ----------------------------------------------------------------------

    def add_to_server(self, server: grpc.aio.Server) -> None:
        peer_pb2_grpc.add_RaftPeerServicer_to_server(self, server)

    def set_peers(self, addresses: dict[str, str]) -> None:
        """The peers to talk to (id -> host:port), excluding this node; others are closed."""
        for peer_id in list(self._peers):
            if peer_id not in addresses or self._peers[peer_id].address != addresses[peer_id]:
                self._peers.pop(peer_id).close()
        for peer_id, address in addresses.items():
            if peer_id != self.node_id and peer_id not in self._peers:
                self._peers[peer_id] = _Peer(self, peer_id, address)

    async def close(self) -> None:
        peers, self._peers = list(self._peers.values()), {}
        for p in peers:
            p.close()
        for p in peers:
            await p.closed()

    # -- sending ------------------------------------------------------------------------------

    def send(self, messages: list[Message]) -> None:
        for m in messages:
            peer = self._peers.get(m.to_id)
            if peer is None:
                self.dropped += 1  # not (yet) a known peer: Raft will retry
                continue
            peer.enqueue(m)

    def peer_ids(self) -> list[str]:
        """The peers this node talks to (every other member it knows)."""
        return list(self._peers)

    def metadata(self) -> list[tuple[str, str]]:
        """What a call to a peer presents (the cluster secret), for calls other than Raft's."""
        return _bearer(self._secret)

    def channel_to(self, peer_id: str) -> grpc.aio.Channel:
        """The open channel to a known peer (for calls other than the message stream)."""
        peer = self._peers.get(peer_id)
        if peer is None:
            raise NotLeader(peer_id)
        return peer.channel

    def _channel(self, address: str) -> grpc.aio.Channel:
        if self._tls is not None:
            return grpc.aio.secure_channel(address, self._tls.channel_credentials(), options=CHANNEL_OPTIONS)
        return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)

    # -- receiving ----------------------------------------------------------------------------

    async def authenticate(self, context: grpc.aio.ServicerContext) -> None:
        """Abort the call unless it presents the cluster secret (when one is configured)."""
        if not self._secret:
            return
        expected = f"Bearer {self._secret}".encode()
        presented = dict(context.invocation_metadata() or ()).get("authorization", "")
        if not hmac.compare_digest(str(presented).encode(), expected):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "raft peer did not present the cluster secret"
            )

    def _accept(self, m: pb.Message) -> None:
        if m.to_id != self.node_id:
            log.warning("dropping a raft message for %r received by %r", m.to_id, self.node_id)
            return
        self._deliver(message_from_pb(m))

    async def Send(
        self, request_iterator: AsyncIterator[pb.MessageBatch], context: grpc.aio.ServicerContext
    ) -> peer_pb2.PeerAck:
        await self.authenticate(context)
        async for batch in request_iterator:
            for m in batch.messages:
                if m.type in _CAMPAIGN and (removed := self.removed_at(m.from_id)) is not None:
                    # a member that missed its own removal campaigns for ever: tell it (it
                    # stops if it has not applied that far; a re-added member has, and goes on)
                    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{REMOVED_AT}{removed}")
                self._accept(m)
        return peer_pb2.PeerAck()

    async def InstallSnapshot(
        self, request_iterator: AsyncIterator[peer_pb2.SnapshotChunk], context: grpc.aio.ServicerContext
    ) -> peer_pb2.PeerAck:
        await self.authenticate(context)
        head: pb.Message | None = None
        parts: list[bytes] = []
        async for chunk in request_iterator:
            if chunk.HasField("message"):
                head = chunk.message
            parts.append(chunk.data)
        if head is None or head.type != MessageType.SNAPSHOT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "snapshot stream without its SNAPSHOT message"
            )
            raise AssertionError("unreachable")
        head.snapshot.data = b"".join(parts)
        self._accept(head)
        return peer_pb2.PeerAck()

    async def Propose(
        self, request: peer_pb2.ProposeRequest, context: grpc.aio.ServicerContext
    ) -> peer_pb2.ProposeResponse:
        await self.authenticate(context)
        if self.on_propose is None:
            # an answer, not a transport failure: the follower knows nothing was appended
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not the leader: no node is attached")
            raise AssertionError("unreachable")
        on_propose = self.on_propose
        # proposed together: they share a Ready, an fsync and a replication round
        outcomes = await asyncio.gather(
            *(on_propose(data, context) for data in request.proposals), return_exceptions=True
        )
        response = peer_pb2.ProposeResponse()
        for outcome in outcomes:
            if isinstance(outcome, RaftError):
                response.outcomes.add(code=status_code(outcome).value[0], detail=str(outcome))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                response.outcomes.add(result=outcome)
        return response


# what a peer answers a removed member's campaign with, followed by the removal's log index
REMOVED_AT = "removed from the cluster at index "
_CAMPAIGN = (MessageType.PREVOTE, MessageType.VOTE)


def status_code(e: RaftError) -> grpc.StatusCode:
    """How a RaftError travels back to a forwarding follower."""
    if isinstance(e, NotLeader | ProposalDropped):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(e, ProposalLost):
        return grpc.StatusCode.ABORTED
    return grpc.StatusCode.DEADLINE_EXCEEDED


def error_from_status(e: grpc.aio.AioRpcError, leader: str) -> RaftError:
    """The RaftError of a forwarding request that failed as a whole. Only the leader's own
    refusal (FAILED_PRECONDITION: no node attached) says nothing was appended; anything else,
    UNAVAILABLE included (a connection reset by a leader killed mid-request looks the same as
    one that was never made), leaves the proposals' fate unknown."""
    if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
        return NotLeader("")
    return OutcomeUnknown(f"forwarded to {leader}: {e.code().name}: {e.details() or ''}")


_CODES = {c.value[0]: c for c in grpc.StatusCode}


def error_from_code(code: grpc.StatusCode | int, detail: str, leader: str) -> RaftError:
    """The RaftError of one proposal's outcome in a forwarding reply (the inverse of status_code)."""
    if isinstance(code, int):
        code = _CODES.get(code, grpc.StatusCode.UNKNOWN)
    if code == grpc.StatusCode.UNAVAILABLE:
        return NotLeader("")
    if code == grpc.StatusCode.ABORTED:
        return ProposalLost(detail)
    return OutcomeUnknown(f"forwarded to {leader}: {code.name}: {detail}")


class _Peer:
    """The sending side towards one peer: a queue, a channel, and the task that drains one into the other."""

    def __init__(self, transport: PeerTransport, peer_id: str, address: str) -> None:
        self.transport = transport
        self.peer_id = peer_id
        self.address = address
        self.queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_LIMIT)
        self.snapshots: asyncio.Queue[Message] = asyncio.Queue(1)
        self.channel = transport._channel(address)
        self.stub = peer_pb2_grpc.RaftPeerStub(self.channel)
        self.tasks = [asyncio.create_task(self._stream()), asyncio.create_task(self._snapshot_sender())]

    def enqueue(self, m: Message) -> None:
        queue = self.snapshots if m.type == MessageType.SNAPSHOT else self.queue
        try:
            queue.put_nowait(m)
        except asyncio.QueueFull:
            self.transport.dropped += 1

    def close(self) -> None:
        for t in self.tasks:
            t.cancel()

    async def closed(self) -> None:
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.channel.close()

    def _next_batch(self, first: Message) -> pb.MessageBatch:
        batch = pb.MessageBatch()
        batch.messages.append(message_to_pb(first))
        while len(batch.messages) < BATCH_LIMIT and not self.queue.empty():
            batch.messages.append(message_to_pb(self.queue.get_nowait()))
        return batch

    async def _stream(self) -> None:
        backoff = 0.05
        metadata = self.transport.metadata()
        while True:
            # Written here rather than from a request iterator: grpc.aio would consume that in
            # a task of its own, one more loop step between the node's send() and the wire.
            call = self.stub.Send(metadata=metadata)
            try:
                while True:
                    batch = self._next_batch(await self.queue.get())
                    await call.write(batch)
                    backoff = 0.05
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                pass  # the stream broke: start another one after a pause
            finally:
                call.cancel()  # a no-op if it broke; ends it if this task is cancelled
            code, details = await call.code(), await call.details() or ""
            if code == grpc.StatusCode.UNAUTHENTICATED:
                log.error("raft peer %s refused us: %s", self.peer_id, details)
            elif code == grpc.StatusCode.FAILED_PRECONDITION and details.startswith(REMOVED_AT):
                index = details.removeprefix(REMOVED_AT)
                if self.transport.on_removed is not None and index.isdigit():
                    self.transport.on_removed(int(index))
            # whatever was queued meanwhile is stale by the time the peer is back
            self._drain()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
            self.transport.dropped += 1

    async def _snapshot_sender(self) -> None:
        metadata = self.transport.metadata()
        while True:
            m = await self.snapshots.get()
            snapshot = m.snapshot or Snapshot()
            head = message_to_pb(replace(m, snapshot=Snapshot(snapshot.metadata, b"")))
            data = snapshot.data

            async def chunks(
                head: pb.Message = head, data: bytes = data
            ) -> AsyncIterator[peer_pb2.SnapshotChunk]:
                view = memoryview(data)
                yield peer_pb2.SnapshotChunk(message=head, data=bytes(view[:CHUNK_BYTES]))
                for at in range(CHUNK_BYTES, len(data), CHUNK_BYTES):
                    yield peer_pb2.SnapshotChunk(data=bytes(view[at : at + CHUNK_BYTES]))

            try:
                await self.stub.InstallSnapshot(chunks(), metadata=metadata)
            except grpc.aio.AioRpcError as e:
                # the leader notices no ack and sends the snapshot again on a later probe
                log.warning("snapshot to %s failed: %s", self.peer_id, e.details())
