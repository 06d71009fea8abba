"""The agent's stream client against a scripted controller: Hello, Welcome, snapshot and deltas
applied in order and acked, failures per resource, reconnect with backoff to the next endpoint,
resume, and a wrong base revision treated as a protocol error."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
from clocks import InstantClock, wait_for
from goalstate_double import Session, delta, serving
from net import H1, IP1, add_port, in_sync, network

from alcor import __version__
from alcor.agent import runner
from alcor.agent.dataplane.columns import decode_message
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.dataplane.model import KIND_PORT
from alcor.agent.dataplane.plan import WirePort
from alcor.agent.runner import Agent, AgentConfig
from alcor.agent.store import snapshot_of


def config(*endpoints: str, **kw) -> AgentConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("resync_interval", None)
    kw.setdefault("underlay_ip", IP1)
    return AgentConfig(host_id=H1, controllers=list(endpoints), **kw)


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("columns", [False, True], ids=["messages", "columns"])
def test_snapshot_then_deltas_are_programmed_and_acked(
    monkeypatch: pytest.MonkeyPatch, columns: bool
) -> None:
    """Also with the snapshot decoded column-wise (`columns.decode_message`), as a large one is."""
    decoded: list[object] = []

    def recording(raw: bytes, min_bytes: int) -> object:
        decoded.append(decode_message(raw, min_bytes))
        return decoded[-1]

    monkeypatch.setattr(runner, "decode_message", recording)
    sc, ports = network()
    goals = [sc.goal(H1)]
    new = add_port(sc, "host-2", "10.0.1.20")
    goals.append(sc.goal(H1))
    sc.delete_port(ports["b"])
    goals.append(sc.goal(H1))

    async def script(s: Session) -> None:
        await s.welcome(resumed=False, revision=goals[-1].revision)
        await s.send(snapshot_of(goals[0]))
        await s.ack()
        await s.send(delta(goals[0], goals[1]))
        await s.ack()
        await s.send(delta(goals[1], goals[2]))

    async def main() -> None:
        driver = MemoryDriver(IP1)
        async with (
            serving(script) as (ctl, addr),
            running(
                Agent(
                    config(addr, token="s3cret", columns_min_bytes=0 if columns else 1 << 30),
                    driver,
                    clock=InstantClock(),
                )
            ) as agent,
        ):
            await agent.wait_revision(goals[2].revision, timeout=10)
            assert [type(d).__name__ for d in decoded[:2]] == [
                "ControllerMessage",
                "Snapshot" if columns else "ControllerMessage",
            ]
            s = ctl.sessions[0]
            await wait_for(lambda: len(s.acks) == 3)
            assert s.hello.host_id == H1
            assert s.hello.underlay_ip == IP1
            assert s.hello.agent_version == __version__
            assert s.hello.last_applied_revision == 0
            assert s.metadata["authorization"] == "Bearer s3cret"
            assert [a.revision for a in s.acks] == [g.revision for g in goals]
            assert all(not a.statuses for a in s.acks)  # everything applied
            assert all(a.total_us >= a.apply_us > 0 for a in s.acks)
            assert in_sync(driver, goals[2])
            installed = driver.installed()
            assert set(installed.ports) == {ports["a"]}
            assert {ep.local_port or ep.host_ip for ep in installed.endpoints.values()} == {
                ports["a"],
                "10.250.0.2",
            }
            assert new in agent.goal.neighbors
            assert agent.welcome is not None and agent.welcome.member_id == "scripted"
            assert agent.metrics.updates.labels("full")._value.get() == 1
            assert agent.metrics.updates.labels("delta")._value.get() == 2
            # a port on another host is planned from the last pass; a port of this host's is not
            assert agent.metrics.incremental_reconciles._value.get() == 1

    asyncio.run(main())


def test_a_failed_port_is_reported_with_its_reason_and_others_are_not_listed() -> None:
    sc, ports = network()
    goal = sc.goal(H1)
    bad = ports["b"]

    def fault(item):  # type: ignore[no-untyped-def]
        return (
            "veth create failed: EEXIST" if isinstance(item, WirePort) and item.port.port_id == bad else None
        )

    async def script(s: Session) -> None:
        await s.welcome(resumed=False, revision=goal.revision)
        await s.send(snapshot_of(goal))

    async def main() -> None:
        async with (
            serving(script) as (ctl, addr),
            running(Agent(config(addr), MemoryDriver(IP1, fault=fault), clock=InstantClock())),
        ):
            await wait_for(lambda: ctl.sessions and ctl.sessions[0].acks)
            ack = ctl.sessions[0].acks[0]
            assert ack.revision == goal.revision
            failed = {(st.kind, st.id): (st.ok, st.reason) for st in ack.statuses}
            # only the port: its entry and endpoint failing ("not wired") are attributed to it too
            assert set(failed) == {(KIND_PORT, bad)}
            ok, reason = failed[(KIND_PORT, bad)]
            assert ok is False and reason.startswith("veth create failed: EEXIST")

    asyncio.run(main())


def test_broken_stream_moves_to_the_next_controller_and_resumes_after_a_backoff() -> None:
    sc, _ = network()
    g1 = sc.goal(H1)
    add_port(sc, "host-2", "10.0.1.30")
    g2 = sc.goal(H1)

    async def first(s: Session) -> None:
        await s.welcome(resumed=False, revision=g1.revision)
        await s.send(snapshot_of(g1))
        await s.ack()
        await s.abort(grpc.StatusCode.UNAVAILABLE, "controller going away")

    async def second(s: Session) -> None:
        await s.welcome(resumed=s.hello.last_applied_revision == g1.revision, revision=g2.revision)
        await s.send(delta(g1, g2))

    async def main() -> None:
        clock, seed = InstantClock(), 7
        driver = MemoryDriver(IP1)
        # the same draws as the agent: the first endpoint, then one jitter per failure
        mirror = random.Random(seed)
        a_first = mirror.randrange(2) == 0
        async with serving(first) as (a, a_addr), serving(second) as (b, b_addr):
            endpoints = [a_addr, b_addr] if a_first else [b_addr, a_addr]
            async with running(
                Agent(config(*endpoints), driver, clock=clock, rng=random.Random(seed))
            ) as agent:
                await agent.wait_revision(g2.revision, timeout=10)
                session_b = await b.wait_sessions(1)
                assert session_b.hello.last_applied_revision == g1.revision  # resumed, not re-fetched
                await wait_for(lambda: session_b.acks)
                assert [ack.revision for ack in session_b.acks] == [g2.revision]
                assert len(a.sessions) == 1
                # one failure: a delay within [initial/2, initial], drawn from the injected rng
                assert clock.delays == [0.05 + mirror.uniform(0, 0.05)]
                assert agent.metrics.reconnects._value.get() == 1
                assert agent.endpoint == b_addr and agent.sessions == 2
                assert in_sync(driver, g2)

    asyncio.run(main())


def test_a_delta_with_the_wrong_base_revision_drops_the_stream_and_resumes_from_the_real_one() -> None:
    sc, _ = network()
    g1 = sc.goal(H1)
    add_port(sc, "host-2", "10.0.1.40")
    g2 = sc.goal(H1)
    add_port(sc, "host-2", "10.0.1.41")
    g3 = sc.goal(H1)

    async def skipping(s: Session) -> None:
        await s.welcome(resumed=False, revision=g3.revision)
        await s.send(snapshot_of(g1))
        await s.ack()
        await s.send(delta(g2, g3))  # g1 -> g2 never sent

    async def honest(s: Session) -> None:
        await s.welcome(resumed=True, revision=g3.revision)
        await s.send(delta(g1, g2))
        await s.send(delta(g2, g3))

    async def main() -> None:
        driver = MemoryDriver(IP1)
        async with (
            serving(skipping, honest) as (ctl, addr),
            running(Agent(config(addr), driver, clock=InstantClock())) as agent,
        ):
            await agent.wait_revision(g3.revision, timeout=10)
            bad, good = ctl.sessions
            assert [a.revision for a in bad.acks] == [g1.revision]  # nothing acked past the gap
            assert good.hello.last_applied_revision == g1.revision
            await wait_for(lambda: len(good.acks) == 2)
            assert [a.revision for a in good.acks] == [g2.revision, g3.revision]
            assert agent.metrics.stream_errors.labels("protocol")._value.get() == 1
            assert agent.last_error.startswith("protocol error: delta from revision")
            assert in_sync(driver, g3)

    asyncio.run(main())


def test_an_update_before_welcome_is_a_protocol_error() -> None:
    sc, _ = network()
    g1 = sc.goal(H1)

    async def rude(s: Session) -> None:
        await s.send(snapshot_of(g1))

    async def main() -> None:
        # the second, unscripted stream is welcomed as resumed
        async with (
            serving(rude) as (ctl, addr),
            running(Agent(config(addr), MemoryDriver(IP1), clock=InstantClock())) as agent,
        ):
            await ctl.wait_sessions(2)
            await wait_for(lambda: agent.connected)
            assert agent.revision == 0
            assert agent.last_error == "protocol error: expected Welcome, got update"

    asyncio.run(main())


def test_refusals_grow_the_backoff_up_to_its_cap() -> None:
    async def refuse(s: Session) -> None:
        await s.abort(grpc.StatusCode.PERMISSION_DENIED, "host-1 is not yours")

    async def main() -> None:
        clock, seed = InstantClock(), 3
        async with serving(*[refuse] * 6) as (ctl, addr):
            agent = Agent(
                config(addr, backoff_initial=0.1, backoff_max=0.4),
                MemoryDriver(IP1),
                clock=clock,
                rng=random.Random(seed),
            )
            async with running(agent):
                await ctl.wait_sessions(7)
                await wait_for(lambda: agent.connected)
                mirror = random.Random(seed)
                mirror.randrange(1)
                caps = [0.1, 0.2, 0.4, 0.4, 0.4, 0.4]
                assert clock.delays == [c / 2 + mirror.uniform(0, c / 2) for c in caps]
                assert agent.metrics.stream_errors.labels("permission_denied")._value.get() == 6
                assert agent.last_error == "PERMISSION_DENIED: host-1 is not yours"
                assert agent.backoff.attempt == 0  # the welcome reset it

    asyncio.run(main())


def test_a_snapshot_older_than_the_applied_revision_is_refused() -> None:
    sc, _ = network()
    old = sc.goal(H1)
    add_port(sc, "host-2", "10.0.1.50")
    new = sc.goal(H1)

    async def current(s: Session) -> None:
        await s.welcome(resumed=False, revision=new.revision)
        await s.send(snapshot_of(new))
        await s.ack()
        await s.abort()

    async def lagging(s: Session) -> None:
        await s.welcome(resumed=False, revision=old.revision)
        await s.send(snapshot_of(old))

    async def main() -> None:
        driver = MemoryDriver(IP1)
        # the third, unscripted stream resumes
        async with (
            serving(current, lagging) as (ctl, addr),
            running(Agent(config(addr), driver, clock=InstantClock())) as agent,
        ):
            await ctl.wait_sessions(3)
            await wait_for(lambda: agent.connected and agent.sessions == 3)
            assert agent.revision == new.revision
            assert not ctl.sessions[1].acks
            assert ctl.sessions[2].hello.last_applied_revision == new.revision
            assert agent.last_error.startswith("protocol error: snapshot at revision")
            assert in_sync(driver, new)

    asyncio.run(main())


def test_bad_configuration_is_refused_before_anything_starts() -> None:
    for kw, message in [
        ({"controllers": []}, "no controller endpoints"),
        ({"controllers": ["nohost"]}, "bad controller endpoint"),
        ({"controllers": ["h:99999"]}, "bad controller endpoint"),
        ({"host_id": ""}, "bad host id"),
        ({"underlay_ip": "10.0.0.300"}, "bad underlay ip"),
        ({"resync_interval": 0}, "resync interval"),
        ({"token": "a\nb"}, "agent token"),
    ]:
        args = {"host_id": H1, "controllers": ["127.0.0.1:1"], **kw}
        with pytest.raises(ValueError, match=message):
            AgentConfig(**args)


def test_tls_with_a_client_certificate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from support.certs import issue, make_ca

    from alcor.agent.channel import TlsFiles

    ca = make_ca(tmp_path)
    server_cert, server_key = issue(tmp_path, ca, "controller")
    agent_cert, agent_key = issue(tmp_path, ca, H1)
    credentials = grpc.ssl_server_credentials(
        [(server_key.read_bytes(), server_cert.read_bytes())],
        root_certificates=ca[0].read_bytes(),
        require_client_auth=True,
    )
    sc, _ = network()
    goal = sc.goal(H1)

    async def script(s: Session) -> None:
        await s.welcome(resumed=False, revision=goal.revision)
        await s.send(snapshot_of(goal))

    async def main() -> None:
        tls = TlsFiles(ca[0], agent_cert, agent_key)
        async with (
            serving(script, credentials=credentials) as (ctl, addr),
            running(Agent(config(addr, tls=tls), MemoryDriver(IP1), clock=InstantClock())) as agent,
        ):
            await agent.wait_revision(goal.revision, timeout=10)
            peer = ctl.sessions[0].context.auth_context()
            assert peer["x509_common_name"] == [H1.encode()]

    asyncio.run(main())
    with pytest.raises(ValueError, match="needs its key"):
        TlsFiles(ca[0], agent_cert, None)
