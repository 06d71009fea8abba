"""The floor under bench_raft.py's latency: one replicated, durable write with no Raft in it.

Three processes, as in the Raft cluster: a client's unary gRPC call reaches a leader, which sends
the write over one grpc.aio stream to each of two followers and writes it to its own LMDB
environment; everyone commits it and fdatasyncs (LMDB opened as raft/lmdb_storage.py opens it:
sync off, then `env.sync(True)`), a follower acks after its sync, and the leader answers once it
and one follower hold the write durably. No log, terms, encoding or state machine: whatever a
Raft that keeps acknowledged writes on this machine does, it does at least this, so its latency
cannot go below this one's. bench_raft.py measures both with the same client in one run, and
the floor's parts: the same processes without fdatasync (`sync=False`), and the client's call
alone (`/kv/Ping`, answered at once by the leader).

    python perf/replication_floor.py follower PORT DIR [--no-sync]
    python perf/replication_floor.py leader PORT DIR FOLLOWER_PORT FOLLOWER_PORT [--no-sync]
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import lmdb


def _same(b: bytes) -> bytes:
    return b


SYNC = "--no-sync" not in sys.argv


def _durable_put(env: lmdb.Environment, key: bytes, value: bytes) -> None:
    with env.begin(write=True) as txn:
        txn.put(key, value)
    if SYNC:
        env.sync(True)


def _open(path: str) -> lmdb.Environment:
    Path(path).mkdir(parents=True, exist_ok=True)
    return lmdb.open(path, map_size=1 << 30, sync=False, metasync=False)


async def _serve(port: int, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, handlers)])
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def follower(port: int, path: str) -> None:
    env = _open(path)

    async def append(writes: AsyncIterator[bytes], _: object) -> AsyncIterator[bytes]:
        async for w in writes:
            _durable_put(env, w[:16], w)
            yield w[:16]

    handler = grpc.stream_stream_rpc_method_handler(
        append, request_deserializer=_same, response_serializer=_same
    )
    await _serve(port, "floor", {"Append": handler})


async def leader(port: int, path: str, followers: list[int]) -> None:
    env = _open(path)
    acks: dict[bytes, tuple[list[int], asyncio.Future[None]]] = {}
    outboxes: list[asyncio.Queue[bytes]] = [asyncio.Queue() for _ in followers]

    def ack(key: bytes) -> None:
        held = acks.get(key)
        if held is None:
            return
        held[0][0] += 1
        if held[0][0] >= 2 and not held[1].done():  # a majority of 3: the leader and one follower
            held[1].set_result(None)

    async def stream(port: int, outbox: asyncio.Queue[bytes]) -> None:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        await channel.channel_ready()

        async def writes() -> AsyncIterator[bytes]:
            while True:
                yield await outbox.get()

        call = channel.stream_stream("/floor/Append", request_serializer=_same, response_deserializer=_same)
        async for key in call(writes()):
            ack(key)

    streams = [asyncio.create_task(stream(p, q)) for p, q in zip(followers, outboxes, strict=True)]
    seq = 0

    async def put(value: bytes, _: object) -> bytes:
        nonlocal seq
        seq += 1
        key = b"%016d" % seq
        acks[key] = ([0], asyncio.get_running_loop().create_future())
        write = key + value
        for q in outboxes:
            q.put_nowait(write)
        _durable_put(env, key, write)
        ack(key)
        await acks[key][1]
        del acks[key]
        return b""

    async def ping(_: bytes, __: object) -> bytes:
        return b""

    handlers = {
        "Put": grpc.unary_unary_rpc_method_handler(
            put, request_deserializer=_same, response_serializer=_same
        ),
        "Ping": grpc.unary_unary_rpc_method_handler(
            ping, request_deserializer=_same, response_serializer=_same
        ),
    }
    try:
        await _serve(port, "kv", handlers)
    finally:
        for t in streams:
            t.cancel()


@contextlib.contextmanager
def running(tmp: Path, ports: list[int], sync: bool = True) -> Iterator[str]:
    """Start a leader on ports[0] and followers on ports[1:3] (state under `tmp`; no fdatasync
    unless `sync`); yield the leader's address once it answers, and stop all three on exit."""
    me = str(Path(__file__).resolve())
    extra = [] if sync else ["--no-sync"]
    procs = [
        subprocess.Popen(
            [sys.executable, me, "follower", str(p), str(tmp / f"f{p}"), *extra], stderr=subprocess.DEVNULL
        )
        for p in ports[1:3]
    ]
    procs.append(
        subprocess.Popen(
            [sys.executable, me, "leader", str(ports[0]), str(tmp / "leader"), *map(str, ports[1:3]), *extra],
            stderr=subprocess.DEVNULL,
        )
    )
    address = f"127.0.0.1:{ports[0]}"
    try:
        with grpc.insecure_channel(address) as channel:
            put = channel.unary_unary("/kv/Put")
            deadline = time.monotonic() + 30
            while True:
                try:
                    put(b"ready", timeout=1.0)
                    break
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the replication floor's leader did not answer") from None
                    time.sleep(0.1)
        yield address
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


if __name__ == "__main__":
    role, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if role == "follower":
        asyncio.run(follower(port, path))
    else:
        asyncio.run(leader(port, path, [int(p) for p in sys.argv[4:6]]))
