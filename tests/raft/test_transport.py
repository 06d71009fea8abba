"""The gRPC peer transport on loopback: delivery in order, chunked snapshots, the cluster secret."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from support.certs import issue, make_ca

from alcor.internal import peer_pb2, peer_pb2_grpc
from alcor.raft.errors import NotLeader, OutcomeUnknown, ProposalLost
from alcor.raft.transport import QUEUE_LIMIT, PeerTransport, TlsFiles, error_from_code, error_from_status
from alcor.raft.types import ConfState, Entry, Message, MessageType, Snapshot, SnapshotMetadata


async def start(node_id: str, inbox: list[Message], secret: str | None) -> tuple[grpc.aio.Server, PeerTransport, str]:
    transport = PeerTransport(node_id, inbox.append, secret=secret)
    server = grpc.aio.server()
    transport.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, transport, f"127.0.0.1:{port}"


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def append(i: int) -> Message:
    return Message(MessageType.APPEND, "b", "a", term=2, index=i, entries=[Entry(2, i + 1, 0, b"cmd%d" % i)])


async def pair(secret_a: str | None, secret_b: str | None):  # type: ignore[no-untyped-def]
    got_a: list[Message] = []
    got_b: list[Message] = []
    sa, ta, addr_a = await start("a", got_a, secret_a)
    sb, tb, addr_b = await start("b", got_b, secret_b)
    ta.set_peers({"b": addr_b})
    tb.set_peers({"a": addr_a})
    return (sa, ta, got_a), (sb, tb, got_b)


async def stop(*sides) -> None:  # type: ignore[no-untyped-def]
    for server, transport, _ in sides:
        await transport.close()
        await server.stop(None)


def test_messages_arrive_in_order_both_ways() -> None:
    async def main() -> None:
        a, b = await pair("s3cret", "s3cret")
        a[1].send([append(i) for i in range(500)])
        await wait_for(lambda: len(b[2]) == 500)
        assert [m.index for m in b[2]] == list(range(500))
        assert b[2][7].entries[0].data == b"cmd7" and b[2][7].from_id == "a"
        b[1].send([Message(MessageType.APPEND_RESP, "a", "b", term=2, index=499)])
        await wait_for(lambda: len(a[2]) == 1)
        assert a[2][0].type == MessageType.APPEND_RESP
        await stop(a, b)

    asyncio.run(main())


def test_large_snapshot_travels_in_chunks() -> None:
    async def main() -> None:
        a, b = await pair(None, None)
        data = bytes(range(256)) * (5 * 4096 + 3)  # ~5 MiB: several chunks and a ragged tail
        snap = Snapshot(SnapshotMetadata(900, 4, ConfState(("a", "b", "c"))), data)
        a[1].send([Message(MessageType.SNAPSHOT, "b", "a", term=4, snapshot=snap)])
        await wait_for(lambda: len(b[2]) == 1)
        got = b[2][0].snapshot
        assert got is not None and got.metadata == snap.metadata and got.data == data
        await stop(a, b)

    asyncio.run(main())


@pytest.mark.parametrize("presented", [None, "wrong"])
def test_a_peer_without_the_secret_is_refused(presented: str | None) -> None:
    async def main() -> None:
        a, b = await pair(presented, "s3cret")
        a[1].send([append(i) for i in range(10)])
        await asyncio.sleep(0.5)
        assert b[2] == []
        await stop(a, b)

    asyncio.run(main())


def test_unknown_peer_and_dead_peer_do_not_block() -> None:
    async def main() -> None:
        got: list[Message] = []
        server, transport, _ = await start("a", got, None)
        transport.set_peers({"b": "127.0.0.1:1"})  # nothing listens there
        transport.send([append(i) for i in range(10_000)] + [Message(MessageType.HEARTBEAT, "zz", "a")])
        await asyncio.sleep(0.2)
        # send() never waits: the unknown peer's message and everything past the queue bound
        # are dropped on the spot (Raft resends what matters)
        assert transport.dropped >= 1 + 10_000 - QUEUE_LIMIT
        await transport.close()
        await server.stop(None)

    asyncio.run(main())


def test_mutual_tls_between_peers_and_a_stranger_is_refused(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    a_cert, a_key = issue(tmp_path, ca, "a")
    b_cert, b_key = issue(tmp_path, ca, "b")
    stranger_ca = make_ca(tmp_path, "stranger-ca")
    s_cert, s_key = issue(tmp_path, stranger_ca, "s")

    async def serve(node_id: str, tls: TlsFiles, inbox: list[Message]) -> tuple[grpc.aio.Server, PeerTransport, str]:
        transport = PeerTransport(node_id, inbox.append, tls=tls)
        server = grpc.aio.server()
        transport.add_to_server(server)
        port = server.add_secure_port("127.0.0.1:0", tls.server_credentials())
        await server.start()
        return server, transport, f"127.0.0.1:{port}"

    async def main() -> None:
        got_b: list[Message] = []
        sa, ta, _ = await serve("a", TlsFiles(ca[0], a_cert, a_key), [])
        sb, tb, addr_b = await serve("b", TlsFiles(ca[0], b_cert, b_key), got_b)
        ta.set_peers({"b": addr_b})
        ta.send([append(i) for i in range(5)])
        await wait_for(lambda: len(got_b) == 5)
        # a peer whose certificate another CA signed never gets a message through
        ts = PeerTransport("a", [].append, tls=TlsFiles(stranger_ca[0], s_cert, s_key))
        ts.set_peers({"b": addr_b})
        ts.send([append(i) for i in range(5, 10)])
        await asyncio.sleep(0.5)
        assert [m.index for m in got_b] == [0, 1, 2, 3, 4]
        await ts.close()
        for server, transport in ((sa, ta), (sb, tb)):
            await transport.close()
            await server.stop(None)

    asyncio.run(main())


def test_forwarded_proposals_get_one_outcome_each_in_order() -> None:
    """One Propose request carries several proposals; each comes back with its own result or
    status, which the follower maps back to the error the leader raised."""

    async def main() -> None:
        a, b = await pair("s3cret", "s3cret")

        async def on_propose(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
            if data == b"lost":
                raise ProposalLost("overwritten by a new leader")
            if data == b"nobody":
                raise NotLeader("")
            if data == b"slow":
                raise OutcomeUnknown("not decided in time")
            return b"applied:" + data

        b[1].on_propose = on_propose
        stub = peer_pb2_grpc.RaftPeerStub(a[1].channel_to("b"))
        request = peer_pb2.ProposeRequest(proposals=[b"x", b"lost", b"nobody", b"slow", b"y"])
        reply = await stub.Propose(request, metadata=a[1].metadata(), timeout=10)
        assert [o.result for o in reply.outcomes] == [b"applied:x", b"", b"", b"", b"applied:y"]
        errors = [error_from_code(o.code, o.detail, "b") for o in reply.outcomes[1:4]]
        assert [type(e) for e in errors] == [ProposalLost, NotLeader, OutcomeUnknown]
        assert "overwritten by a new leader" in str(errors[0])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Propose(request, timeout=10)  # without the secret
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await stop(a, b)

    asyncio.run(main())


def test_a_forwarding_request_cut_off_in_flight_leaves_its_fate_unknown() -> None:
    """A leader killed while it holds a forwarded request resets the connection: UNAVAILABLE,
    as a refused connection would be, but the proposals may have been appended. Only the
    leader's own refusal (no node attached) says that nothing was."""

    async def main() -> None:
        a, b = await pair("s3cret", "s3cret")
        stub = peer_pb2_grpc.RaftPeerStub(a[1].channel_to("b"))
        request = peer_pb2.ProposeRequest(proposals=[b"x"])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Propose(request, metadata=a[1].metadata(), timeout=10)
        assert isinstance(error_from_status(refused.value, "b"), NotLeader)

        arrived = asyncio.Event()

        async def on_propose(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
            arrived.set()
            await asyncio.sleep(30)  # appended, and then the leader dies before it answers
            return b""

        b[1].on_propose = on_propose
        call = asyncio.ensure_future(stub.Propose(request, metadata=a[1].metadata(), timeout=10))
        await arrived.wait()
        await b[0].stop(None)
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await call
        assert cut.value.code() == grpc.StatusCode.UNAVAILABLE
        assert isinstance(error_from_status(cut.value, "b"), OutcomeUnknown)
        await stop(a, b)

    asyncio.run(main())
