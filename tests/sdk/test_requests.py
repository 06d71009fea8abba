"""Request building without a server: conversions, FieldMasks from keyword updates, request
ids, every RPC reachable from both clients, and the retry policy on an injected clock."""

from __future__ import annotations

import inspect

import grpc
import pytest

from alcor.sdk import AsyncClient, Client, DeadlineExceeded, NotFound, Unavailable, cluster, inputs, ops
from alcor.sdk.api import Api
from alcor.sdk.call import Call
from alcor.sdk.retry import Attempts, Router
from alcor.v1 import cluster_pb2, network_pb2, watch_pb2
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res


def test_enums_by_short_name_full_name_or_number() -> None:
    assert inputs.enum_value(res.Protocol, "tcp", "protocol") == res.PROTOCOL_TCP
    assert inputs.enum_value(res.Protocol, "PROTOCOL_UDP", "protocol") == res.PROTOCOL_UDP
    assert inputs.enum_value(res.Protocol, "6", "protocol") == res.PROTOCOL_TCP
    assert inputs.enum_value(res.ResourceKind, "sg", "kinds") == res.RESOURCE_KIND_SECURITY_GROUP
    assert inputs.enum_value(res.Direction, 2, "direction") == res.DIRECTION_EGRESS
    with pytest.raises(ValueError, match="protocol: 'sctp' is not one of any, icmp, tcp, udp, icmpv6"):
        inputs.enum_value(res.Protocol, "sctp", "protocol")
    with pytest.raises(ValueError, match="direction: 9 is not a valid Direction"):
        inputs.enum_value(res.Direction, 9, "direction")


def test_short_forms_of_pools_routes_and_fixed_ips() -> None:
    assert inputs.ip_range("10.0.0.2 - 10.0.0.9") == res.IpRange(start="10.0.0.2", end="10.0.0.9")
    assert inputs.ip_range(("10.0.0.2", "10.0.0.9")) == inputs.ip_range(
        {"start": "10.0.0.2", "end": "10.0.0.9"}
    )
    assert inputs.host_route("0.0.0.0/0,10.0.0.1") == res.HostRoute(
        destination="0.0.0.0/0", nexthop="10.0.0.1"
    )
    assert inputs.fixed_ip("10.0.0.5") == res.FixedIp(ip_address="10.0.0.5")
    assert inputs.fixed_ip(("sn-2", "10.1.0.5")) == res.FixedIp(subnet_id="sn-2", ip_address="10.1.0.5")
    with pytest.raises(
        ValueError, match=r"host_routes: '0\.0\.0\.0/0' is not of the form DESTINATION,NEXTHOP"
    ):
        inputs.host_route("0.0.0.0/0")
    with pytest.raises(ValueError, match="allocation_pools: expected a list"):
        inputs.many(inputs.ip_range, "10.0.0.2-10.0.0.9", "allocation_pools")
    with pytest.raises(ValueError, match=r"rules\.protocol"):
        inputs.rule({"protocol": "gre"})
    with pytest.raises(ValueError, match=r"rules: .*port_range"):
        inputs.rule({"port_range": 22})


def test_update_keywords_become_the_message_and_its_mask() -> None:
    call = ops.update_subnet(
        "sn-1", name="", dns_nameservers=["1.1.1.1"], host_routes=[("10.9.0.0/16", "10.0.0.1")]
    )
    req = call.request
    assert isinstance(req, net.UpdateSubnetRequest)
    assert list(req.update_mask.paths) == ["dns_nameservers", "host_routes", "name"]
    assert (req.subnet.id, req.subnet.name, list(req.subnet.dns_nameservers)) == ("sn-1", "", ["1.1.1.1"])
    assert req.subnet.host_routes[0].nexthop == "10.0.0.1"
    assert list(ops.update_port("p1", security_group_ids=[]).request.update_mask.paths) == [
        "security_group_ids"
    ]
    node = ops.update_node("h1", underlay_ip="192.168.0.9").request
    assert (node.node.host_id, list(node.update_mask.paths)) == ("h1", ["underlay_ip"])
    with pytest.raises(ValueError, match="nothing to update: give at least one of name, description"):
        ops.update_vpc("v1")
    with pytest.raises(ValueError, match="vpc_id is required"):
        ops.get_vpc("")


def test_each_write_gets_its_own_request_id_unless_given() -> None:
    a, b = ops.create_vpc(cidr="10.0.0.0/16"), ops.create_vpc(cidr="10.0.0.0/16")
    assert len(a.request.request_id) == 32 and a.request.request_id != b.request.request_id
    assert ops.delete_port("p1", request_id="mine").request.request_id == "mine"
    assert ops.create_ports([{"subnet_id": "s"}]).request.ports[0].request_id == ""
    with pytest.raises(ValueError, match=r"ports\[0\]: .*unexpected keyword argument 'subnet'"):
        ops.create_ports([{"subnet": "s"}])
    with pytest.raises(ValueError, match="ports: expected a non-empty list"):
        ops.create_ports([])


