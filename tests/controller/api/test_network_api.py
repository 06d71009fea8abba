"""NetworkService over a real single-node controller (gRPC on loopback, Raft, LMDB): every
method works, bad input gets the documented code with details and changes nothing, and tokens
scope what a caller sees and changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support.controller import InProcessCluster, write_tokens

from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc
from alcor.v1 import resources_pb2 as res

TOKENS = {"admin-token": "admin", "p1-token": "project:p1", "p2-token": "project:p2", "h1-token": "host:h1"}


class Api:
    """A NetworkService stub that sends one token with every call."""

    def __init__(self, channel: grpc.Channel, token: str | None) -> None:
        self.stub = network_pb2_grpc.NetworkServiceStub(channel)
        self.metadata = [("authorization", f"Bearer {token}")] if token else []

    def __getattr__(self, method: str) -> Any:
        fn = getattr(self.stub, method)
        return lambda request: fn(request, metadata=self.metadata, timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCluster]:
    root = tmp_path_factory.mktemp("api")
    tokens = write_tokens(root / "tokens", TOKENS)
    with InProcessCluster(root, size=1, token_file=str(tokens)) as c:
        yield c


@pytest.fixture(scope="module")
def channel(cluster: InProcessCluster) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(cluster.endpoints[0]) as ch:
        yield ch


@pytest.fixture(scope="module")
def admin(channel: grpc.Channel) -> Api:
    return Api(channel, "admin-token")


@pytest.fixture(scope="module")
def p1(channel: grpc.Channel) -> Api:
    return Api(channel, "p1-token")


@pytest.fixture(scope="module")
def p2(channel: grpc.Channel) -> Api:
    return Api(channel, "p2-token")


def code_of(call: Any) -> tuple[grpc.StatusCode, str, Any]:
    """Run a call that must fail: (code, ErrorInfo reason, the rich status)."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    err = info.value
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    reason = ""
    if status is not None:
        for d in status.details:
            if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                ei = error_details_pb2.ErrorInfo()
                d.Unpack(ei)
                reason = ei.reason
    return err.code(), reason, status  # type: ignore[attr-defined]


