"""The agent: one goal-state stream to a controller, applied in order, acked, and kept applied.

`Agent.run()` connects to one of `AgentConfig.controllers` (a random one first, then the next
after every failure), sends Hello with the last applied revision, and after Welcome applies each
`GoalStateUpdate` (a large snapshot decoded column-wise as it is read, `dataplane.columns`) to its
`GoalState`, saves it (`store.StateStore`), reconciles the data plane
(`reconciler.Reconciler`) and acks it with per-resource statuses (`acks.StatusBook`) and timings.
Updates that queue up while one is being applied are applied together with one reconcile and then
acked one by one. A delta whose base revision is not the agent's revision, a snapshot older than
what the agent has, or any other message out of place is a protocol error: the stream is dropped
and the agent reconnects, resuming from the revision it really has. Between attempts it waits a
jittered exponential backoff (`backoff.Backoff`, on the injected clock and random source).

A periodic resync reconciles against `driver.installed()` again (repairing what changed under
the agent) and, when the failures changed, acks the current revision again with the changes.
All driver and disk work runs on one worker thread, in order, so the event loop keeps reading
the stream (and keepalives and metrics keep working) while a large snapshot is programmed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc

from alcor import __version__
from alcor.agent.dataplane.columns import COLUMNS_MIN_BYTES, Snapshot, Update, decode_message
from alcor.agent.dataplane.driver import Driver
from alcor.agent.dataplane.model import Config, GoalState, OutOfOrder
from alcor.v1 import goalstate_pb2

from .acks import MAX_STATUSES, StatusBook, ack_message, carried
from .backoff import Backoff
from .channel import KEEPALIVE_MS, TlsFiles, auth_metadata, channel_options, open_channel, parse_endpoints
from .clock import Clock, SystemClock
from .metrics import AgentMetrics
from .reconciler import Outcome, Reconciler
from .store import StateStore

log = logging.getLogger(__name__)
T = TypeVar("T")
# the stream's method, named by the proto: the agent gives it its own deserializer
_SYNC = goalstate_pb2.DESCRIPTOR.services_by_name["GoalStateService"].methods_by_name["Sync"]
SYNC_METHOD = f"/{_SYNC.containing_service.full_name}/{_SYNC.name}"
QUEUE_LIMIT = 64  # updates read ahead of the applier; beyond it HTTP/2 flow control holds the controller


def _message_kind(msg: goalstate_pb2.ControllerMessage | Snapshot) -> str:
    return "update" if isinstance(msg, Snapshot) else str(msg.WhichOneof("message"))


class ProtocolError(Exception):
    """The controller sent something the protocol does not allow at this point."""


class StreamClosed(Exception):
    """The controller ended the stream."""


@dataclass(frozen=True)
class AgentConfig:
    host_id: str
    controllers: Sequence[str]
    underlay_ip: str = ""
    token: str | None = None
    tls: TlsFiles | None = None
    state_dir: Path | None = None  # None: nothing saved, a restart asks for a full snapshot
    resync_interval: float | None = 30.0  # None: no periodic resync
    # the share of time full resync passes may take: after a pass of T seconds the next waits at
    # least T / resync_budget (a host with a million neighbors: ~7 s passes, every ~6 min)
    resync_budget: float = 0.02
    hello_timeout: float = 10.0  # seconds to wait for Welcome
    backoff_initial: float = 0.1
    backoff_max: float = 10.0
    keepalive_ms: int = KEEPALIVE_MS
    # a snapshot older than the agent's revision comes from a lagging controller: refuse it (and
    # try another) this many times in a row, then accept it (the cluster really went back)
    stale_snapshot_limit: int = 3
    max_statuses: int = MAX_STATUSES
    # updates from this size on are decoded column-wise where they can be (`columns`)
    columns_min_bytes: int = COLUMNS_MIN_BYTES
    fsync: bool = True
    agent_version: str = __version__
    dataplane: Config = field(default_factory=Config)

    def __post_init__(self) -> None:
        if not self.host_id or self.host_id.strip() != self.host_id:
            raise ValueError(f"bad host id {self.host_id!r}: must be non-empty without surrounding spaces")
        object.__setattr__(self, "controllers", tuple(parse_endpoints(self.controllers)))
        if self.underlay_ip:
            try:
                ipaddress.IPv4Address(self.underlay_ip)
            except ValueError:
                raise ValueError(f"bad underlay ip {self.underlay_ip!r}: expected an IPv4 address") from None
        if self.resync_interval is not None and self.resync_interval <= 0:
            raise ValueError(f"resync interval must be positive, not {self.resync_interval}")
        if not 0 < self.resync_budget <= 1:
            raise ValueError(f"resync budget must be in (0, 1], not {self.resync_budget}")
        if self.hello_timeout <= 0:
            raise ValueError(f"hello timeout must be positive, not {self.hello_timeout}")
        if self.token is not None and (not self.token or any(c in self.token for c in "\r\n")):
            raise ValueError("the agent token must be non-empty and on one line")


class Agent:
    """One host's agent. The caller owns `driver` (and closes it after `run` returns)."""

    def __init__(
        self,
        config: AgentConfig,
        driver: Driver,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        metrics: AgentMetrics | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config
        self.driver = driver
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.timer = timer  # for the timings in acks and metrics, not for waiting
        self.metrics = metrics or AgentMetrics()
        self.backoff = Backoff(config.backoff_initial, config.backoff_max, rng=self.rng)
        self.store = (
            StateStore(config.state_dir, config.host_id, fsync=config.fsync) if config.state_dir else None
        )
        self.reconciler = Reconciler(driver, config.dataplane, timer=timer)
        self.book = StatusBook(config.max_statuses)
        self.goal = GoalState(host_id=config.host_id)
        self.welcome: goalstate_pb2.Welcome | None = None
        self.endpoint: str | None = None  # the controller of the current stream
        self.sessions = 0  # streams that got as far as Welcome
        self.acks_sent = 0
        self.last_error = ""
        self._next = self.rng.randrange(len(config.controllers))
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"alcor-agent-{config.host_id}")
        self._lock = asyncio.Lock()  # one reconcile, and one writer on the stream, at a time
        self._stopping = asyncio.Event()
        self._call: Any = None  # the open stream once welcomed
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._protocol_errors = 0
        self._stale_snapshots = 0

    # -- public ---------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self.goal.revision

    @property
    def connected(self) -> bool:
        return self._call is not None

    def stop(self) -> None:
        """Ask `run` to end: the stream is closed, the saved state stays."""
        self._stopping.set()

    async def wait_revision(self, revision: int, timeout: float | None = None) -> None:
        """Until the agent has applied (and acked) `revision` or later."""
        if self.goal.revision >= revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, fut))
        async with asyncio.timeout(timeout):
            await fut

    async def run(self) -> None:
        """Run until `stop()`: load saved state, reconcile it, then stream forever."""
        resync: asyncio.Task[None] | None = None
        try:
            if self.store is not None:
                loaded = await self._offload(self.store.load)
                if loaded is not None:
                    self.goal = loaded
                    self.metrics.revision.set(loaded.revision)
                    async with self._lock:
                        # make-before-break: pinned maps kept traffic flowing; fix what differs
                        await self._reconcile("startup")
            if self.config.resync_interval is not None:
                resync = asyncio.create_task(self._resync_loop(self.config.resync_interval))
            await self._connect_loop()
        finally:
            if resync is not None:
                resync.cancel()
                await asyncio.gather(resync, return_exceptions=True)
            for channel in self._channels.values():
                await channel.close()
            self._channels.clear()
            if self.store is not None:
                await self._offload(self.store.close)
            await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
            for _, fut in self._waiters:
                fut.cancel()

    # -- connecting -----------------------------------------------------------------------------

    async def _connect_loop(self) -> None:
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                endpoint = self.config.controllers[self._next]
                self._next = (self._next + 1) % len(self.config.controllers)
                await self._offload(
                    lambda: None
                )  # an abandoned apply finishes before Hello reads the revision
                session = asyncio.create_task(self._session(endpoint))
                await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not session.done():
                    session.cancel()
                    await asyncio.gather(session, return_exceptions=True)
                    return
                self._record_end(endpoint, session.exception())
                if self._stopping.is_set():
                    return
                delay = self.backoff.next()
                self.metrics.reconnects.inc()
                log.info("reconnecting in %.3fs to %s", delay, self.config.controllers[self._next])
                sleep = asyncio.create_task(self.clock.sleep(delay))
                await asyncio.wait({sleep, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not sleep.done():
                    sleep.cancel()
                    await asyncio.gather(sleep, return_exceptions=True)
        finally:
            stopping.cancel()

    def _record_end(self, endpoint: str, error: BaseException | None) -> None:
        if isinstance(error, grpc.aio.AioRpcError):
            reason, text = error.code().name.lower(), f"{error.code().name}: {error.details()}"
        elif isinstance(error, ProtocolError):
            reason, text = "protocol", f"protocol error: {error}"
        elif isinstance(error, StreamClosed | None):
            reason, text = "closed", "the controller ended the stream"
        elif isinstance(error, TimeoutError):
            reason, text = "timeout", f"no Welcome within {self.config.hello_timeout}s"
        else:
            reason, text = "internal", f"{type(error).__name__}: {error}"
            log.error("goal-state stream to %s failed", endpoint, exc_info=error)
        self.last_error = text
        self.metrics.stream_errors.labels(reason).inc()
        level = (
            logging.ERROR
            if reason in ("unauthenticated", "permission_denied", "protocol")
            else logging.WARNING
        )
        log.log(level, "stream to %s ended: %s", endpoint, text)

    def _channel(self, endpoint: str) -> grpc.aio.Channel:
        if endpoint not in self._channels:
            self._channels[endpoint] = open_channel(
                endpoint, self.config.tls, channel_options(self.config.keepalive_ms)
            )
        return self._channels[endpoint]

    # -- one stream -----------------------------------------------------------------------------

    async def _session(self, endpoint: str) -> None:
        min_bytes = self.config.columns_min_bytes
        sync = self._channel(endpoint).stream_stream(
            SYNC_METHOD,
            request_serializer=goalstate_pb2.AgentMessage.SerializeToString,
            response_deserializer=lambda raw: decode_message(raw, min_bytes),
        )
        call = sync(metadata=auth_metadata(self.config.token))
        reader: asyncio.Task[None] | None = None
        try:
            await call.write(
                goalstate_pb2.AgentMessage(
                    hello=goalstate_pb2.Hello(
                        host_id=self.config.host_id,
                        underlay_ip=self.config.underlay_ip,
                        agent_version=self.config.agent_version,
                        last_applied_revision=self.goal.revision,
                    )
                )
            )
            async with asyncio.timeout(self.config.hello_timeout):
                first = await call.read()
            if first is grpc.aio.EOF:
                raise StreamClosed()
            if isinstance(first, Snapshot) or first.WhichOneof("message") != "welcome":
                raise ProtocolError(f"expected Welcome, got {_message_kind(first)}")
            await self._welcomed(endpoint, call, first.welcome)
            queue: asyncio.Queue[tuple[float, Update] | BaseException] = asyncio.Queue(QUEUE_LIMIT)
            reader = asyncio.create_task(self._read(call, queue))
            while True:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                updates = [b for b in batch if not isinstance(b, BaseException)]
                ends = [b for b in batch if isinstance(b, BaseException)]
                if updates:
                    await self._apply(call, updates)
                if ends:
                    raise ends[0]
        finally:
            self._call = None
            self.endpoint = None
            self.metrics.connected.set(0)
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            call.cancel()

    async def _welcomed(self, endpoint: str, call: Any, welcome: goalstate_pb2.Welcome) -> None:
        self.welcome = welcome
        self.endpoint = endpoint
        self.sessions += 1
        if self._protocol_errors == 0:
            self.backoff.reset()
        log.info(
            "connected to %s (member %s): %s at revision %d, controller at %d",
            endpoint,
            welcome.member_id or "?",
            "resumed" if welcome.resumed else "full snapshot follows",
            self.goal.revision,
            welcome.revision,
        )
        async with self._lock:
            self._call = call
            self.metrics.connected.set(1)
            last = self.reconciler.last
            if welcome.resumed and last is not None and self.book.pending(last.failures, self.goal):
                # changes a resync found while no stream was up
                await self._send_ack(
                    call,
                    self.goal.revision,
                    self.book.statuses(last.failures, self.goal),
                    last.seconds,
                    last.seconds,
                )

    async def _read(self, call: Any, queue: asyncio.Queue) -> None:
        try:
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    await queue.put(StreamClosed())
                    return
                if isinstance(msg, Snapshot):
                    await queue.put((self.timer(), msg))
                    continue
                if msg.WhichOneof("message") != "update":
                    await queue.put(ProtocolError(f"unexpected {_message_kind(msg)} after Welcome"))
                    return
                await queue.put((self.timer(), msg.update))
        except grpc.aio.AioRpcError as e:
            await queue.put(e)

    # -- applying -------------------------------------------------------------------------------

    def _apply_sync(
        self, updates: list[tuple[float, Update]]
    ) -> tuple[int, Outcome | None, ProtocolError | None, float]:
        """On the worker thread: apply the updates in order (up to the first that does not
        follow), save, reconcile once. Returns how many were applied."""
        start = self.timer()
        goal, applied, error = self.goal, 0, None
        for _, update in updates:
            if update.full and update.revision < goal.revision:
                if self._stale_snapshots < self.config.stale_snapshot_limit:
                    self._stale_snapshots += 1
                    error = ProtocolError(
                        f"snapshot at revision {update.revision} is older than the "
                        f"applied revision {goal.revision}"
                    )
                    break
                log.warning(
                    "accepting a snapshot at revision %d, older than %d, after %d refusals",
                    update.revision,
                    goal.revision,
                    self._stale_snapshots,
                )
            try:
                goal = goal.apply(update)
            except OutOfOrder as e:
                error = ProtocolError(str(e))
                break
            if self.store is not None:
                self.store.append(update, goal)
            applied += 1
            self._stale_snapshots = 0
        outcome = None
        if applied:
            self.goal = goal
            outcome = self.reconciler.reconcile(goal, [update for _, update in updates[:applied]])
        return applied, outcome, error, self.timer() - start

    async def _apply(self, call: Any, updates: list[tuple[float, Update]]) -> None:
        async with self._lock:
            applied, outcome, error, seconds = await self._offload(self._apply_sync, updates)
            if outcome is not None:
                self._observe(outcome, "update")
                self.metrics.apply_seconds.observe(seconds)
                self.metrics.revision.set(self.goal.revision)
                told = dict(self.book.reported)
                try:
                    for received, update in updates[:applied]:
                        self.metrics.updates.labels("full" if update.full else "delta").inc()
                        if update.full:
                            self.metrics.snapshots.inc()
                        statuses = self.book.statuses(outcome.failures, self.goal, carried(update))
                        await self._send_ack(
                            call, update.revision, statuses, seconds, self.timer() - received
                        )
                except BaseException:
                    # acks lost with the stream: the statuses go out after the next Welcome
                    self.book.reported = told
                    raise
                finally:
                    self._wake()
            if error is not None:
                self._protocol_errors += 1
                raise error
            self._protocol_errors = 0

    async def _send_ack(
        self, call: Any, revision: int, statuses: list, apply_s: float, total_s: float
    ) -> None:
        await call.write(ack_message(revision, statuses, int(apply_s * 1e6), int(total_s * 1e6)))
        self.acks_sent += 1

    def _wake(self) -> None:
        waiting = []
        for revision, fut in self._waiters:
            if revision <= self.goal.revision:
                if not fut.done():
                    fut.set_result(None)
            elif not fut.done():
                waiting.append((revision, fut))
        self._waiters = waiting

    # -- reconciling ----------------------------------------------------------------------------

    async def _reconcile(self, trigger: str) -> Outcome:
        outcome = await self._offload(self.reconciler.reconcile, self.goal)
        self._observe(outcome, trigger)
        return outcome

    def _observe(self, outcome: Outcome, trigger: str) -> None:
        self.metrics.reconciles.labels(trigger).inc()
        if outcome.incremental:
            self.metrics.incremental_reconciles.inc()
        self.metrics.plan_items.inc(len(outcome.plan))
        self.metrics.failed_resources.set(len(outcome.failures))
        if outcome.failures:
            log.warning(
                "revision %d: %d resources failed, e.g. %s",
                outcome.revision,
                len(outcome.failures),
                next(iter(outcome.failures.items())),
            )

    async def _resync_loop(self, interval: float) -> None:
        def after(seconds: float) -> float:  # the wait after a full pass of `seconds`
            return max(interval, seconds / self.config.resync_budget)

        last = self.reconciler.last  # the startup pass, if there was one
        delay = interval if last is None else after(last.seconds)
        while True:
            self.metrics.resync_interval.set(delay)
            await self.clock.sleep(delay)
            if self.goal.revision == 0:
                continue  # nothing received yet: an empty goal would remove what is installed
            async with self._lock:
                outcome = await self._reconcile("resync")
                if outcome.plan.items:
                    log.info("resync repaired the data plane: %s", outcome.plan.counts())
                stretched = after(outcome.seconds)
                if stretched > interval:
                    log.info(
                        "a full pass takes %.1f s: resyncing every %.0f s (%.0f%% of the time at most)",
                        outcome.seconds,
                        stretched,
                        self.config.resync_budget * 100,
                    )
                delay = stretched
                call = self._call
                if call is not None and self.book.pending(outcome.failures, self.goal):
                    told = dict(self.book.reported)
                    statuses = self.book.statuses(outcome.failures, self.goal)
                    try:
                        await self._send_ack(
                            call, self.goal.revision, statuses, outcome.seconds, outcome.seconds
                        )
                    except (grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as e:
                        log.info("could not send resync statuses (%s); they go out after the next Welcome", e)
                        self.book.reported = told

    async def refresh_counters(self) -> None:
        """Read the driver's packet counters into the metrics (before a scrape)."""
        self.metrics.set_dataplane_counters(await self._offload(self.driver.counters))

    async def _offload(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
