"""The hub loads its engine off the event loop: Raft and the API serve during a load, agents
wait for it, and a shutdown in the middle of one stops its read and does not wait for the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from agent_client import AgentStream
from goalstate_helpers import as_items, expected
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.controller import InProcessCluster

from alcor.controller.goalstate import loader
from alcor.controller.node import ControllerNode
from alcor.controller.state import Store
from alcor.controller.state.testing import Harness
from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc

GOAL_STATE = "alcor.v1.GoalStateService"


def _until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)
    return value


def _health(channel: grpc.Channel, service: str) -> int:
    request = health_pb2.HealthCheckRequest(service=service)
    return int(health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status)


def test_read_records_stops_when_asked_and_build_equals_a_direct_load(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    for i in range(5):
        h.port(subnet.id, host_id=f"h{i % 2}")
    asked = 0

    def after_three() -> bool:
        nonlocal asked
        asked += 1
        return asked > 3

    with store.read() as txn, pytest.raises(loader.LoadCancelled):
        loader.read_records(store.schema, txn, after_three)
    with store.read() as txn:
        records = loader.read_records(store.schema, txn)
        direct = loader.load_engine(store.schema, txn)
    assert len(records.ports) == 5
    built = loader.build(records)
    assert built.revision == direct.revision == store.revision
    for host in ("h0", "h1"):
        assert built.snapshot(host) == direct.snapshot(host)


def test_the_api_serves_during_the_first_load_and_agents_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_build = loader.build

    def held_build(records: loader.Records, engine: Any = None) -> Any:
        release.wait(30)
        return real_build(records, engine)

    monkeypatch.setattr(loader, "build", held_build)
    agent = None
    try:
        with InProcessCluster(tmp_path, size=1) as cluster, grpc.insecure_channel(cluster.endpoints[0]) as ch:
            hub = cluster.nodes["c1"].hub
            assert not hub.loaded.is_set()
            # Raft commits and the API answers while the engine is still loading
            api = network_pb2_grpc.NetworkServiceStub(ch)
            vpc = api.CreateVpc(net.CreateVpcRequest(project_id="p", cidr="10.0.0.0/16")).vpc
            subnet = api.CreateSubnet(net.CreateSubnetRequest(project_id="p", vpc_id=vpc.id, cidr="10.0.1.0/24")).subnet
            port = api.CreatePort(net.CreatePortRequest(project_id="p", subnet_id=subnet.id, host_id="h1")).port
            assert _health(ch, "") == health_pb2.HealthCheckResponse.SERVING
            assert _health(ch, GOAL_STATE) == health_pb2.HealthCheckResponse.NOT_SERVING

            agent = AgentStream(cluster.endpoints[0], "h1")
            assert agent.nothing(0.3), "an agent was welcomed before the engine was loaded"
            release.set()
            assert not agent.welcome().resumed
            _until(lambda: _health(ch, GOAL_STATE) == health_pb2.HealthCheckResponse.SERVING)
            store = cluster.nodes["c1"].replica.store
            _until(lambda: hub.revision >= store.revision)  # the writes made during the load
            while agent.goal.revision < hub.engine.changed_at("h1", hub.revision):
                agent.update()
            assert port.id in agent.goal.ports
            assert as_items(agent.goal) == expected(store, "h1")
            metrics = cluster.nodes["c1"].metrics.render().decode()
            assert "alcor_goalstate_loads_total 1.0" in metrics
    finally:
        release.set()
        if agent is not None:
            agent.close()


def test_a_stop_during_a_load_ends_its_read_and_does_not_wait_for_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="alcor.controller.node")
    events: list[str] = []
    real_read = loader.read_records
    reading = threading.Event()
    never = threading.Event()

    def long_read(s: Any, txn: Any, cancelled: Callable[[], bool] = lambda: False) -> loader.Records:
        reading.set()
        while not cancelled():  # a read of many records, which checks between them
            time.sleep(0.005)
        events.append("read stopped")
        return real_read(s, txn, cancelled)

    def stuck_build(records: loader.Records, engine: Any = None) -> Any:
        never.wait(30)  # building needs no store: a stop does not wait for it
        events.append("build ended")
        raise AssertionError("a stopped load built an engine")

    monkeypatch.setattr(loader, "read_records", long_read)
    monkeypatch.setattr(loader, "build", stuck_build)
    try:
        with InProcessCluster(tmp_path, size=1) as cluster:
            node = cluster.nodes["c1"]
            close = node.sm.close

            def closing() -> None:
                close()
                events.append("store closed")

            node.sm.close = closing  # type: ignore[method-assign]
            _until(reading.is_set)
        # the read ended before the store closed, and the stop did not wait for the build
        assert events == ["read stopped", "store closed"]
        assert not [r for r in caplog.records if "did not stop within" in r.getMessage()]
    finally:
        never.set()


def test_a_member_restored_from_a_snapshot_serves_its_agents_from_the_new_store(tmp_path: Path) -> None:
    """A follower stopped while its peers compacted their logs comes back through a snapshot
    install, which replaces its store under the hub: the hub loads the new one and an agent on
    that member gets the goal state the snapshot holds."""
    with InProcessCluster(tmp_path, size=3, snapshot_entries=20) as cluster:
        leader = cluster.wait_leader()
        channel = grpc.insecure_channel(cluster.configs[leader.config.id].listen)
        api = network_pb2_grpc.NetworkServiceStub(channel)
        vpc = api.CreateVpc(net.CreateVpcRequest(project_id="p", cidr="10.0.0.0/16")).vpc
        subnet = api.CreateSubnet(net.CreateSubnetRequest(project_id="p", vpc_id=vpc.id, cidr="10.0.1.0/24")).subnet
        api.CreatePort(net.CreatePortRequest(project_id="p", subnet_id=subnet.id, host_id="h1"))
        lagger = next(n for n in cluster.nodes.values() if n is not leader)
        member = lagger.config.id
        behind = lagger.replica.store.applied_index
        cluster.run(lagger.stop(0.2))
        later = [
            api.CreatePort(net.CreatePortRequest(project_id="p", subnet_id=subnet.id, host_id="h2")).port
            for _ in range(60)
        ]
        assert leader.raft.storage.snapshot().metadata.index > behind  # it must be sent a snapshot
        back = cluster.nodes[member] = ControllerNode(cluster.configs[member])
        cluster.run(back.start())
        first_store = back.replica.store
        _until(lambda: back.replica.store is not first_store)  # replaced by the install
        _until(lambda: back.hub.loaded.is_set() and back.hub._store is back.replica.store)
        agent = AgentStream(cluster.configs[member].listen, "h1")
        try:
            agent.welcome()
            store = back.replica.store
            _until(lambda: back.hub.revision >= store.revision)
            while agent.goal.revision < back.hub.engine.changed_at("h1", back.hub.revision):
                agent.update()
            assert {p.id for p in later} <= set(agent.goal.neighbors)
            assert as_items(agent.goal) == expected(store, "h1")
        finally:
            agent.close()
            channel.close()
