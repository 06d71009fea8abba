"""GoalStateService over real gRPC on a single-node in-process controller (Raft, LMDB, hub).

Agents are real streams (agent_client.AgentStream) applying updates with the agent's own model;
what they hold is compared with a from-scratch recompute from the controller's store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from agent_client import AgentStream
from goalstate_helpers import as_items, expected
from support.controller import InProcessCluster, write_tokens

from alcor.controller.goalstate import items as it
from alcor.internal import command_pb2 as cmd
from alcor.internal import progress_pb2, progress_pb2_grpc
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc
from alcor.v1 import resources_pb2 as res

TOKENS = {"adm": "admin", "t-h1": "host:h1", "t-h2": "host:h2", "t-p1": "project:p1"}
ADMIN_MD = [("authorization", "Bearer adm")]


class Env:
    def __init__(self, cluster: InProcessCluster) -> None:
        self.cluster = cluster
        self.node = cluster.nodes["c1"]
        self.endpoint = cluster.endpoints[0]
        self.channel = grpc.insecure_channel(self.endpoint)
        self.api = network_pb2_grpc.NetworkServiceStub(self.channel)
        self.agents: list[AgentStream] = []

    @property
    def store(self) -> Any:
        return self.node.replica.store

    def agent(self, host: str, token: str | None = None, **kw: Any) -> AgentStream:
        a = AgentStream(self.endpoint, host, f"t-{host}" if token is None else token, **kw)
        self.agents.append(a)
        return a

    def network(self) -> tuple[res.Vpc, res.Subnet]:
        vpc = self.api.CreateVpc(
            net.CreateVpcRequest(project_id="p1", cidr="10.0.0.0/16"), metadata=ADMIN_MD
        ).vpc
        request = net.CreateSubnetRequest(project_id="p1", vpc_id=vpc.id, cidr="10.0.1.0/24")
        return vpc, self.api.CreateSubnet(request, metadata=ADMIN_MD).subnet

    def port(self, subnet_id: str, host: str) -> res.Port:
        request = net.CreatePortRequest(project_id="p1", subnet_id=subnet_id, host_id=host)
        return self.api.CreatePort(request, metadata=ADMIN_MD).port

    def get_port(self, port_id: str) -> res.Port:
        return self.api.GetPort(net.GetRequest(id=port_id), metadata=ADMIN_MD).port

    def until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(0.01)

    def converge(self, agent: AgentStream, revision: int = 0) -> None:
        """Receive updates until the agent holds the goal state of the store's revision (and at
        least `revision`: a follower may not have applied the latest write yet)."""
        hub = self.node.hub
        self.until(lambda: hub.revision >= max(self.store.revision, revision))
        while agent.goal.revision < hub.engine.changed_at(agent.host_id, hub.revision):
            agent.update()
        assert as_items(agent.goal) == expected(self.store, agent.host_id)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    tokens = write_tokens(tmp_path / "tokens", TOKENS)
    with InProcessCluster(tmp_path, size=1, token_file=str(tokens)) as cluster:
        e = Env(cluster)
        try:
            yield e
        finally:
            for a in e.agents:
                a.close()
            e.channel.close()


def test_snapshot_deltas_and_port_status(env: Env) -> None:
    _, subnet = env.network()
    h1 = env.agent("h1", underlay_ip="192.0.2.1")
    welcome = h1.welcome()
    assert welcome.member_id == "c1" and not welcome.resumed
    first = h1.update()
    assert first.full and first.base_revision == 0
    h1.ack(first.revision)
    p1 = env.port(subnet.id, "h1")
    while p1.id not in h1.goal.ports:
        update = h1.update()
    assert not update.full and update.revision >= p1.revision
    # the agent has it but has not acked: the port is not ACTIVE
    assert env.get_port(p1.id).status == res.PORT_STATUS_DOWN
    h1.ack(update.revision)
    env.until(lambda: env.get_port(p1.id).status == res.PORT_STATUS_ACTIVE)

    # a port on h2 (no agent yet): h1 sees a neighbor without an underlay IP; h2's agent
    # registering gives it one
    p2 = env.port(subnet.id, "h2")
    env.converge(h1)
    assert h1.goal.neighbors[p2.id].host_ip == ""
    h2 = env.agent("h2", underlay_ip="192.0.2.2")
    assert not h2.welcome().resumed
    env.converge(h1)
    env.converge(h2)
    assert h1.goal.neighbors[p2.id].host_ip == "192.0.2.2"
    assert h2.goal.neighbors[p1.id].host_ip == "192.0.2.1"

    # waiting for hosts: h2 has not acked, so the wait times out naming it
    revision = env.store.revision
    request = net.WaitForHostsRequest(revision=revision, timeout_ms=200)
    response = env.api.WaitForHosts(request, metadata=ADMIN_MD)
    assert not response.complete
    progress = {p.host_id: p for p in response.hosts}
    assert set(progress) == {"h1", "h2"} and progress["h2"].connected
    h1.ack(h1.goal.revision)
    h2.ack(h2.goal.revision)
    response = env.api.WaitForHosts(
        net.WaitForHostsRequest(revision=revision, timeout_ms=5000), metadata=ADMIN_MD
    )
    assert response.complete
    env.until(lambda: env.get_port(p2.id).status == res.PORT_STATUS_ACTIVE)


def test_failure_leaves_the_port_in_error(env: Env) -> None:
    _, subnet = env.network()
    h1 = env.agent("h1")
    h1.welcome()
    h1.ack(h1.update().revision)
    p1 = env.port(subnet.id, "h1")
    env.converge(h1)
    failed = gs.ResourceStatus(kind=it.KIND_PORT, id=p1.id, ok=False, reason="veth p1 missing")
    h1.ack(h1.goal.revision, [failed])
    port = env.until(lambda: (p := env.get_port(p1.id)).status == res.PORT_STATUS_ERROR and p)
    assert port.status_detail == "veth p1 missing"
    # later acks that do not list it leave it failed; listing it ok makes it ACTIVE
    h1.ack(h1.goal.revision)
    h1.ack(h1.goal.revision, [gs.ResourceStatus(kind=it.KIND_PORT, id=p1.id, ok=True)])
    env.until(lambda: env.get_port(p1.id).status == res.PORT_STATUS_ACTIVE)


def test_resume_sends_only_what_changed(env: Env) -> None:
    _, subnet = env.network()
    for _ in range(3):
        env.port(subnet.id, "h2")
    env.port(subnet.id, "h1")
    h1 = env.agent("h1")
    h1.welcome()
    env.converge(h1)
    h1.ack(h1.goal.revision)
    before = h1.goal
    h1.close()

    p = env.port(subnet.id, "h2")
    again = env.agent("h1", last_applied=before.revision)
    again.goal = before
    welcome = again.welcome()
    assert welcome.resumed
    update = again.update()
    assert not update.full and update.base_revision == before.revision
    keys = {it.key_of(i) for i in update.upserts} | {(d.kind, d.id) for d in update.deletes}
    # the new neighbor and the default group's member list (its address joined), nothing else
    assert keys == {(it.KIND_NEIGHBOR, p.id), (it.KIND_GROUP_MEMBERS, p.security_group_ids[0])}
    env.converge(again)
    again.ack(again.goal.revision)

    # nothing changed since: resumed, and nothing is sent
    current = again.goal
    again.close()
    third = env.agent("h1", last_applied=current.revision)
    assert third.welcome().resumed
    assert third.nothing()


def test_full_snapshot_when_history_is_gone_or_ahead(env: Env) -> None:
    _, subnet = env.network()
    env.port(subnet.id, "h1")
    h1 = env.agent("h1")
    h1.welcome()
    env.converge(h1)
    old = h1.goal.revision
    h1.close()
    env.port(subnet.id, "h2")
    compact = cmd.Command(request_id="compact-1", caller=cmd.Caller(admin=True),
                          compact=cmd.Compact(revision=env.store.revision))  # fmt: skip
    assert not env.cluster.run(env.node.replica.submit(compact)).HasField("error")
    again = env.agent("h1", last_applied=old)
    assert not again.welcome().resumed
    assert again.update().full
    env.converge(again)
    ahead = env.agent("h1", last_applied=env.store.revision + 1000)
    assert not ahead.welcome().resumed  # after waiting catch_up_timeout for the replica
    assert ahead.update().full


def test_an_agent_whose_host_joins_a_large_vpc_is_sent_a_snapshot(env: Env) -> None:
    vpc, _ = env.network()
    request = net.CreateSubnetRequest(project_id="p1", vpc_id=vpc.id, cidr="10.0.4.0/22")
    big = env.api.CreateSubnet(request, metadata=ADMIN_MD).subnet
    ports = [net.CreatePortRequest(project_id="p1", subnet_id=big.id, host_id="h2") for _ in range(300)]
    env.api.CreatePorts(net.CreatePortsRequest(ports=ports), metadata=ADMIN_MD)
    h1 = env.agent("h1")
    h1.welcome()
    assert h1.update().full
    h1.ack(h1.goal.revision)
    # 300 neighbors, more than the history keeps and all of h1's goal state: a snapshot, built
    # from encoded items, rather than a delta of 300 new ones
    port = env.port(big.id, "h1")
    update = h1.update()
    assert update.full and update.revision >= port.revision
    env.converge(h1)
    h1.ack(h1.goal.revision)
    assert env.until(lambda: env.get_port(port.id).status == res.PORT_STATUS_ACTIVE)


def test_newer_stream_replaces_older(env: Env) -> None:
    first = env.agent("h1")
    first.welcome()
    second = env.agent("h1")
    second.welcome()
    assert first.ended() == grpc.StatusCode.ABORTED
    assert second.update().full


@pytest.mark.parametrize(
    ("host", "token", "first", "code"),
    [
        ("h1", "t-h1", gs.AgentMessage(ack=gs.GoalStateAck(revision=1)), grpc.StatusCode.INVALID_ARGUMENT),
        ("h2", "t-h1", None, grpc.StatusCode.PERMISSION_DENIED),
        ("h1", "t-p1", None, grpc.StatusCode.PERMISSION_DENIED),
        ("h1", "nope", None, grpc.StatusCode.UNAUTHENTICATED),
        ("h1", "", None, grpc.StatusCode.UNAUTHENTICATED),
        ("bad host!", "adm", None, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_refusals(
    env: Env, host: str, token: str, first: gs.AgentMessage | None, code: grpc.StatusCode
) -> None:
    agent = env.agent(host, token, first=first)
    assert agent.ended() == code
    assert env.node.hub.sessions == {}


def test_bad_underlay_and_bad_ack_are_invalid(env: Env) -> None:
    assert env.agent("h1", underlay_ip="not-an-ip").ended() == grpc.StatusCode.INVALID_ARGUMENT
    agent = env.agent("h1", token="adm")  # an admin may stand in for any host
    agent.welcome()
    update = agent.update()
    agent.ack(update.revision + 100)
    assert agent.ended() == grpc.StatusCode.INVALID_ARGUMENT


def test_registration_is_skipped_when_unchanged(env: Env) -> None:
    a = env.agent("h1")
    a.welcome()
    env.until(lambda: env.node.hub.engine.node("h1") is not None)
    node_revision = env.node.hub.engine.node("h1").revision  # type: ignore[union-attr]
    a.close()
    b = env.agent("h1")
    b.welcome()
    assert env.node.hub.engine.node("h1").revision == node_revision  # type: ignore[union-attr]
    b.close()
    c = env.agent("h1", underlay_ip="192.0.2.99")
    c.welcome()
    env.until(lambda: env.node.hub.engine.node("h1").underlay_ip == "192.0.2.99")  # type: ignore[union-attr]


def test_a_stuck_agent_is_bounded_and_gets_a_snapshot(env: Env) -> None:
    """A session nobody reads: its queue stays within the limit, then one snapshot catches it up;
    a session that keeps up receives every delta meanwhile."""
    hub = env.node.hub
    _, subnet = env.network()
    env.port(subnet.id, "h1")
    env.port(subnet.id, "h2")
    hub.queue_limit = 4
    hello = gs.Hello(host_id="h1", underlay_ip="192.0.2.1", last_applied_revision=0)
    stuck = env.cluster.run(hub.open(hello))
    assert env.cluster.run(stuck.next_update()).full  # type: ignore[union-attr]
    live = env.agent("h2")
    live.welcome()
    env.converge(live)
    for i in range(6):
        env.port(subnet.id, "h2")
        env.converge(live)
        assert len(stuck.queue.pending) <= 4
        if i == 0:
            assert stuck.queue.pending  # coalescing while within the limit
    assert stuck.queue.overflows == 1 and stuck.queue.needs_full and stuck.queue.pending == {}
    update = env.cluster.run(stuck.next_update())
    assert update is not None and update.full
    goal = live.goal.__class__(host_id="h1").apply(update)
    assert as_items(goal) == expected(env.store, "h1")
    env.cluster.run(_close(hub, stuck))


async def _close(hub: Any, session: Any) -> None:
    hub.close(session)


@pytest.mark.slow
def test_followers_serve_and_an_agent_moves_without_a_resync(tmp_path: Path) -> None:
    """Three members: an agent on a follower gets its goal state and its port turns ACTIVE;
    it then moves to the other follower and resumes from its revision (no snapshot)."""
    with InProcessCluster(tmp_path, size=3) as cluster:
        leader = cluster.wait_leader()
        followers = [n for n in cluster.nodes.values() if n is not leader]
        env = Env(cluster)
        env.node = leader
        env.endpoint = cluster.configs[leader.config.id].listen
        env.channel = grpc.insecure_channel(env.endpoint)
        env.api = network_pb2_grpc.NetworkServiceStub(env.channel)
        try:
            _, subnet = env.network()
            env.port(subnet.id, "h2")
            p1 = env.port(subnet.id, "h1")
            first = followers[0]
            agent = AgentStream(cluster.configs[first.config.id].listen, "h1", "")
            env.agents.append(agent)
            assert agent.welcome().member_id == first.config.id
            env.node = first  # converge against the follower's own applied state
            env.converge(agent, p1.revision)
            agent.ack(agent.goal.revision)
            env.until(lambda: env.get_port(p1.id).status == res.PORT_STATUS_ACTIVE)
            held = agent.goal
            agent.close()

            p3 = env.port(subnet.id, "h2")
            second = followers[1]
            moved = AgentStream(
                cluster.configs[second.config.id].listen, "h1", "", last_applied=held.revision
            )
            env.agents.append(moved)
            moved.goal = held
            welcome = moved.welcome()
            assert welcome.member_id == second.config.id and welcome.resumed
            env.node = second
            env.converge(moved, p3.revision)
            assert p3.id in moved.goal.neighbors
        finally:
            for a in env.agents:
                a.close()
            env.channel.close()


@pytest.mark.slow
def test_wait_for_hosts_sees_agents_on_every_member(tmp_path: Path) -> None:
    """An agent streams from one member; WaitForHosts asked of a member with no agent at all
    still sees each host's acks (from the other members), and tells a host that has not
    acked from one that has."""
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    with InProcessCluster(tmp_path, size=3, peer_secret_file=str(secret)) as cluster:
        leader = cluster.wait_leader()
        followers = [n for n in cluster.nodes.values() if n is not leader]
        env = Env(cluster)
        env.node = leader
        env.endpoint = cluster.configs[leader.config.id].listen
        env.channel = grpc.insecure_channel(env.endpoint)
        env.api = network_pb2_grpc.NetworkServiceStub(env.channel)
        try:
            _, subnet = env.network()
            env.port(subnet.id, "h1")
            last = env.port(subnet.id, "h2")
            agents = {}
            for host, member in zip(("h1", "h2"), followers, strict=True):
                agent = AgentStream(cluster.configs[member.config.id].listen, host, "")
                env.agents.append(agent)
                assert agent.welcome().member_id == member.config.id
                env.node = member
                env.converge(agent, last.revision)
                agents[host] = agent

            def wait(timeout: float) -> net.WaitForHostsResponse:
                request = net.WaitForHostsRequest(revision=last.revision, timeout_ms=int(timeout * 1000))
                return env.api.WaitForHosts(request, metadata=ADMIN_MD, timeout=timeout + 10)

            agents["h1"].ack(agents["h1"].goal.revision)
            on_h1 = followers[0].hub
            env.until(lambda: on_h1.acked.get("h1", 0) >= agents["h1"].goal.revision)
            partial = wait(0.5)
            assert not partial.complete
            held = {h.host_id: h for h in partial.hosts}
            assert set(held) == {"h1", "h2"} and held["h1"].connected and held["h2"].connected
            assert held["h1"].applied_revision == agents["h1"].goal.revision
            assert held["h2"].applied_revision < last.revision  # connected, not acked yet

            agents["h2"].ack(agents["h2"].goal.revision)
            done = wait(10)
            assert done.complete
            assert {h.host_id: h.applied_revision for h in done.hosts} == {
                h: a.goal.revision for h, a in agents.items()
            }
            assert not leader.hub.sessions  # all of it came from the other members

            # the members' progress service wants the cluster secret
            peer = grpc.insecure_channel(cluster.configs[followers[0].config.id].peer_listen)
            stub = progress_pb2_grpc.HostProgressServiceStub(peer)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Applied(progress_pb2.AppliedRequest(host_ids=["h1"]), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            answer = stub.Applied(
                progress_pb2.AppliedRequest(host_ids=["h1", "h2"]),
                metadata=[("authorization", "Bearer s3cret")],
                timeout=10,
            )
            assert [(h.host_id, h.connected) for h in answer.hosts] == [("h1", True), ("h2", False)]
            peer.close()
        finally:
            for a in env.agents:
                a.close()
            env.channel.close()