def test_rule_and_wait_requests() -> None:
    rule = ops.create_security_group_rule(
        "sg-1",
        direction="egress",
        protocol="udp",
        port_range_min=53,
        port_range_max=53,
        remote_ip_prefix="10.0.0.0/8",
    ).request.rule
    assert (rule.security_group_id, rule.direction, rule.protocol, rule.ethertype) == (
        "sg-1",
        res.DIRECTION_EGRESS,
        res.PROTOCOL_UDP,
        res.ETHERTYPE_IPV4,
    )
    wait = ops.wait_for_hosts(12, host_ids=["h1"], timeout=2.0)
    assert (wait.request.timeout_ms, wait.timeout, wait.long_poll) == (2000, 2.0 + ops.WAIT_GRACE, True)


def test_every_rpc_of_the_contract_has_a_method_on_both_clients() -> None:
    called: set[str] = set()
    sync, aio = Client("127.0.0.1:1"), AsyncClient("127.0.0.1:1")
    for name, member in vars(Api).items():
        build = getattr(member, "build", None)
        if build is None:
            continue
        assert getattr(sync, name).__doc__ == getattr(aio, name).__doc__
        params = inspect.signature(build).parameters
        args = [
            f"x{i}" if p.name != "revision" else 1
            for i, p in enumerate(params.values())
            if p.default is inspect.Parameter.empty and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        kwargs = {
            p.name: "x"
            for p in params.values()
            if p.default is inspect.Parameter.empty and p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        if name == "create_ports":
            args = [[{"subnet_id": "s"}]]
        if name.startswith("update_"):
            kwargs["name"] = "renamed"
        called.add(build(*args, **kwargs).method)
    contract = {m.name for m in network_pb2.DESCRIPTOR.services_by_name["NetworkService"].methods}
    contract |= {m.name for m in cluster_pb2.DESCRIPTOR.services_by_name["ClusterService"].methods}
    assert contract == called
    assert {m.name for m in watch_pb2.DESCRIPTOR.services_by_name["WatchService"].methods} == {"Watch"}
    assert inspect.signature(sync.watch).parameters.keys() == inspect.signature(aio.watch).parameters.keys()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_attempts_follow_hints_rotate_back_off_and_stop_at_the_deadline() -> None:
    clock, router = Clock(), Router("a:1,b:1")
    attempts = Attempts(router, ops.get_vpc("v1", timeout=2.0), 10.0, 0.5, clock)
    assert attempts.next() == ("a:1", 0.5)
    assert attempts.failed(Unavailable("x", "NOT_LEADER", {"leader_api": "c:1"})) == 0.0
    assert attempts.next()[0] == "c:1" and router.endpoints == ["a:1", "b:1", "c:1"]
    assert attempts.failed(Unavailable("down")) == 0.0
    assert attempts.next()[0] == "a:1"
    assert attempts.failed(DeadlineExceeded("slow")) == pytest.approx(0.05)  # a full round: pause
    clock.now += 1.8
    assert attempts.next() == ("b:1", pytest.approx(0.2))
    clock.now += 0.3
    with pytest.raises(DeadlineExceeded, match="slow"):
        attempts.next()


def test_attempts_raise_answers_and_ambiguous_failures_of_unsafe_calls() -> None:
    clock = Clock()
    attempts = Attempts(Router(["a:1"]), ops.get_port("p1"), 10.0, None, clock)
    with pytest.raises(NotFound):
        attempts.failed(NotFound("gone"))
    unsafe: Call[object] = cluster.transfer_leader("c2")
    attempts = Attempts(Router(["a:1"]), unsafe, 10.0, 0.5, clock)
    assert attempts.next() == ("a:1", 30.0)  # not capped: it is not repeated after a timeout
    with pytest.raises(DeadlineExceeded):
        attempts.failed(DeadlineExceeded("outcome unknown"))
    assert attempts.failed(Unavailable("refused")) == pytest.approx(
        0.05
    )  # one member: every failure is a round


def test_channel_credentials_need_a_cert_and_key_together(tmp_path: object) -> None:
    from alcor.sdk import tls_credentials

    assert isinstance(tls_credentials(), grpc.ChannelCredentials)
    with pytest.raises(ValueError, match="needs its key"):
        tls_credentials(cert="c.pem")
    with pytest.raises(ValueError, match=r"cannot read /nonexistent/ca\.pem"):
        tls_credentials(ca="/nonexistent/ca.pem")