def test_vpc_subnet_port_lifecycle(p1: Api) -> None:
    vpc = p1.CreateVpc(net.CreateVpcRequest(name="web", cidr="10.1.0.0/16")).vpc
    assert vpc.project_id == "p1" and vpc.vni > 0 and vpc.id
    sub = p1.CreateSubnet(net.CreateSubnetRequest(vpc_id=vpc.id, cidr="10.1.1.0/24", name="a")).subnet
    assert sub.gateway_ip == "10.1.1.1"
    port = p1.CreatePort(net.CreatePortRequest(subnet_id=sub.id, host_id="h1", name="vm1")).port
    assert port.fixed_ips[0].ip_address.startswith("10.1.1.") and port.mac_address
    assert port.status == res.PORT_STATUS_DOWN

    got = p1.GetPort(net.GetRequest(id=port.id))
    assert got.port == port and got.header.revision >= port.revision and got.header.member_id == "c1"
    listed = p1.ListPorts(net.ListPortsRequest(subnet_id=sub.id)).ports
    assert [p.id for p in listed] == [port.id]
    assert p1.ListPorts(net.ListPortsRequest(host_id="elsewhere")).ports == []

    renamed = p1.UpdatePort(net.UpdatePortRequest(
        port=res.Port(id=port.id, name="vm1-renamed"), update_mask=field_mask_pb2.FieldMask(paths=["name"]))).port
    assert renamed.name == "vm1-renamed" and renamed.revision > port.revision

    code, _reason, _ = code_of(lambda: p1.DeleteSubnet(net.DeleteRequest(id=sub.id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    p1.DeletePort(net.DeleteRequest(id=port.id))
    assert code_of(lambda: p1.GetPort(net.GetRequest(id=port.id)))[0] == grpc.StatusCode.NOT_FOUND
    p1.DeleteSubnet(net.DeleteRequest(id=sub.id))
    p1.DeleteVpc(net.DeleteRequest(id=vpc.id))
    assert code_of(lambda: p1.GetVpc(net.GetRequest(id=vpc.id)))[0] == grpc.StatusCode.NOT_FOUND


def test_bulk_ports_and_pagination(p1: Api) -> None:
    vpc = p1.CreateVpc(net.CreateVpcRequest(name="bulk", cidr="10.2.0.0/16")).vpc
    sub = p1.CreateSubnet(net.CreateSubnetRequest(vpc_id=vpc.id, cidr="10.2.0.0/22")).subnet
    r = p1.CreatePorts(net.CreatePortsRequest(
        ports=[net.CreatePortRequest(subnet_id=sub.id, host_id=f"h{i % 3}") for i in range(25)]))
    assert len(r.ports) == 25 and len({p.fixed_ips[0].ip_address for p in r.ports}) == 25
    seen: list[str] = []
    token = ""
    while True:
        page = p1.ListPorts(net.ListPortsRequest(vpc_id=vpc.id, page=net.PageRequest(page_size=10, page_token=token)))
        seen += [p.id for p in page.ports]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(p.id for p in r.ports)


def test_security_groups_and_rules(p1: Api) -> None:
    sg = p1.CreateSecurityGroup(net.CreateSecurityGroupRequest(name="web")).security_group
    rule = p1.CreateSecurityGroupRule(net.CreateSecurityGroupRuleRequest(rule=res.SecurityGroupRule(
        security_group_id=sg.id, direction=res.DIRECTION_INGRESS, ethertype=res.ETHERTYPE_IPV4,
        protocol=res.PROTOCOL_TCP, port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0"))).rule
    assert rule.id
    code, _reason, _ = code_of(lambda: p1.CreateSecurityGroupRule(net.CreateSecurityGroupRuleRequest(
        rule=res.SecurityGroupRule(
            security_group_id=sg.id, direction=res.DIRECTION_INGRESS, ethertype=res.ETHERTYPE_IPV4,
            protocol=res.PROTOCOL_TCP, port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0"))))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert [r.id for r in p1.GetSecurityGroup(net.GetRequest(id=sg.id)).security_group.rules].count(rule.id) == 1
    p1.DeleteSecurityGroupRule(net.DeleteSecurityGroupRuleRequest(security_group_id=sg.id, rule_id=rule.id))
    assert rule.id not in [r.id for r in p1.GetSecurityGroup(net.GetRequest(id=sg.id)).security_group.rules]
    names = [g.name for g in p1.ListSecurityGroups(net.ListSecurityGroupsRequest()).security_groups]
    assert "web" in names
    p1.DeleteSecurityGroup(net.DeleteRequest(id=sg.id))


def test_nodes_are_admin_only(admin: Api, p1: Api) -> None:
    node = admin.CreateNode(net.CreateNodeRequest(host_id="node-a", underlay_ip="192.0.2.10")).node
    assert node.host_id == "node-a"
    assert admin.GetNode(net.GetRequest(id="node-a")).node.underlay_ip == "192.0.2.10"
    assert "node-a" in [n.host_id for n in admin.ListNodes(net.ListNodesRequest()).nodes]
    assert code_of(lambda: p1.ListNodes(net.ListNodesRequest()))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: p1.CreateNode(net.CreateNodeRequest(host_id="x", underlay_ip="192.0.2.11")))[0] \
        == grpc.StatusCode.PERMISSION_DENIED
    admin.DeleteNode(net.DeleteRequest(id="node-a"))


def test_request_id_makes_a_retry_return_the_first_result(p1: Api) -> None:
    req = net.CreateVpcRequest(request_id="retry-1", name="once", cidr="10.3.0.0/16")
    first = p1.CreateVpc(req)
    again = p1.CreateVpc(req)
    assert again.vpc == first.vpc and again.header.revision == first.header.revision
    assert [v.name for v in p1.ListVpcs(net.ListVpcsRequest(name="once")).vpcs] == ["once"]


def test_stale_read_reports_the_revision_it_was_served_at(p1: Api) -> None:
    created = p1.CreateVpc(net.CreateVpcRequest(name="stale", cidr="10.4.0.0/16"))
    got = p1.GetVpc(net.GetRequest(id=created.vpc.id, read=net.ReadOptions(stale=True)))
    assert got.vpc.id == created.vpc.id and got.header.revision >= created.header.revision


# (method, request, code): bad input for every write, and the reason where it is stable
BAD_WRITES: list[tuple[str, Any, grpc.StatusCode]] = [
    ("CreateVpc", net.CreateVpcRequest(name="x", cidr="10.0.0.0/33"), grpc.StatusCode.INVALID_ARGUMENT),
    ("CreateVpc", net.CreateVpcRequest(name="x", cidr=""), grpc.StatusCode.INVALID_ARGUMENT),
    ("UpdateVpc", net.UpdateVpcRequest(vpc=res.Vpc(id="vpc-none", name="n"),
                                       update_mask=field_mask_pb2.FieldMask(paths=["name"])),
     grpc.StatusCode.NOT_FOUND),
    ("UpdateVpc", net.UpdateVpcRequest(vpc=res.Vpc(id="vpc-none"),
                                       update_mask=field_mask_pb2.FieldMask(paths=["vni"])),
     grpc.StatusCode.INVALID_ARGUMENT),
    ("DeleteVpc", net.DeleteRequest(id="vpc-none"), grpc.StatusCode.NOT_FOUND),
    ("CreateSubnet", net.CreateSubnetRequest(vpc_id="vpc-none", cidr="10.0.0.0/24"), grpc.StatusCode.NOT_FOUND),
    ("UpdateSubnet", net.UpdateSubnetRequest(subnet=res.Subnet(id="subnet-none", name="n"),
                                             update_mask=field_mask_pb2.FieldMask(paths=["name"])),
     grpc.StatusCode.NOT_FOUND),
    ("DeleteSubnet", net.DeleteRequest(id="subnet-none"), grpc.StatusCode.NOT_FOUND),
    ("CreatePort", net.CreatePortRequest(subnet_id="subnet-none"), grpc.StatusCode.NOT_FOUND),
    ("CreatePorts", net.CreatePortsRequest(ports=[net.CreatePortRequest(subnet_id="subnet-none")]),
     grpc.StatusCode.NOT_FOUND),
    ("UpdatePort", net.UpdatePortRequest(port=res.Port(id="port-none", name="n"),
                                         update_mask=field_mask_pb2.FieldMask(paths=["name"])),
     grpc.StatusCode.NOT_FOUND),
    ("DeletePort", net.DeleteRequest(id="port-none"), grpc.StatusCode.NOT_FOUND),
    ("CreateSecurityGroup", net.CreateSecurityGroupRequest(name=""), grpc.StatusCode.INVALID_ARGUMENT),
    ("UpdateSecurityGroup", net.UpdateSecurityGroupRequest(
        security_group=res.SecurityGroup(id="sg-none", name="n"),
        update_mask=field_mask_pb2.FieldMask(paths=["name"])), grpc.StatusCode.NOT_FOUND),
    ("DeleteSecurityGroup", net.DeleteRequest(id="sg-none"), grpc.StatusCode.NOT_FOUND),
    ("CreateSecurityGroupRule", net.CreateSecurityGroupRuleRequest(
        rule=res.SecurityGroupRule(security_group_id="sg-none", direction=res.DIRECTION_INGRESS)),
     grpc.StatusCode.NOT_FOUND),
    ("DeleteSecurityGroupRule", net.DeleteSecurityGroupRuleRequest(security_group_id="sg-none", rule_id="r"),
     grpc.StatusCode.NOT_FOUND),
    ("CreateNode", net.CreateNodeRequest(host_id="n1", underlay_ip="not-an-ip"), grpc.StatusCode.INVALID_ARGUMENT),
    ("UpdateNode", net.UpdateNodeRequest(node=res.Node(host_id="none", underlay_ip="192.0.2.1"),
                                         update_mask=field_mask_pb2.FieldMask(paths=["underlay_ip"])),
     grpc.StatusCode.NOT_FOUND),
    ("DeleteNode", net.DeleteRequest(id="none"), grpc.StatusCode.NOT_FOUND),
]


@pytest.mark.parametrize(("method", "request_", "code"), BAD_WRITES, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(BAD_WRITES)])
def test_bad_input_gets_the_documented_code_and_changes_nothing(
    admin: Api, cluster: InProcessCluster, method: str, request_: Any, code: grpc.StatusCode
) -> None:
    store = cluster.nodes["c1"].replica.store
    before = (store.revision, store.state_hash())
    got, reason, _status = code_of(lambda: getattr(admin, method)(request_))
    assert got == code
    assert reason, "every refusal carries a google.rpc.ErrorInfo reason"
    assert (store.revision, store.state_hash()) == before


def test_invalid_argument_names_the_field(p1: Api) -> None:
    _, _reason, status = code_of(lambda: p1.CreateVpc(net.CreateVpcRequest(name="x", cidr="300.0.0.0/8")))
    fields = []
    for d in status.details:
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            d.Unpack(br)
            fields += [v.field for v in br.field_violations]
    assert "cidr" in fields


def test_get_needs_an_id(p1: Api) -> None:
    assert code_of(lambda: p1.GetVpc(net.GetRequest()))[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_tokens_scope_reads_and_writes_to_one_project(p1: Api, p2: Api, admin: Api) -> None:
    vpc = p1.CreateVpc(net.CreateVpcRequest(name="private", cidr="10.9.0.0/16")).vpc
    assert code_of(lambda: p2.GetVpc(net.GetRequest(id=vpc.id)))[0] == grpc.StatusCode.NOT_FOUND
    assert vpc.id not in [v.id for v in p2.ListVpcs(net.ListVpcsRequest()).vpcs]
    assert code_of(lambda: p2.ListVpcs(net.ListVpcsRequest(project_id="p1")))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: p2.DeleteVpc(net.DeleteRequest(id=vpc.id)))[0] == grpc.StatusCode.NOT_FOUND
    # a project token cannot create in another project
    assert code_of(lambda: p2.CreateVpc(net.CreateVpcRequest(project_id="p1", name="x", cidr="10.8.0.0/16")))[0] \
        == grpc.StatusCode.PERMISSION_DENIED
    # the admin sees everything, and p1 still has its VPC
    assert vpc.id in [v.id for v in admin.ListVpcs(net.ListVpcsRequest()).vpcs]
    assert p1.GetVpc(net.GetRequest(id=vpc.id)).vpc.id == vpc.id


def test_missing_and_unknown_tokens_are_unauthenticated(channel: grpc.Channel) -> None:
    for token in (None, "no-such-token"):
        api = Api(channel, token)
        code, reason, _ = code_of(lambda api=api: api.ListVpcs(net.ListVpcsRequest()))
        assert code == grpc.StatusCode.UNAUTHENTICATED and reason == "UNAUTHENTICATED"


def test_metrics_count_requests_by_method_and_code(cluster: InProcessCluster, p1: Api) -> None:
    code_of(lambda: p1.GetVpc(net.GetRequest(id="vpc-missing")))
    text = cluster.nodes["c1"].metrics.render().decode()
    assert 'alcor_api_requests_total{code="NOT_FOUND",method="GetVpc"}' in text
    assert "alcor_raft_term" in text and "alcor_api_request_seconds_bucket" in text


def test_health_and_reflection_are_served(channel: grpc.Channel) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    check = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="alcor.v1.NetworkService"), timeout=5)
    assert check.status == health_pb2.HealthCheckResponse.SERVING
    responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"alcor.v1.NetworkService", "alcor.v1.WatchService", "alcor.v1.ClusterService"} <= names


def test_cluster_changes_need_an_admin_token(channel: grpc.Channel) -> None:
    from alcor.v1 import cluster_pb2, cluster_pb2_grpc

    stub = cluster_pb2_grpc.ClusterServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.TransferLeader(cluster_pb2.TransferLeaderRequest(), metadata=[("authorization", "Bearer p1-token")],
                            timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert stub.Status(cluster_pb2.ClusterStatusRequest(), timeout=5).leader_id == "c1"

