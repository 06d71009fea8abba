"""A controller node: the replicated network state (Raft + LMDB) behind one gRPC API server.

`ControllerNode(config)` opens (or founds, or joins) the member's Raft log and state store,
serves NetworkService, WatchService, ClusterService, GoalStateService, gRPC health and
reflection on the API address, the Raft transport on the peer address, and Prometheus metrics
when asked. `start()` and `stop()` run inside an asyncio loop; `run()` is the process body
(`alcor controller run`) with a graceful stop on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from alcor.controller.api.auth import Authenticator
from alcor.controller.api.errors import status_of
from alcor.controller.api.goalstate import GoalStateServicer
from alcor.controller.api.network import NetworkServicer
from alcor.controller.api.watch import WatchServicer
from alcor.controller.compactor import compact_forever
from alcor.controller.config import NodeConfig
from alcor.controller.goalstate import GoalStateHub
from alcor.controller.goalstate.peers import HostProgressServicer, PeerProgress
from alcor.controller.metrics import Metrics
from alcor.controller.replica import Replica, StoreStateMachine
from alcor.controller.state import StoreConfig
from alcor.raft.config import Config
from alcor.raft.lmdb_storage import LmdbStorage
from alcor.raft.node import RaftNode, bootstrap_storage
from alcor.raft.service import ClusterServicer
from alcor.raft.transport import TlsFiles
from alcor.v1 import cluster_pb2, cluster_pb2_grpc, goalstate_pb2, network_pb2, watch_pb2

log = logging.getLogger(__name__)

SERVICES = (
    network_pb2.DESCRIPTOR.services_by_name["NetworkService"].full_name,
    watch_pb2.DESCRIPTOR.services_by_name["WatchService"].full_name,
    cluster_pb2.DESCRIPTOR.services_by_name["ClusterService"].full_name,
    goalstate_pb2.DESCRIPTOR.services_by_name["GoalStateService"].full_name,
)
CLUSTER_PREFIX = f"/{SERVICES[2]}/"
GOAL_STATE_SERVICE = SERVICES[3]
# API messages: a bulk create of thousands of ports is several MB
MAX_MESSAGE = 64 << 20
REMOVED_LINGER_S = 1.0  # a removed member keeps running this long, for its last Raft messages
# each step of a shutdown gets this long (past the streams' grace): a stop that hangs is logged
# and passed over, so that SIGTERM always ends the process with its data synced and closed
STOP_STEP_S = 10.0
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    # agents keep streams open for days: let them ping, and drop dead peers (shared/notes)
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


class ClusterAuth(grpc.aio.ServerInterceptor):
    """Membership and leadership changes need an admin identity; Status needs none (a joining
    member asks it where the cluster is before anyone has added it)."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    async def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
        handler = await continuation(details)
        method = details.method
        if not method.startswith(CLUSTER_PREFIX) or method.endswith("/Status") or self.auth.open:
            return handler
        auth = self.auth

        async def guarded(request, context):  # type: ignore[no-untyped-def]
            try:
                identity = auth.identify(context)
            except Exception as exc:  # Unauthenticated becomes the status
                status = status_of(exc)
                if status is None:
                    raise
                await context.abort_with_status(status)
            if not identity.admin:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                    f"{identity.describe()}: cluster membership needs an admin token")
            return await handler.unary_unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


