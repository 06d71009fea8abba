"""A Raft member process replicating KvStateMachine, for process-level Raft tests and bench_raft.

    python tests/support/kvserver.py --id a --dir D --peer 127.0.0.1:P --api 127.0.0.1:Q \\
        (--bootstrap a=127.0.0.1:P/127.0.0.1:Q,b=...,c=... | --join API_ENDPOINT)

The API port serves alcor.v1.ClusterService and raw-bytes methods (no proto needed for a test service):
/kv/Put (b"key=value" -> b"index:previous"), /kv/Get (key -> value, linearizable),
/kv/Status (-> JSON), /kv/Dump (this replica's items as JSON, unconfirmed). Raft errors map to UNAVAILABLE (no leader / not the leader: try another
member), ABORTED (certainly not applied), DEADLINE_EXCEEDED (fate unknown).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

import grpc
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alcor.raft.config import Config
from alcor.raft.errors import NotLeader, OutcomeUnknown, ProposalLost, RaftError, ReadTimeout
from alcor.raft.lmdb_storage import LmdbStorage
from alcor.raft.node import RaftNode, bootstrap_storage
from alcor.raft.service import ClusterServicer
from alcor.raft.types import Role
from alcor.sdk import Client
from support.kv import KvStateMachine


def code_for(e: RaftError) -> grpc.StatusCode:
    if isinstance(e, NotLeader | ReadTimeout):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(e, ProposalLost):
        return grpc.StatusCode.ABORTED
    if isinstance(e, OutcomeUnknown):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.UNAVAILABLE


def handlers(node: RaftNode, sm: KvStateMachine) -> grpc.GenericRpcHandler:
    async def put(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            return await node.propose(request, timeout=3.0) or b""
        except RaftError as e:
            await context.abort(code_for(e), f"{type(e).__name__}: {e}")
            raise

    async def get(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            await node.linearizable_read(timeout=2.0)
        except RaftError as e:
            await context.abort(code_for(e), f"{type(e).__name__}: {e}")
            raise
        with sm.env.begin() as txn:
            return bytes(txn.get(request) or b"")

    async def load(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        # in-process proposers (b"<inflight>,<seconds>"): the workload pysyncobj is measured on
        inflight, seconds = (float(x) for x in request.split(b","))
        done = 0
        loop = asyncio.get_running_loop()
        stop = loop.time() + seconds

        async def proposer(w: int) -> None:
            nonlocal done
            i = 0
            while loop.time() < stop:
                await node.propose(b"load%d-%d=v" % (w, i))
                i += 1
                done += 1

        start = loop.time()
        await asyncio.gather(*(proposer(w) for w in range(int(inflight))))
        return json.dumps({"commits_per_s": done / (loop.time() - start)}).encode()

    async def dump(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        # local and unconfirmed on purpose: tests compare what each replica actually holds
        return json.dumps({k.decode(): v.decode() for k, v in sm.items().items()}).encode()

    async def status(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        s = node.status()
        return json.dumps({
            "id": s.id, "leader": s.leader, "is_leader": s.role == Role.LEADER, "term": s.term,
            "commit": s.commit_index, "applied": s.applied_index,
            "members": [m.id for m in s.members], "counters": node.counters,
        }).encode()

    return grpc.method_handlers_generic_handler("kv", {
        "Put": grpc.unary_unary_rpc_method_handler(put),
        "Get": grpc.unary_unary_rpc_method_handler(get),
        "Status": grpc.unary_unary_rpc_method_handler(status),
        "Dump": grpc.unary_unary_rpc_method_handler(dump),
        "Load": grpc.unary_unary_rpc_method_handler(load),
    })


async def serve(opts: argparse.Namespace) -> None:
    root = Path(opts.dir)
    known: dict[str, tuple[str, str]] = {}
    if opts.join:
        # an empty log: learn where the members are from the cluster, then wait to be added
        with Client(opts.join) as client:
            known = {m.id: (m.peer_address, m.api_address) for m in client.cluster_status().members}
        storage = LmdbStorage(root / "raft", sync=not opts.no_fsync)
    else:
        founding = {}
        for part in opts.bootstrap.split(","):
            mid, _, addrs = part.partition("=")
            peer, _, api = addrs.partition("/")
            founding[mid] = (peer, api)
        storage = bootstrap_storage(str(root / "raft"), founding, sync=not opts.no_fsync)
    sm = KvStateMachine(root / "state")
    node = RaftNode(Config(opts.id), storage, sm, secret=opts.secret, tick_seconds=opts.tick,
                    snapshot_entries=opts.snapshot_entries, known_members=known)
    peer_server = grpc.aio.server()
    node.transport.add_to_server(peer_server)
    peer_server.add_insecure_port(opts.peer)
    api_server = grpc.aio.server()
    api_server.add_generic_rpc_handlers([handlers(node, sm)])
    ClusterServicer(node).add_to_server(api_server)
    api_server.add_insecure_port(opts.api)
    await peer_server.start()
    await api_server.start()
    await node.start()
    print(f"ready {opts.id}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await api_server.stop(0.5)
    await node.stop()
    await peer_server.stop(None)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--id", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--api", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--bootstrap", help="id=peer/api,... of the founding members")
    group.add_argument("--join", help="an API endpoint of the cluster to join")
    p.add_argument("--secret", default="kv-test-secret")
    p.add_argument("--tick", type=float, default=0.05)
    p.add_argument("--snapshot-entries", type=int, default=20_000)
    p.add_argument("--no-fsync", action="store_true")
    uvloop.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
