"""Every class of bad input, against a populated store: the typed error, its gRPC code, and no change.

"No change" is checked with `Store.state_hash()` (every table except the request-id tables and
the applied index, which record the refusal for replays) and the revision; the full
`content_hash()` is checked too with the same command replayed (which must write nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.state import grpc_code
from alcor.controller.state.testing import ADMIN, Harness, project
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

World = dict[str, Any]
Case = tuple[str, grpc.StatusCode, Callable[[World], dict[str, Any]]]


@pytest.fixture
def world(h: Harness) -> World:
    vpc, subnet = h.network()
    small = h.subnet(vpc.id, "10.0.9.0/30")
    h.port(small.id)  # its only address is now taken
    port = h.port(subnet.id, host_id="h1")
    group = h.security_group("web")
    p2 = project("p2")
    foreign_vpc = h.vpc(caller=p2)
    foreign_subnet = h.subnet(foreign_vpc.id, caller=p2)
    foreign_port = h.port(foreign_subnet.id, caller=p2)
    foreign_group = h.security_group("x", caller=p2)
    h.ok(caller=ADMIN, create_node=net.CreateNodeRequest(host_id="h1", underlay_ip="192.0.2.1"))
    return locals()


def mask(*paths: str) -> FieldMask:
    return FieldMask(paths=list(paths))


INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
CASES: list[Case] = [
    # malformed CIDRs
    ("vpc cidr malformed", INVALID, lambda w: {"create_vpc": net.CreateVpcRequest(cidr="10.0.0.0/40")}),
    ("vpc cidr host bits", INVALID, lambda w: {"create_vpc": net.CreateVpcRequest(cidr="10.0.0.1/16")}),
    ("vpc cidr ipv6", INVALID, lambda w: {"create_vpc": net.CreateVpcRequest(cidr="fd00::/48")}),
    (
        "subnet cidr malformed",
        INVALID,
        lambda w: {"create_subnet": net.CreateSubnetRequest(vpc_id=w["vpc"].id, cidr="10.0.2.0/2x")},
    ),
    (
        "subnet outside vpc",
        INVALID,
        lambda w: {"create_subnet": net.CreateSubnetRequest(vpc_id=w["vpc"].id, cidr="10.9.0.0/24")},
    ),
    (
        "subnet overlap",
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda w: {"create_subnet": net.CreateSubnetRequest(vpc_id=w["vpc"].id, cidr="10.0.1.128/25")},
    ),
    (
        "rule prefix malformed",
        INVALID,
        lambda w: {
            "create_security_group": net.CreateSecurityGroupRequest(
                name="g", rules=[res.SecurityGroupRule(direction=1, remote_ip_prefix="10.0.0.0/99")]
            )
        },
    ),
    # IP outside the subnet, and other address errors
    (
        "ip outside subnet",
        INVALID,
        lambda w: {
            "create_port": net.CreatePortRequest(
                subnet_id=w["subnet"].id, fixed_ips=[res.FixedIp(ip_address="10.0.2.9")]
            )
        },
    ),
    (
        "ip already allocated",
        grpc.StatusCode.ALREADY_EXISTS,
        lambda w: {
            "create_port": net.CreatePortRequest(
                subnet_id=w["subnet"].id,
                fixed_ips=[res.FixedIp(ip_address=w["port"].fixed_ips[0].ip_address)],
            )
        },
    ),
    (
        "mac already allocated",
        grpc.StatusCode.ALREADY_EXISTS,
        lambda w: {
            "create_port": net.CreatePortRequest(subnet_id=w["subnet"].id, mac_address=w["port"].mac_address)
        },
    ),
    # exhausted pool
    (
        "pool exhausted",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        lambda w: {"create_port": net.CreatePortRequest(subnet_id=w["small"].id)},
    ),
    (
        "bulk create with one exhausted",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        lambda w: {
            "create_ports": net.CreatePortsRequest(
                ports=[
                    net.CreatePortRequest(subnet_id=w["subnet"].id),
                    net.CreatePortRequest(subnet_id=w["small"].id),
                ]
            )
        },
    ),
    # unknown ids
    (
        "unknown vpc",
        NOT_FOUND,
        lambda w: {"create_subnet": net.CreateSubnetRequest(vpc_id="vpc-x", cidr="10.0.0.0/24")},
    ),
    ("unknown subnet", NOT_FOUND, lambda w: {"create_port": net.CreatePortRequest(subnet_id="subnet-x")}),
    (
        "unknown group",
        NOT_FOUND,
        lambda w: {
            "create_port": net.CreatePortRequest(subnet_id=w["subnet"].id, security_group_ids=["sg-x"])
        },
    ),
    ("unknown port", NOT_FOUND, lambda w: {"delete_port": net.DeleteRequest(id="port-x")}),
    (
        "unknown rule",
        NOT_FOUND,
        lambda w: {
            "delete_security_group_rule": net.DeleteSecurityGroupRuleRequest(
                security_group_id=w["group"].id, rule_id="sgr-x"
            )
        },
    ),
    (
        "unknown id longer than any key",
        NOT_FOUND,
        lambda w: {"delete_subnet": net.DeleteRequest(id="s" * 1000)},
    ),
    # other project's ids
    ("foreign vpc", NOT_FOUND, lambda w: {"delete_vpc": net.DeleteRequest(id=w["foreign_vpc"].id)}),
    (
        "foreign subnet",
        NOT_FOUND,
        lambda w: {"create_port": net.CreatePortRequest(subnet_id=w["foreign_subnet"].id)},
    ),
    (
        "foreign port",
        NOT_FOUND,
        lambda w: {
            "update_port": net.UpdatePortRequest(
                port=res.Port(id=w["foreign_port"].id, name="x"), update_mask=mask("name")
            )
        },
    ),
    (
        "foreign group on a port",
        NOT_FOUND,
        lambda w: {
            "create_port": net.CreatePortRequest(
                subnet_id=w["subnet"].id, security_group_ids=[w["foreign_group"].id]
            )
        },
    ),
    (
        "foreign remote group",
        NOT_FOUND,
        lambda w: {
            "create_security_group_rule": net.CreateSecurityGroupRuleRequest(
                rule=res.SecurityGroupRule(
                    security_group_id=w["group"].id, direction=1, remote_group_id=w["foreign_group"].id
                )
            )
        },
    ),
    (
        "another project named",
        grpc.StatusCode.PERMISSION_DENIED,
        lambda w: {"create_vpc": net.CreateVpcRequest(cidr="10.5.0.0/16", project_id="p2")},
    ),
    (
        "node write by a project",
        grpc.StatusCode.PERMISSION_DENIED,
        lambda w: {"delete_node": net.DeleteRequest(id="h1")},
    ),
    # oversized names
    ("vpc name", INVALID, lambda w: {"create_vpc": net.CreateVpcRequest(cidr="10.5.0.0/16", name="x" * 256)}),
    (
        "subnet name",
        INVALID,
        lambda w: {
            "create_subnet": net.CreateSubnetRequest(vpc_id=w["vpc"].id, cidr="10.0.5.0/24", name="x" * 256)
        },
    ),
    (
        "port name",
        INVALID,
        lambda w: {"create_port": net.CreatePortRequest(subnet_id=w["subnet"].id, name="x" * 256)},
    ),
    (
        "group name",
        INVALID,
        lambda w: {"create_security_group": net.CreateSecurityGroupRequest(name="x" * 256)},
    ),
    (
        "rename",
        INVALID,
        lambda w: {
            "update_vpc": net.UpdateVpcRequest(
                vpc=res.Vpc(id=w["vpc"].id, name="x" * 256), update_mask=mask("name")
            )
        },
    ),
    # unknown enum values (proto3 keeps unknown numbers)
    (
        "rule direction",
        INVALID,
        lambda w: {
            "create_security_group": net.CreateSecurityGroupRequest(
                name="g", rules=[res.SecurityGroupRule(direction=5)]
            )
        },
    ),
    (
        "rule protocol",
        INVALID,
        lambda w: {
            "create_security_group": net.CreateSecurityGroupRequest(
                name="g", rules=[res.SecurityGroupRule(direction=1, protocol=200)]
            )
        },
    ),
    (
        "rule ethertype",
        INVALID,
        lambda w: {
            "create_security_group": net.CreateSecurityGroupRequest(
                name="g", rules=[res.SecurityGroupRule(direction=2, ethertype=3)]
            )
        },
    ),
    # in-use deletes
    (
        "delete used subnet",
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda w: {"delete_subnet": net.DeleteRequest(id=w["subnet"].id)},
    ),
    (
        "delete used vpc",
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda w: {"delete_vpc": net.DeleteRequest(id=w["vpc"].id)},
    ),
    (
        "delete used group",
        grpc.StatusCode.FAILED_PRECONDITION,
        lambda w: {"delete_security_group": net.DeleteRequest(id=w["port"].security_group_ids[0])},
    ),
]


@pytest.mark.parametrize(("name", "code", "build"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    h: Harness, world: World, name: str, code: grpc.StatusCode, build: Callable[[World], dict[str, Any]]
) -> None:
    state, revision, applied = h.store.state_hash(), h.store.revision, h.store.applied_index
    command = h.command(**build(world))
    result = h.apply(command)
    assert result.HasField("error"), name
    assert grpc_code(result.error) == code, result.error
    assert result.error.reason and result.error.message
    assert (h.store.state_hash(), h.store.revision) == (state, revision)
    assert h.store.applied_index == applied + 1
    # the replay returns the recorded error and writes nothing but the applied index
    recorded = request_tables(h)
    assert h.apply(command) == result
    assert request_tables(h) == recorded
    assert h.store.state_hash() == state


def request_tables(h: Harness) -> dict[str, dict[bytes, bytes]]:
    with h.store.read() as txn:
        return {
            name: dict(txn.cursor(db=h.store.schema.table(name)))
            for name in ("requests", "requests_by_revision")
        }


def test_a_refused_unknown_enum_in_a_status_batch_changes_nothing(h: Harness, world: World) -> None:
    state = h.store.state_hash()
    update = E.PortStatusUpdate(port_id=world["port"].id, status=42, host_id="h1", port_revision=99)
    result = h.run(caller=ADMIN, update_port_statuses=E.UpdatePortStatuses(updates=[update]))
    assert grpc_code(result.error) == INVALID
    assert h.store.state_hash() == state