class ControllerNode:
    def __init__(self, config: NodeConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng
        self.metrics = Metrics()
        self.auth = Authenticator.from_file(config.token_file or None)
        self.api_port = 0
        self.metrics_port = 0
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        c = self.config
        root = Path(c.data_dir)
        root.mkdir(parents=True, exist_ok=True)
        secret = Path(c.peer_secret_file).read_text().strip() if c.peer_secret_file else None
        peer_tls = TlsFiles(Path(c.tls_ca), Path(c.tls_cert), Path(c.tls_key)) if c.tls_ca else None
        known: dict[str, tuple[str, str]] = {}
        raft_dir = str(root / "raft")
        fresh = not (root / "raft").exists()
        if c.join and fresh:
            known = await self._learn_members(c.join)
            storage = LmdbStorage(raft_dir, sync=c.fsync)
        elif c.join:
            storage = LmdbStorage(raft_dir, sync=c.fsync)
        else:
            storage = bootstrap_storage(raft_dir, c.founding, sync=c.fsync)
        self.storage = storage
        self.sm = StoreStateMachine(root / "state", StoreConfig(vni_range=c.vni_range))
        self.raft = RaftNode(Config(c.id), storage, self.sm, secret=secret, tls=peer_tls,
                             tick_seconds=c.tick_seconds, snapshot_entries=c.snapshot_entries,
                             rng=self.rng, known_members=known)
        self.replica = Replica(self.raft, self.sm)
        self.hub = GoalStateHub(self.replica, metrics=self.metrics, peers=PeerProgress(self.raft.transport))
        self.metrics.watch_raft(self.raft.status)

        self.peer_server = grpc.aio.server(options=SERVER_OPTIONS)
        self.raft.transport.add_to_server(self.peer_server)
        HostProgressServicer(self.hub.progress, self.raft.transport).add_to_server(self.peer_server)
        if peer_tls is not None:
            self.peer_server.add_secure_port(c.peer_listen, peer_tls.server_credentials())
        else:
            self.peer_server.add_insecure_port(c.peer_listen)

        self.api_server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=[ClusterAuth(self.auth)])
        NetworkServicer(self.replica, self.auth, self.metrics, hosts=self.hub).add_to_server(self.api_server)
        WatchServicer(self.replica, self.auth, self.metrics).add_to_server(self.api_server)
        ClusterServicer(self.raft).add_to_server(self.api_server)
        GoalStateServicer(self.hub, self.auth).add_to_server(self.api_server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.api_server)
        reflection.enable_server_reflection((*SERVICES, reflection.SERVICE_NAME, health.SERVICE_NAME),
                                            self.api_server)
        if c.tls:
            creds = grpc.ssl_server_credentials(
                [(Path(c.tls_key).read_bytes(), Path(c.tls_cert).read_bytes())],
                root_certificates=Path(c.tls_ca).read_bytes() if c.tls_ca else None,
                require_client_auth=False,  # agents may present a host certificate; clients need not
            )
            self.api_port = self.api_server.add_secure_port(c.listen, creds)
        else:
            self.api_port = self.api_server.add_insecure_port(c.listen)

        await self.peer_server.start()
        await self.raft.start()
        await self.hub.start()
        await self.api_server.start()
        self._compactor = asyncio.create_task(compact_forever(self.replica, c.history, c.compact_interval))
        if c.metrics_listen:
            host, _, port = c.metrics_listen.rpartition(":")
            self.metrics_port = self.metrics.serve(host, int(port))
        # the goal-state service serves once the hub's first load is done (agents wait for it)
        await _set_health(self.health, health_pb2.HealthCheckResponse.NOT_SERVING, (GOAL_STATE_SERVICE,))
        await _set_health(self.health, health_pb2.HealthCheckResponse.SERVING, ("", *SERVICES[:3]))
        self._goal_state_health = asyncio.create_task(self._serve_goal_state_when_loaded())
        self._started = True
        if self.auth.open:
            log.warning("%s: no token file: the API is open, every caller is admin", c.id)
        log.info("%s: serving the API on %s, Raft peers on %s", c.id, c.listen, c.peer_listen)

    async def _serve_goal_state_when_loaded(self) -> None:
        await self.hub.loaded.wait()
        await _set_health(self.health, health_pb2.HealthCheckResponse.SERVING, (GOAL_STATE_SERVICE,))

    async def _learn_members(self, endpoint: str) -> dict[str, tuple[str, str]]:
        """Ask a running cluster who its members are (a joining node's log is empty)."""
        creds = _client_credentials(self.config)
        async with (grpc.aio.secure_channel(endpoint, creds) if creds else grpc.aio.insecure_channel(endpoint)) as ch:
            try:
                status = await cluster_pb2_grpc.ClusterServiceStub(ch).Status(
                    cluster_pb2.ClusterStatusRequest(), timeout=10)
            except grpc.aio.AioRpcError as e:
                raise RuntimeError(f"cannot join through {endpoint}: {e.code().name}: {e.details()}") from None
        return {m.id: (m.peer_address, m.api_address) for m in status.members}

    async def stop(self, grace: float = 2.0) -> None:
        if not self._started:
            return
        self._started = False
        await _set_health(self.health, health_pb2.HealthCheckResponse.NOT_SERVING)
        # streams (agents, watches) get `grace` to finish; new calls are refused meanwhile
        await _bounded("the API server", self.api_server.stop(grace), grace + STOP_STEP_S)
        for task in (self._compactor, self._goal_state_health):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await _bounded("the goal-state hub", self.hub.stop(), STOP_STEP_S)
        await _bounded("Raft", self.raft.stop(), STOP_STEP_S)
        await _bounded("the peer server", self.peer_server.stop(None), STOP_STEP_S)
        self.metrics.close()
        self.sm.close()
        self.storage.close()

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, or until this member is removed from the cluster (its
        state would no longer move), then stop gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.raft.removed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if self.raft.removed.is_set() and not stop.is_set():
                log.warning("%s: removed from the cluster: stopping (to come back, start a member with "
                            "a new --id, an empty --data-dir and --join, then `alcor cluster join`)",
                            self.config.id)
                # a removed leader's last messages tell the others the commit index
                async with asyncio.timeout(REMOVED_LINGER_S):
                    await stop.wait()
        except TimeoutError:
            pass
        finally:
            for w in waits:
                w.cancel()
            log.info("%s: stopping", self.config.id)
            await self.stop()


async def _bounded(what: str, step: Coroutine[Any, Any, object], seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        pending = [t for t in asyncio.all_tasks() if not t.done()]
        log.error(
            "%s did not stop within %.0f s; stopping the rest (%d tasks still running, e.g. %s)",
            what, seconds, len(pending), [t.get_coro() for t in pending[:5]],
        )


def _client_credentials(c: NodeConfig) -> grpc.ChannelCredentials | None:
    if not c.tls:
        return None
    return grpc.ssl_channel_credentials(Path(c.tls_ca).read_bytes() if c.tls_ca else None)


async def _set_health(
    servicer: health.aio.HealthServicer, status: int, names: tuple[str, ...] = ("", *SERVICES)
) -> None:
    for name in names:
        await servicer.set(name, status)
