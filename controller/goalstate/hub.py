"""The goal-state hub: the engine following this member's replica, and the agents' streams.

Runs on every controller member (followers serve agents from their applied state). It owns:

- following the replica: after every applied batch it reads the new change events, feeds the
  engine and hands each changed host's delta to that host's session (if connected); after a
  snapshot install (the store is replaced) or when the change log was compacted past it, it
  reloads the engine and sends every connected agent a full snapshot. Loads run in a thread of
  their own: a million ports take tens of seconds of CPU, during which the loop keeps serving
  Raft and the API (agents wait for the first load: `loaded`);
- sessions: one per connected host (a newer stream replaces an older one), resumed from the
  agent's last applied revision when the engine's history for that host covers it, else a full
  snapshot;
- acks: each host's applied revision, `wait_for_hosts`, and port status write-back;
- node registration from an agent's Hello, through Raft, skipped when nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import lmdb

from alcor.controller.goalstate import loader
from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.goalstate.items import KIND_PORT, Delta, Key
from alcor.controller.goalstate.peers import merge
from alcor.controller.goalstate.proposals import ADMIN, submit_retrying
from alcor.controller.goalstate.session import DEFAULT_QUEUE_LIMIT, HostSession
from alcor.controller.goalstate.status import PortStatusWriter, port_reports
from alcor.controller.state.errors import CommandError
from alcor.internal import command_pb2 as cmd
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import network_pb2 as net

log = logging.getLogger(__name__)

PUSH_CHUNK = 8  # sessions woken per turn of the loop for changes to other hosts' ports
LOAD_RETRY_S = 1.0  # after a failed first load


class GoalStateHub:
    def __init__(
        self,
        replica: Any,
        *,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        key_history: int | None = None,
        register_timeout: float = 5.0,
        catch_up_timeout: float = 1.0,
        status_batch: int = 1000,
        wall_clock: Callable[[], float] = time.time,
        metrics: Any = None,
        peers: Callable[[list[str]], Awaitable[list[net.HostProgress]]] | None = None,
        peer_poll: float = 0.05,
    ) -> None:
        """`replica`: an `alcor.controller.replica.Replica` (store, member_id, submit, subscribe);
        `metrics`: an `alcor.controller.metrics.Metrics` (its `agents` gauge is kept current);
        `peers`: what the other members' agents applied of some hosts (`peers.PeerProgress`),
        asked every `peer_poll` seconds while a WaitForHosts waits on hosts not seen here."""
        self.replica = replica
        self.metrics = metrics
        self.queue_limit = queue_limit
        self.key_history = key_history
        self.register_timeout = register_timeout
        self.catch_up_timeout = catch_up_timeout
        self.wall_clock = wall_clock
        self.peers = peers
        self.peer_poll = peer_poll
        self.engine = GoalStateEngine()
        self.sessions: dict[str, HostSession] = {}
        self.acked: dict[str, int] = {}
        self.status = PortStatusWriter(replica.submit, replica.member_id, batch=status_batch)
        self._store: Any = None
        self._wake = asyncio.Event()
        # replaced (and the old one set) whenever an engine revision or an ack moves on
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.loaded = asyncio.Event()  # set once the first engine is loaded from the store
        # stop() asks a load in progress to stop reading the store (closing the store waits
        # for the reads in progress)
        self._stopping = threading.Event()

    @property
    def member_id(self) -> str:
        return str(self.replica.member_id)

    @property
    def revision(self) -> int:
        return self.engine.revision

    # ---- lifecycle ----

    async def start(self) -> None:
        """Start following the replica; returns at once (the first load runs in the background)."""
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.replica.subscribe(self._on_applied)
        self._task = self._loop.create_task(self._follow(), name="goalstate-follow")
        self.status.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for session in list(self.sessions.values()):
            session.close("the controller is stopping")
        self.sessions.clear()
        await self.status.stop()

    def _on_applied(self, revision: int) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    # ---- following the replica ----

    async def _follow(self) -> None:
        while not await self._reload():
            await asyncio.sleep(LOAD_RETRY_S)
        while True:
            await self._wake.wait()
            self._wake.clear()
            later: list[tuple[HostSession, int, Delta]] | None
            try:
                later = self.advance()
            except Exception:
                # the engine may be half-way through a batch: start it afresh from the store and
                # give every connected agent a snapshot, rather than stop serving
                log.exception("goal-state engine failed to follow the store: reloading it")
                later = None
            if later is None:
                if not await self._reload():
                    continue  # tried again on the next batch
                later = []
            self._notify()
            # a few sessions per turn of the loop, so that acks and the status write-back of
            # the ports just sent are not queued behind a fan-out to every host of a big VPC;
            # the next batch waits until these are pushed (each host sees revisions in order)
            for i in range(0, len(later), PUSH_CHUNK):
                if i:
                    await asyncio.sleep(0)
                for session, revision, delta in later[i : i + PUSH_CHUNK]:
                    session.push(revision, delta)

    def advance(self) -> list[tuple[HostSession, int, Delta]] | None:
        """Bring the engine up to the store's revision and queue the deltas (on the loop).
        Hosts whose own ports changed get theirs at once (their acks turn those ports ACTIVE);
        the rest, which nobody waits on one by one, are returned for the caller to push.
        None: the engine cannot follow this store (it was replaced, or its change log was
        compacted past the engine) and must be reloaded."""
        store = self.replica.store
        if store is not self._store:
            return None
        with store.read() as txn:
            found = loader.new_events(store.schema, txn, self.engine.revision)
        if found is None:
            log.warning("change log compacted past revision %d: reloading", self.engine.revision)
            return None
        events, revision = found
        if revision <= self.engine.revision:
            return []
        later = []
        for host, delta in self.engine.apply(events, revision, self.sessions.__contains__).items():
            session = self.sessions.get(host)
            if session is None:
                continue
            if delta is None:
                session.force_full(revision)
            elif any(key[0] == KIND_PORT for key in delta):
                session.push(revision, delta)
            else:
                later.append((session, revision, delta))
        return later

    async def _reload(self) -> bool:
        """Swap in a new engine loaded from the store, and give every connected agent a
        snapshot of it; False (logged) when the load failed."""
        started = time.monotonic()
        while True:
            store = self.replica.store
            try:
                engine = await self._load(store)
            except Exception as e:
                if isinstance(e, lmdb.Error) and self.replica.store is not store:
                    continue  # a snapshot install replaced the store under the load
                log.exception("goal-state engine: loading the store failed")
                return False
            if self.replica.store is store:
                break
        if self.metrics is not None:
            self.metrics.goal_state_loads.inc()
            self.metrics.goal_state_load_seconds.set(time.monotonic() - started)
        reloaded = self._store is not None
        self._store, self.engine = store, engine
        if reloaded:
            for session in self.sessions.values():
                session.force_full(engine.revision)
        self.loaded.set()
        self._wake.set()  # what was applied during the load
        self._notify()
        return True

    def _load(self, store: Any) -> asyncio.Future[GoalStateEngine]:
        """A new engine holding the store's records, built in a thread of its own. A daemon
        thread rather than an executor's: a stop must not wait for (or, at exit, join) the
        building, which no longer reads the store; the reading stops at the next record."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[GoalStateEngine] = loop.create_future()
        engine = GoalStateEngine(**({"key_history": self.key_history} if self.key_history else {}))

        def run() -> None:
            try:
                with store.read() as txn:
                    records = loader.read_records(store.schema, txn, self._stopping.is_set)
                outcome: tuple[GoalStateEngine | None, BaseException | None] = (loader.build(records, engine), None)
            except BaseException as e:  # handed to the awaiting task
                outcome = (None, e)
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_settle, done, *outcome)

        threading.Thread(target=run, name="goalstate-load", daemon=True).start()
        return done

    def _chunk(self, key: Key, item: gs.GoalStateItem) -> bytes:
        return self.engine.index.chunk_of(key, item)  # the engine of the moment (reloads swap it)

    def _snapshot(self, host: str) -> Callable[[], gs.ControllerMessage]:
        return lambda: self.engine.snapshot(host)

    # ---- agents ----

    async def register(self, hello: gs.Hello) -> None:
        """Create or refresh the host's node through Raft unless it is already as the Hello says.
        Raises CommandError (bad input), or a Raft error / TimeoutError when it cannot commit."""
        await self.loaded.wait()
        node = self.engine.node(hello.host_id)
        if node is not None and (node.underlay_ip, node.agent_version) == (
            hello.underlay_ip,
            hello.agent_version,
        ):
            return
        command = cmd.Command(
            version=cmd.ENVELOPE_VERSION_1,
            request_id=f"register-{hello.host_id}-{uuid.uuid4().hex}",
            caller=ADMIN,
            register_node=cmd.RegisterNode(
                host_id=hello.host_id,
                underlay_ip=hello.underlay_ip,
                agent_version=hello.agent_version,
                last_seen_unix_ms=int(self.wall_clock() * 1000),
            ),
        )
        result = await submit_retrying(self.replica.submit, command, timeout=self.register_timeout)
        if result.HasField("error"):
            error = CommandError(result.error.code, result.error.message, reason=result.error.reason)
            error.error.CopyFrom(result.error)
            raise error

    async def open(self, hello: gs.Hello) -> HostSession:
        """A session for the Hello's host: resumed after `last_applied_revision` when the history
        covers it, else starting with a full snapshot. Replaces the host's previous session."""
        await self.loaded.wait()
        host, last = hello.host_id, hello.last_applied_revision
        if last > self.engine.revision:  # a lagging member: give it a moment to catch up
            await self._wait_revision(last, self.catch_up_timeout)
        delta = self.engine.delta_since(host, last) if last and last >= self._compacted() else None
        resumed = delta is not None
        session = HostSession(
            host,
            revision=self.engine.revision,
            resumed=resumed,
            base_revision=last,
            snapshot=self._snapshot(host),
            chunk=self._chunk,
            limit=self.queue_limit,
        )
        if delta:
            session.push(self.engine.revision, delta)
        if resumed:
            self._set_acked(host, last)
        previous = self.sessions.get(host)
        if previous is not None:
            previous.close("replaced by a newer stream from the same host")
        self.sessions[host] = session
        self._count_agents()
        return session

    def close(self, session: HostSession) -> None:
        session.close()
        host = session.host_id
        if self.sessions.get(host) is session:
            del self.sessions[host]
            self._count_agents()

    def _count_agents(self) -> None:
        if self.metrics is not None:
            self.metrics.agents.set(len(self.sessions))

    def ack(self, session: HostSession, ack: gs.GoalStateAck) -> None:
        """Record an ack; raises ValueError for a revision this stream never sent."""
        if session.closed:
            return
        sent = session.queue.sent
        if ack.revision > sent:
            raise ValueError(f"ack for revision {ack.revision}, but this stream is at revision {sent}")
        host = session.host_id
        self._set_acked(host, ack.revision)
        failed = {s.id: s.reason for s in ack.statuses if s.kind == KIND_PORT and not s.ok}
        ok = [s.id for s in ack.statuses if s.kind == KIND_PORT and s.ok]
        reports = port_reports(self.engine.index, host, ack.revision, session.status_floor, failed, ok)
        session.status_floor = max(session.status_floor, ack.revision)
        if reports:
            self.status.report(reports)

    def _set_acked(self, host: str, revision: int) -> None:
        if revision > self.acked.get(host, 0):
            self.acked[host] = revision
            self._notify()

    def _notify(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    def _compacted(self) -> int:
        return int(self.replica.store.compacted_revision)

    # ---- progress ----

    def progress(self, hosts: Iterable[str]) -> list[net.HostProgress]:
        """What the agents connected to this member applied (revision 0: not seen here)."""
        return [
            net.HostProgress(host_id=h, applied_revision=self.acked.get(h, 0), connected=h in self.sessions)
            for h in sorted(hosts)
        ]

    def relevant_hosts(self, revision: int) -> list[str]:
        """Known hosts (registered nodes) whose goal state changed at or before `revision`."""
        engine = self.engine
        return [h for h in engine.hosts() if engine.known(h) and engine.changed_at(h, revision) > 0]

    async def wait_for_hosts(
        self, revision: int, host_ids: Iterable[str] = (), timeout: float = 10.0
    ) -> tuple[bool, list[net.HostProgress]]:
        """Wait until every relevant host (or each of `host_ids`) applied its goal state as of
        `revision`, on whichever member its agent streams from; (complete, progress of those
        hosts) when done or when `timeout` expires."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        named = list(dict.fromkeys(host_ids))
        seen: dict[str, net.HostProgress] = {}  # reports from the other members
        if not await self._wait_revision(revision, timeout):
            hosts = named or self.relevant_hosts(self.engine.revision)
            return False, await self._everywhere(hosts, seen)
        hosts = named or self.relevant_hosts(revision)
        targets = {h: self.engine.changed_at(h, revision) for h in hosts}

        def behind() -> list[str]:
            return [
                h for h, t in targets.items()
                if max(self.acked.get(h, 0), seen[h].applied_revision if h in seen else 0) < t
            ]

        while behind():
            elsewhere = [h for h in behind() if h not in self.sessions]  # an agent here acks here
            if self.peers is not None and elsewhere:
                merge(await self._ask_peers(elsewhere), seen)
                if not behind():
                    break
            now = loop.time()
            if now >= deadline:
                break
            # this member's acks wake the wait at once; the others' are asked again after a poll
            until = deadline if self.peers is None else min(deadline, now + self.peer_poll)
            await self._wait_until(lambda: not behind(), until)
        return not behind(), await self._everywhere(hosts, seen)

    async def _everywhere(self, hosts: list[str], seen: dict[str, net.HostProgress]) -> list[net.HostProgress]:
        """Progress of `hosts` merged over this member, `seen` and (for those not yet seen
        elsewhere) the other members."""
        unseen = [h for h in hosts if h not in seen and h not in self.sessions]
        if self.peers is not None and unseen:
            merge(await self._ask_peers(unseen), seen)
        merged: dict[str, net.HostProgress] = {}
        merge(self.progress(hosts), merged)
        merge((seen[h] for h in hosts if h in seen), merged)
        return [merged[h] for h in sorted(hosts)]

    async def _ask_peers(self, hosts: list[str]) -> list[net.HostProgress]:
        assert self.peers is not None
        try:
            return await self.peers(hosts)
        except Exception:  # their acks are an addition: never fail a wait for them
            log.warning("asking the other members for host progress failed", exc_info=True)
            return []

    async def _wait_revision(self, revision: int, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        return await self._wait_until(lambda: self.engine.revision >= revision, deadline)

    async def _wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self._progress.wait()
            except TimeoutError:
                return predicate()
        return True


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():  # the awaiting task was cancelled
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)
