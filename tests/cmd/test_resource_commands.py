"""The resource commands through click's CliRunner against a scripted member: what they send,
their tables and JSON, and errors as one line with a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from click.testing import CliRunner, Result
from support.scripted import Fail, ScriptedServer

from alcor.cmd.main import cli
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as w


@pytest.fixture
def member() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.stop()


def run(member: ScriptedServer, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ALCOR_ENDPOINTS": member.address, "ALCOR_TOKEN": "tok"})


def header(revision: int) -> net.ResponseHeader:
    return net.ResponseHeader(revision=revision, member_id="c1")


VPC = res.Vpc(
    id="vpc-1",
    project_id="p1",
    name="web",
    cidr="10.0.0.0/16",
    vni=7,
    status=res.VPC_STATUS_ACTIVE,
    create_revision=3,
    revision=3,
)
PORT = res.Port(
    id="port-1",
    project_id="p1",
    name="vm1",
    subnet_id="sn-1",
    vpc_id="vpc-1",
    fixed_ips=[res.FixedIp(subnet_id="sn-1", ip_address="10.0.1.2")],
    mac_address="02:00:00:00:00:01",
    host_id="h1",
    status=res.PORT_STATUS_DOWN,
    create_revision=9,
    revision=9,
)


def test_vpc_create_prints_a_table_and_sends_the_token(member: ScriptedServer) -> None:
    member.on("CreateVpc", net.VpcResponse(header=header(3), vpc=VPC))
    out = run(member, "vpc", "create", "--name", "web", "--cidr", "10.0.0.0/16", "--project", "p1")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "ID     NAME  PROJECT_ID  CIDR         VNI  STATUS  REVISION",
        "vpc-1  web   p1          10.0.0.0/16  7    active  3",
    ]
    (req,) = member.requests("CreateVpc")
    assert (req.name, req.cidr, req.project_id, len(req.request_id)) == ("web", "10.0.0.0/16", "p1", 32)
    assert member.received[0].metadata["authorization"] == "Bearer tok"


def test_list_json_walks_pages_with_filters(member: ScriptedServer) -> None:
    second = res.Port(id="port-2", subnet_id="sn-1")
    member.on(
        "ListPorts",
        net.ListPortsResponse(header=header(9), ports=[PORT], next_page_token="next"),
        net.ListPortsResponse(header=header(9), ports=[second]),
    )
    out = run(member, "port", "list", "--host", "h1", "--subnet", "sn-1", "-o", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [p["id"] for p in data] == ["port-1", "port-2"]
    assert data[0]["revision"] == 9 and data[0]["status"] == "PORT_STATUS_DOWN"
    assert data[0]["fixed_ips"] == [{"subnet_id": "sn-1", "ip_address": "10.0.1.2"}]
    first, again = member.requests("ListPorts")
    assert (first.host_id, first.subnet_id, again.page.page_token) == ("h1", "sn-1", "next")


def test_not_found_is_one_line_and_exit_1(member: ScriptedServer) -> None:
    member.on("GetSubnet", Fail(grpc.StatusCode.NOT_FOUND, "subnet sn-9 not found", "NOT_FOUND"))
    out = run(member, "subnet", "get", "sn-9")
    assert out.exit_code == 1
    assert out.stderr == "Error: not_found: subnet sn-9 not found\n"
    assert out.stdout == ""


def test_field_violations_are_named(member: ScriptedServer) -> None:
    member.on(
        "CreateSubnet",
        Fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid subnet",
            "INVALID_FIELD",
            violations=[("cidr", "not inside 10.0.0.0/16")],
        ),
    )
    out = run(
        member,
        "subnet",
        "create",
        "--vpc",
        "vpc-1",
        "--cidr",
        "10.9.0.0/24",
        "--pool",
        "10.9.0.10-10.9.0.20",
        "--dns",
        "1.1.1.1,8.8.8.8",
        "--route",
        "0.0.0.0/0,10.9.0.1",
    )
    assert out.exit_code == 1
    assert out.stderr == "Error: invalid_argument: invalid subnet (cidr: not inside 10.0.0.0/16)\n"
    (req,) = member.requests("CreateSubnet")
    assert [(p.start, p.end) for p in req.allocation_pools] == [("10.9.0.10", "10.9.0.20")]
    assert list(req.dns_nameservers) == ["1.1.1.1", "8.8.8.8"]
    assert [(r.destination, r.nexthop) for r in req.host_routes] == [("0.0.0.0/0", "10.9.0.1")]


def test_bad_input_is_refused_before_sending(member: ScriptedServer) -> None:
    out = run(member, "subnet", "create", "--vpc", "v", "--cidr", "10.0.0.0/24", "--pool", "10.0.0.5")
    assert out.exit_code == 1
    assert out.stderr == "Error: allocation_pools: '10.0.0.5' is not of the form START-END\n"
    out = run(member, "vpc", "update", "vpc-1")
    assert out.exit_code == 1
    assert out.stderr == "Error: nothing to update: give at least one of name, description\n"
    assert member.received == []


def test_unreachable_cluster_is_one_line() -> None:
    out = CliRunner().invoke(cli, ["vpc", "list", "--endpoints", "127.0.0.1:1", "--timeout", "0.3"])
    assert out.exit_code == 1
    assert out.stderr.startswith("Error: unavailable: ") and out.stderr.count("\n") == 1


def test_port_create_wait_waits_for_the_ports_revision(member: ScriptedServer) -> None:
    member.on("CreatePort", net.PortResponse(header=header(9), port=PORT))
    member.on(
        "WaitForHosts",
        net.WaitForHostsResponse(
            header=header(9),
            complete=True,
            hosts=[net.HostProgress(host_id="h1", applied_revision=9, connected=True)],
        ),
    )
    out = run(
        member,
        "port",
        "create",
        "--subnet",
        "sn-1",
        "--host",
        "h1",
        "--ip",
        "10.0.1.2",
        "--sg",
        "sg-1,sg-2",
        "--wait",
        "--wait-timeout",
        "4",
    )
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[-1] == "revision 9 applied on hosts: h1 at 9"
    (req,) = member.requests("WaitForHosts")
    assert (req.revision, req.timeout_ms) == (9, 4000)
    (create,) = member.requests("CreatePort")
    assert list(create.security_group_ids) == ["sg-1", "sg-2"]


def test_port_create_wait_fails_when_a_host_lags(member: ScriptedServer) -> None:
    member.on("CreatePort", net.PortResponse(header=header(9), port=PORT))
    member.on(
        "WaitForHosts",
        net.WaitForHostsResponse(
            header=header(9), complete=False, hosts=[net.HostProgress(host_id="h1", applied_revision=7)]
        ),
    )
    out = run(member, "port", "create", "--subnet", "sn-1", "--wait", "--wait-timeout", "1", "-o", "json")
    assert out.exit_code == 1
    assert json.loads(out.stdout)["hosts"] == [{"host_id": "h1", "applied_revision": 7, "connected": False}]
    assert out.stderr == "Error: not every host applied revision 9 within 1s\n"


def test_sg_rule_add_and_delete(member: ScriptedServer) -> None:
    member.on(
        "CreateSecurityGroupRule",
        lambda req, ctx: net.SecurityGroupRuleResponse(
            header=header(12),
            rule=res.SecurityGroupRule(
                id="r1",
                **{
                    f.name: getattr(req.rule, f.name)
                    for f in res.SecurityGroupRule.DESCRIPTOR.fields
                    if f.name != "id"
                },
            ),
        ),
    )
    member.on("DeleteSecurityGroupRule", net.DeleteResponse(header=header(13)))
    out = run(
        member,
        "sg",
        "rule",
        "add",
        "sg-1",
        "--protocol",
        "tcp",
        "--port",
        "8000-8080",
        "--remote-ip",
        "10.0.0.0/8",
    )
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[1].split() == ["r1", "ingress", "ipv4", "tcp", "8000-8080", "10.0.0.0/8"]
    out = run(member, "sg", "rule", "delete", "sg-1", "r1")
    assert out.stdout == "deleted rule r1 at revision 13\n"
    (req,) = member.requests("DeleteSecurityGroupRule")
    assert (req.security_group_id, req.rule_id) == ("sg-1", "r1")


def test_sg_create_with_rules_shows_them(member: ScriptedServer) -> None:
    member.on(
        "CreateSecurityGroup",
        lambda req, ctx: net.SecurityGroupResponse(
            header=header(5),
            security_group=res.SecurityGroup(id="sg-1", name=req.name, rules=req.rules, revision=5),
        ),
    )
    out = run(
        member,
        "sg",
        "create",
        "--name",
        "web",
        "--rule",
        "direction=ingress,protocol=tcp,port=22",
        "--rule",
        "direction=egress",
    )
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[1].split() == ["sg-1", "web", "2", "5"]
    assert [line.split()[:4] for line in lines[4:]] == [
        ["ingress", "ipv4", "tcp", "22"],
        ["egress", "ipv4", "any", "any"],
    ]


def test_node_update_and_delete(member: ScriptedServer) -> None:
    member.on("UpdateNode", lambda req, ctx: net.NodeResponse(header=header(4), node=req.node))
    member.on("DeleteNode", net.DeleteResponse(header=header(6)))
    out = run(member, "node", "update", "h1", "--underlay-ip", "192.168.1.9", "-o", "json")
    assert json.loads(out.stdout)["underlay_ip"] == "192.168.1.9"
    (req,) = member.requests("UpdateNode")
    assert list(req.update_mask.paths) == ["underlay_ip"]
    out = run(member, "node", "delete", "h1", "-o", "json")
    assert json.loads(out.stdout) == {"id": "h1", "revision": 6}


def test_watch_prints_events_until_the_limit(member: ScriptedServer) -> None:
    events = [
        w.Event(
            type=w.EVENT_TYPE_CREATED,
            kind=res.RESOURCE_KIND_PORT,
            revision=9,
            project_id="p1",
            resource=res.Resource(port=PORT),
        ),
        w.Event(
            type=w.EVENT_TYPE_DELETED,
            kind=res.RESOURCE_KIND_VPC,
            revision=10,
            project_id="p1",
            resource=res.Resource(vpc=VPC),
        ),
    ]
    member.on("Watch", [w.WatchResponse(header=header(10), events=events)])
    out = run(member, "watch", "--kind", "port", "--kind", "vpc", "--from-revision", "9", "--limit", "2")
    assert out.exit_code == 0, out.output
    assert [line.split() for line in out.stdout.splitlines()] == [
        ["REVISION", "TYPE", "KIND", "ID", "NAME", "PROJECT_ID"],
        ["9", "created", "port", "port-1", "vm1", "p1"],
        ["10", "deleted", "vpc", "vpc-1", "web", "p1"],
    ]
    (req,) = member.requests("Watch")
    assert (list(req.kinds), req.start_revision) == ([res.RESOURCE_KIND_PORT, res.RESOURCE_KIND_VPC], 9)
    member.on("Watch", [w.WatchResponse(header=header(10), events=events[:1])])
    out = run(member, "watch", "--from-revision", "9", "--limit", "1", "-o", "json")
    assert json.loads(out.stdout)["resource"]["port"]["id"] == "port-1"
