"""ADD's wait for ACTIVE on an injected clock: a new port whose status never turns ACTIVE, or an
adopted port whose move to a new namespace its host never applies, ends in TRY_AGAIN_LATER at
the deadline; a port ADD made is deleted again, an adopted one is left. The
cluster is a scripted stand-in here (the real one is in test_plugin.py): what is under test is
the plugin's waiting, which must not take real time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from alcor.cni import plugin, spec
from alcor.cni.netconf import NetConf
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res


class FakeClock(plugin.Clock):
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:  # type: ignore[override]
        return self.t

    def sleep(self, seconds: float) -> None:  # type: ignore[override]
        self.t += seconds


class ScriptedCluster:
    """Answers like a cluster whose agent is connected but programs nothing in time."""

    def __init__(self, clock: FakeClock, existing: res.Port | None) -> None:
        self.clock = clock
        self.ports: dict[str, res.Port] = {existing.id: existing} if existing else {}
        self.deleted: list[str] = []
        self.reads = 0

    def list_vpcs(self, **_: Any) -> list[res.Vpc]:
        return [res.Vpc(id="vpc-1", name="web", project_id="p")]

    def list_subnets(self, **_: Any) -> list[res.Subnet]:
        return [res.Subnet(id="sn-1", vpc_id="vpc-1", cidr="10.0.0.0/24", gateway_ip="10.0.0.1")]

    def get_vpc(self, vpc_id: str) -> res.Vpc:
        raise AssertionError("found by name")

    get_subnet = get_vpc

    def list_ports(self, **_: Any) -> list[res.Port]:
        return list(self.ports.values())

    def wait_for_hosts(self, revision: int, host_ids: list[str], timeout: float) -> net.WaitForHostsResponse:
        host = net.HostProgress(host_id=host_ids[0], applied_revision=revision, connected=True)
        if revision:
            self.clock.t += timeout  # the server waited the whole timeout
            host.applied_revision = revision - 1
            return net.WaitForHostsResponse(complete=False, hosts=[host])
        return net.WaitForHostsResponse(complete=True, hosts=[host])

    def create_port(self, **kw: Any) -> res.Port:
        port = res.Port(id="port-1", host_id=kw["host_id"], status=res.PORT_STATUS_DOWN, revision=7)
        port.fixed_ips.add(subnet_id="sn-1", ip_address="10.0.0.5")
        self.ports[port.id] = port
        return port

    def update_port(self, port_id: str, device_id: str) -> res.Port:
        self.ports[port_id].device_id = device_id
        self.ports[port_id].revision += 1
        return self.ports[port_id]

    def get_port(self, port_id: str) -> res.Port:
        self.reads += 1
        return self.ports[port_id]

    def delete_port(self, port_id: str, timeout: float | None = None) -> int:
        self.deleted.append(port_id)
        del self.ports[port_id]
        return 8


def _add(cluster: ScriptedCluster, clock: FakeClock) -> spec.CniError:
    @contextmanager
    def open_client(conf: NetConf, timeout: float) -> Iterator[Any]:
        yield cluster

    inv = spec.Invocation("ADD", "ctr", "/run/netns/x", "eth0", {}, {})
    conf = NetConf(network="n", vpc="web", subnet="sn", endpoints=("e",), host_id="h1", timeout=10)
    with pytest.raises(spec.CniError) as err:
        plugin.add(inv, conf, clock=clock, open_client=open_client)
    return err.value


def test_a_new_port_never_active_ends_at_the_deadline_and_goes() -> None:
    clock = FakeClock()
    cluster = ScriptedCluster(clock, None)
    err = _add(cluster, clock)
    assert err.code == spec.TRY_AGAIN_LATER and "not ACTIVE within the deadline" in err.msg
    assert 10 <= clock.t < 10.1  # waited the deadline out, on the injected clock
    assert cluster.deleted == ["port-1"] and cluster.ports == {}
    assert cluster.reads < 10 / plugin.POLL_MAX + 20  # reads back off to POLL_MAX


def test_a_move_its_host_never_applies_ends_at_the_deadline_and_the_port_stays() -> None:
    clock = FakeClock()
    old = res.Port(
        id="port-0", host_id="h1", device_id="/run/netns/old", status=res.PORT_STATUS_ACTIVE, revision=3
    )
    old.container.container_id = "ctr"
    cluster = ScriptedCluster(clock, old)
    err = _add(cluster, clock)
    assert err.code == spec.TRY_AGAIN_LATER
    assert cluster.deleted == [] and cluster.ports["port-0"].device_id == "/run/netns/x"
