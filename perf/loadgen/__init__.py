"""perf/loadgen: thousands of simulated agents in one process, each a real GoalStateService stream.

Every simulated agent (`SimAgent`) sends Hello like `alcor agent run` (same metadata, TLS and
channel options, from `alcor.agent.channel`), keeps a `model.GoalState` (so an out-of-order
delta is caught, not ignored), acks every update at once, and records when each update arrived
and at which revision, so a benchmark can compute latencies:

    async with LoadGen(["127.0.0.1:6001"], [f"host-{i}" for i in range(1000)], token=T) as lg:
        ...  # make a change at cluster revision R (SDK)
        t = await lg.wait_revision("host-7", R)          # arrival time of the update reaching R
        times = await lg.wait_all(R, hosts=relevant)     # host -> arrival time
        fanout = max(times.values()) - t_change          # all times are `clock()` (perf_counter)

Streams share channels: `streams_per_channel` (default 100) streams ride one HTTP/2 connection,
and each channel gets its own TCP connection (no gRPC subchannel sharing). Agents start at most
`connect_concurrency` handshakes at a time, so 1,000 agents do not storm one controller; `start()`
returns when every agent has been welcomed (and has its snapshot, unless `wait_snapshot=False`).
On a stream failure an agent reconnects to the next endpoint after a jittered backoff and resumes
from its revision, as the real agent does. `statuses(host_id, update)` may return the
`ResourceStatus`es to put in an ack (default: none, everything applied).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from alcor import __version__
from alcor.agent.channel import TlsFiles, auth_metadata, channel_options, open_channel, parse_endpoints
from alcor.agent.dataplane.model import GoalState, OutOfOrder
from alcor.v1 import goalstate_pb2, goalstate_pb2_grpc

StatusFn = Callable[[str, goalstate_pb2.GoalStateUpdate], Iterable[goalstate_pb2.ResourceStatus]]

__all__ = ["LoadGen", "SimAgent"]


@dataclass
class SimAgent:
    host_id: str
    underlay_ip: str
    goal: GoalState
    revision: int = 0
    connected: bool = False
    endpoint: str = ""
    welcome: goalstate_pb2.Welcome | None = None
    # (revision, arrival time) of every update, oldest first (bounded by LoadGen(history=))
    arrivals: deque[tuple[int, float]] = field(default_factory=deque)
    updates: int = 0
    snapshots: int = 0
    items: int = 0  # upserts + deletes received
    acks: int = 0
    sessions: int = 0
    out_of_order: int = 0
    errors: int = 0
    last_error: str = ""
    waiters: list[tuple[int, asyncio.Future[float]]] = field(default_factory=list)
    welcomed: asyncio.Event = field(default_factory=asyncio.Event)
    synced: asyncio.Event = field(default_factory=asyncio.Event)  # has a goal state (snapshot or resume)

    def arrival(self, revision: int) -> float | None:
        """When this agent first reached `revision` or later (None: not yet, or beyond history)."""
        found = None
        for r, t in reversed(self.arrivals):  # newest first: benchmarks ask about recent changes
            if r < revision:
                break
            found = t
        return found


class LoadGen:
    def __init__(
        self,
        endpoints: Sequence[str] | str,
        host_ids: Iterable[str],
        *,
        token: str | Callable[[str], str] | None = None,
        tls: TlsFiles | None = None,
        underlay_ip: Callable[[int, str], str] | None = None,
        streams_per_channel: int = 100,
        connect_concurrency: int = 100,
        keep_goal: bool = True,
        statuses: StatusFn | None = None,
        history: int = 10_000,
        clock: Callable[[], float] = time.perf_counter,
        resume_from: Mapping[str, int] | None = None,
        seed: int | None = None,
    ) -> None:
        self.endpoints = parse_endpoints(endpoints)
        hosts = list(host_ids)
        if len(set(hosts)) != len(hosts):
            raise ValueError("host ids must be unique")
        if streams_per_channel < 1 or connect_concurrency < 1:
            raise ValueError("streams_per_channel and connect_concurrency must be >= 1")
        ip = underlay_ip or (lambda i, _: f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255 or 1}")
        self.agents: dict[str, SimAgent] = {
            h: SimAgent(
                h,
                ip(i, h),
                GoalState(host_id=h, revision=(resume_from or {}).get(h, 0)),
                revision=(resume_from or {}).get(h, 0),
                arrivals=deque(maxlen=history),
            )
            for i, h in enumerate(hosts)
        }
        self.token = token
        self.tls = tls
        self.streams_per_channel = streams_per_channel
        self.keep_goal = keep_goal
        self.statuses = statuses
        self.clock = clock
        self.rng = random.Random(seed)
        self._connect = asyncio.Semaphore(connect_concurrency)
        self._channels: dict[tuple[str, int], grpc.aio.Channel] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> LoadGen:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, *, wait_snapshot: bool = True, timeout: float | None = 120.0) -> None:
        """Open every stream; return once all are welcomed (and synced, with wait_snapshot)."""
        for i, agent in enumerate(self.agents.values()):
            self._tasks.append(asyncio.create_task(self._run(agent, i)))
        events = [a.synced if wait_snapshot else a.welcomed for a in self.agents.values()]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout)

    async def close(self) -> None:
        self._closing = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for ch in self._channels.values():
            await ch.close()
        self._channels.clear()
        for agent in self.agents.values():
            for _, fut in agent.waiters:
                fut.cancel()

    # -- measuring ------------------------------------------------------------------------------

    def _arrival(self, host_id: str, revision: int) -> asyncio.Future[float]:
        """A future of the arrival time (`clock()`) of the update that took `host_id` to
        `revision` or later (no task per waiter: a 1,000-host wait must not load the agents)."""
        agent = self.agents[host_id]
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if agent.revision >= revision:
            t = agent.arrival(revision)
            fut.set_result(t if t is not None else float("nan"))
        else:
            agent.waiters.append((revision, fut))
        return fut

    async def wait_revision(self, host_id: str, revision: int, timeout: float | None = None) -> float:
        """The arrival time (`clock()`) of the update that took `host_id` to `revision` or later."""
        return await asyncio.wait_for(self._arrival(host_id, revision), timeout)

    async def wait_all(
        self, revision: int, hosts: Iterable[str] | None = None, timeout: float | None = None
    ) -> dict[str, float]:
        """Arrival times of `revision` at every host (default: all); only hosts whose goal state
        the change touches ever get that revision, so pass those."""
        names = list(self.agents if hosts is None else hosts)
        futures = [self._arrival(h, revision) for h in names]
        try:
            times = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        finally:
            for fut in futures:
                fut.cancel()  # a timeout leaves no waiter behind (no-op on those done)
        return dict(zip(names, times, strict=True))

    def stats(self) -> dict[str, int]:
        agents = self.agents.values()
        return {
            "agents": len(self.agents),
            "connected": sum(a.connected for a in agents),
            "channels": len(self._channels),
            "updates": sum(a.updates for a in agents),
            "snapshots": sum(a.snapshots for a in agents),
            "items": sum(a.items for a in agents),
            "acks": sum(a.acks for a in agents),
            "sessions": sum(a.sessions for a in agents),
            "reconnects": sum(max(0, a.sessions - 1) for a in agents),
            "out_of_order": sum(a.out_of_order for a in agents),
            "errors": sum(a.errors for a in agents),
        }

    # -- one agent ------------------------------------------------------------------------------

    def _channel(self, endpoint: str, slot: int) -> grpc.aio.Channel:
        key = (endpoint, slot)
        if key not in self._channels:
            self._channels[key] = open_channel(endpoint, self.tls, channel_options(own_connection=True))
        return self._channels[key]

    def _token(self, host_id: str) -> str | None:
        return self.token(host_id) if callable(self.token) else self.token

    async def _run(self, agent: SimAgent, index: int) -> None:
        n = len(self.endpoints)
        at = index % n
        slot = index // n // self.streams_per_channel
        failures = 0
        while not self._closing:
            endpoint = self.endpoints[at]
            sessions = agent.sessions
            try:
                await self._session(agent, endpoint, slot)
            except grpc.aio.AioRpcError as e:
                agent.last_error = f"{e.code().name}: {e.details()}"
            except OutOfOrder as e:
                agent.out_of_order += 1
                agent.last_error = f"out of order: {e}"
            except (ConnectionError, ValueError) as e:
                agent.last_error = str(e)
            finally:
                agent.connected = False
            agent.errors += 1
            failures = 1 if agent.sessions > sessions else failures + 1
            at = (at + 1) % n
            cap = min(5.0, 0.05 * 2 ** min(failures, 10))
            await asyncio.sleep(cap / 2 + self.rng.uniform(0, cap / 2))

    async def _session(self, agent: SimAgent, endpoint: str, slot: int) -> None:
        """One stream, until it fails (it never ends otherwise)."""
        stub = goalstate_pb2_grpc.GoalStateServiceStub(self._channel(endpoint, slot))
        call: Any = stub.Sync(metadata=auth_metadata(self._token(agent.host_id)))
        try:
            async with self._connect:
                await call.write(
                    goalstate_pb2.AgentMessage(
                        hello=goalstate_pb2.Hello(
                            host_id=agent.host_id,
                            underlay_ip=agent.underlay_ip,
                            agent_version=f"loadgen/{__version__}",
                            last_applied_revision=agent.revision,
                        )
                    )
                )
                first = await call.read()
            if first is grpc.aio.EOF or first.WhichOneof("message") != "welcome":
                raise ValueError("expected Welcome")
            agent.welcome = first.welcome
            agent.sessions += 1
            agent.connected = True
            agent.endpoint = endpoint
            agent.welcomed.set()
            if first.welcome.resumed and agent.revision:
                agent.synced.set()
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    raise ConnectionError("the controller ended the stream")
                t = self.clock()
                if msg.WhichOneof("message") != "update":
                    raise ValueError(f"unexpected {msg.WhichOneof('message')}")
                self._apply(agent, msg.update, t)
                statuses = list(self.statuses(agent.host_id, msg.update)) if self.statuses else []
                await call.write(
                    goalstate_pb2.AgentMessage(
                        ack=goalstate_pb2.GoalStateAck(
                            revision=msg.update.revision,
                            statuses=statuses,
                            total_us=int((self.clock() - t) * 1e6),
                        )
                    )
                )
                agent.acks += 1
        finally:
            call.cancel()

    def _apply(self, agent: SimAgent, update: goalstate_pb2.GoalStateUpdate, t: float) -> None:
        if self.keep_goal:
            agent.goal = agent.goal.apply(update)  # raises OutOfOrder on a gap
        elif not update.full and update.base_revision != agent.revision:
            raise OutOfOrder(f"delta from revision {update.base_revision}, agent at {agent.revision}")
        agent.revision = update.revision
        agent.updates += 1
        agent.snapshots += update.full
        agent.items += len(update.upserts) + len(update.deletes)
        agent.arrivals.append((update.revision, t))
        agent.synced.set()
        if agent.waiters:
            keep = []
            for revision, fut in agent.waiters:
                if revision <= update.revision:
                    if not fut.done():
                        fut.set_result(t)
                elif not fut.done():
                    keep.append((revision, fut))
            agent.waiters = keep
