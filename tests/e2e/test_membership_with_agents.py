"""`alcor cluster join` adds a fourth controller and `alcor cluster leave` removes one while two
agents stay connected: ports created before, between and after the changes all turn ACTIVE, and
the member that left stops by itself."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from alcor.cmd.demo import wait_active, wait_registered
from alcor.cmd.demohosts import MemoryHosts
from alcor.cmd.localcluster import LocalCluster
from alcor.sdk import Client

pytestmark = pytest.mark.slow

HOSTS = {"host-a": "10.99.0.1", "host-b": "10.99.0.2"}


def alcor(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "alcor.cmd.main", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def voters(client: Client) -> set[str]:
    return {m.id for m in client.cluster_status().members if m.role == "voter"}


def test_join_and_leave_with_agents_connected(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "controllers", size=3, extra=["--log-level", "warning"])
    hosts = MemoryHosts()
    try:
        cluster.start()
        hosts.start(cluster.endpoints, HOSTS)
        with Client(cluster.endpoints) as client:
            wait_registered(client, set(HOSTS))
            vpc = client.create_vpc(name="v", cidr="10.0.0.0/16")
            subnet = client.create_subnet(vpc_id=vpc.id, cidr="10.0.1.0/24")

            def port(name: str, host: str) -> str:
                p = client.create_port(subnet_id=subnet.id, host_id=host, name=name)
                wait_active(client, [p.id])
                return p.id

            port("before", "host-a")

            new = cluster.add("c4")
            alcor("cluster", "join", "--id", "c4", "--peer-address", new.peer, "--api-address", new.api,
                  "--endpoints", ",".join(cluster.endpoints))
            deadline = time.monotonic() + 30
            while "c4" not in voters(client):
                assert time.monotonic() < deadline, "c4 did not become a voter"
                time.sleep(0.1)
            port("after-join", "host-b")

            leaving = cluster.leader().id
            alcor("cluster", "leave", "--id", leaving, "--endpoints", ",".join(cluster.endpoints))
            # ask the members that stay: the one removed may never hear that it was
            staying = [m.api for m in cluster.members.values() if m.id != leaving]
            with Client(staying) as others:
                deadline = time.monotonic() + 30
                while leaving in voters(others):
                    assert time.monotonic() < deadline, f"{leaving} is still a member"
                    time.sleep(0.1)
                assert voters(others) == {"c1", "c2", "c3", "c4"} - {leaving}
            # it applied its own removal (it was the leader): it stops by itself
            gone = cluster.members[leaving].popen
            assert gone is not None and gone.wait(30) == 0
            port("after-leave-a", "host-a")
            port("after-leave-b", "host-b")
            assert all(agent.connected for agent in hosts.agents.values())
    finally:
        hosts.close()
        cluster.stop()


def test_a_removed_follower_stops_by_itself(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "controllers", size=3, extra=["--log-level", "warning"])
    try:
        cluster.start()
        leaving = next(m.id for m in cluster.members.values() if m.id != cluster.leader().id)
        with Client(cluster.endpoints) as client:
            client.create_vpc(name="before", cidr="10.0.0.0/16")
            remaining = {m.id for m in client.remove_member(leaving)}
        assert leaving not in remaining
        # the leader's farewell heartbeat lets it apply its own removal, and then it exits
        gone = cluster.members[leaving].popen
        assert gone is not None and gone.wait(30) == 0
        staying = [m.api for m in cluster.members.values() if m.id != leaving]
        with Client(staying) as others:
            others.create_vpc(name="after", cidr="10.1.0.0/16")
            assert {v.name for v in others.list_vpcs()} == {"before", "after"}
    finally:
        cluster.stop()
