"""Client and AsyncClient against scripted members: request ids fixed across retries, leader
hints, attempt deadlines, typed errors, pages, tokens, and the revision a write reports."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import grpc
import pytest
from support.scripted import Fail, ScriptedServer, not_leader

from alcor.sdk import AsyncClient, Client, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res


@pytest.fixture
def members() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    a, b = ScriptedServer(), ScriptedServer()
    yield a, b
    a.stop()
    b.stop()


def dead_endpoint() -> str:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def vpc_response(revision: int = 7) -> net.VpcResponse:
    return net.VpcResponse(
        header=net.ResponseHeader(revision=revision, member_id="b"),
        vpc=res.Vpc(id="v1", name="web", cidr="10.0.0.0/16", vni=5, revision=revision),
    )


def test_not_leader_retry_reuses_the_request_id(members: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = members
    # a redirects to b; b loses the outcome (no hint: the next member is a); a redirects again
    a.on("CreateVpc", not_leader(b.address), not_leader(b.address))
    b.on("CreateVpc", Fail(grpc.StatusCode.UNAVAILABLE, "outcome unknown", "OUTCOME_UNKNOWN"), vpc_response())
    with Client([a.address], timeout=5) as c:
        vpc = c.create_vpc(name="web", cidr="10.0.0.0/16")
        assert vpc == vpc_response().vpc
        assert c.last_revision == 7
        assert c.endpoints == [a.address, b.address]  # the hinted leader joined the list
    sent = a.requests("CreateVpc") + b.requests("CreateVpc")
    assert len(sent) == 4
    assert len(sent[0].request_id) == 32
    assert {r.request_id for r in sent} == {sent[0].request_id}
    assert {(r.name, r.cidr) for r in sent} == {("web", "10.0.0.0/16")}


def test_unreachable_member_is_skipped_with_the_same_request_id(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    _, b = members
    b.on(
        "CreatePorts",
        net.CreatePortsResponse(
            header=net.ResponseHeader(revision=3), ports=[res.Port(id="p1"), res.Port(id="p2")]
        ),
    )
    with Client([dead_endpoint(), b.address], timeout=5) as c:
        ports = c.create_ports(
            [{"subnet_id": "s1", "host_id": "h1"}, {"subnet_id": "s1", "name": "two"}], request_id="bulk-1"
        )
    assert [p.id for p in ports] == ["p1", "p2"]
    (req,) = b.requests("CreatePorts")
    assert req.request_id == "bulk-1"
    assert [(p.subnet_id, p.host_id, p.name, p.request_id) for p in req.ports] == [
        ("s1", "h1", "", ""),
        ("s1", "", "two", ""),
    ]


def test_slow_attempt_moves_on_and_repeats_the_same_request(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    a, b = members

    def stall(request: object, context: grpc.ServicerContext) -> net.PortResponse:
        time.sleep(1.0)
        return net.PortResponse()

    a.on("CreatePort", stall)
    b.on(
        "CreatePort",
        net.PortResponse(header=net.ResponseHeader(revision=9), port=res.Port(id="p", revision=9)),
    )
    with Client([a.address, b.address], timeout=5, attempt_timeout=0.3) as c:
        port = c.create_port(subnet_id="s1", host_id="h1", fixed_ips=["10.0.0.5"])
    assert port.revision == 9
    (first,), (second,) = a.requests("CreatePort"), b.requests("CreatePort")
    assert first == second
    assert first.fixed_ips[0].ip_address == "10.0.0.5"


def test_answers_are_raised_typed_and_not_retried(members: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = members
    a.on(
        "CreateSubnet",
        Fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad subnet",
            "INVALID_CIDR",
            violations=[("cidr", "10.9.0.0/24 is outside the VPC 10.0.0.0/16")],
        ),
    )
    a.on("DeleteVpc", Fail(grpc.StatusCode.FAILED_PRECONDITION, "vpc v1 has subnets", "IN_USE"))
    a.on("GetPort", Fail(grpc.StatusCode.NOT_FOUND, "port p9 not found", "NOT_FOUND"))
    with Client([a.address, b.address], timeout=5) as c:
        with pytest.raises(InvalidArgument) as bad:
            c.create_subnet(vpc_id="v1", cidr="10.9.0.0/24")
        assert bad.value.field_violations == [("cidr", "10.9.0.0/24 is outside the VPC 10.0.0.0/16")]
        assert bad.value.reason == "INVALID_CIDR"
        assert str(bad.value) == "bad subnet (cidr: 10.9.0.0/24 is outside the VPC 10.0.0.0/16)"
        with pytest.raises(FailedPrecondition):
            c.delete_vpc("v1")
        with pytest.raises(NotFound, match="port p9 not found"):
            c.get_port("p9")
    assert b.received == []


def test_no_member_answers_before_the_deadline() -> None:
    with Client([dead_endpoint(), dead_endpoint()], timeout=0.5) as c, pytest.raises(Unavailable):
        c.get_vpc("v1")


def test_list_walks_every_page_with_the_token_and_filters(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    a, _ = members
    a.on(
        "ListPorts",
        net.ListPortsResponse(
            header=net.ResponseHeader(revision=4),
            ports=[res.Port(id="p1"), res.Port(id="p2")],
            next_page_token="t2",
        ),
        net.ListPortsResponse(header=net.ResponseHeader(revision=4), ports=[res.Port(id="p3")]),
    )
    with Client(a.address, token="s3cret") as c:
        ids = [p.id for p in c.list_ports(host_id="h1", page_size=2, stale=True)]
    assert ids == ["p1", "p2", "p3"]
    first, second = a.requests("ListPorts")
    assert (first.host_id, first.page.page_size, first.page.page_token, first.read.stale) == (
        "h1",
        2,
        "",
        True,
    )
    assert (second.host_id, second.page.page_token) == ("h1", "t2")
    assert {r.metadata["authorization"] for r in a.received} == {"Bearer s3cret"}


def test_update_sends_only_the_given_fields(members: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, _ = members
    a.on(
        "UpdatePort", lambda req, ctx: net.PortResponse(header=net.ResponseHeader(revision=12), port=req.port)
    )
    a.on("DeleteSecurityGroupRule", net.DeleteResponse(header=net.ResponseHeader(revision=13)))
    with Client(a.address) as c:
        port = c.update_port("p1", host_id="", security_group_ids=["sg1", "sg2"])
        assert c.delete_security_group_rule("sg1", "r1") == 13
    (req,) = a.requests("UpdatePort")
    assert list(req.update_mask.paths) == ["host_id", "security_group_ids"]
    assert (port.id, port.host_id, list(port.security_group_ids)) == ("p1", "", ["sg1", "sg2"])


def test_async_client_retries_with_the_same_request_id(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    a, b = members
    a.on("CreateSecurityGroup", not_leader(b.address))
    b.on(
        "CreateSecurityGroup",
        lambda req, ctx: net.SecurityGroupResponse(
            header=net.ResponseHeader(revision=21),
            security_group=res.SecurityGroup(id="sg1", name=req.name, rules=req.rules, revision=21),
        ),
    )
    b.on(
        "ListVpcs",
        net.ListVpcsResponse(vpcs=[res.Vpc(id="v1")], next_page_token="n"),
        net.ListVpcsResponse(vpcs=[res.Vpc(id="v2")]),
    )
    b.on("GetVpc", Fail(grpc.StatusCode.NOT_FOUND, "vpc v3 not found"))

    async def scenario() -> tuple[res.SecurityGroup, list[str], int]:
        async with AsyncClient([a.address, b.address], timeout=5) as c:
            sg = await c.create_security_group(
                name="web",
                rules=[
                    {
                        "direction": "ingress",
                        "protocol": "tcp",
                        "port_range_min": 22,
                        "port_range_max": 22,
                        "remote_ip_prefix": "0.0.0.0/0",
                    }
                ],
            )
            ids = [v.id async for v in c.list_vpcs()]
            with pytest.raises(NotFound):
                await c.get_vpc("v3")
            return sg, ids, c.last_revision

    sg, ids, revision = asyncio.run(scenario())
    assert (sg.name, sg.revision, revision, ids) == ("web", 21, 21, ["v1", "v2"])
    assert sg.rules[0].protocol == res.PROTOCOL_TCP and sg.rules[0].direction == res.DIRECTION_INGRESS
    (first,), (second,) = a.requests("CreateSecurityGroup"), b.requests("CreateSecurityGroup")
    assert first.request_id == second.request_id and first == second


def test_async_client_skips_a_dead_member_and_reports_progress(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    _, b = members
    b.on(
        "WaitForHosts",
        net.WaitForHostsResponse(
            header=net.ResponseHeader(revision=30),
            complete=True,
            hosts=[net.HostProgress(host_id="h1", applied_revision=30, connected=True)],
        ),
    )

    async def scenario() -> net.WaitForHostsResponse:
        async with AsyncClient([dead_endpoint(), b.address], timeout=5) as c:
            return await c.wait_for_hosts(29, host_ids=["h1"], timeout=2.5)

    done = asyncio.run(scenario())
    assert done.complete and done.hosts[0].applied_revision == 30
    (req,) = b.requests("WaitForHosts")
    assert (req.revision, list(req.host_ids), req.timeout_ms) == (29, ["h1"], 2500)
