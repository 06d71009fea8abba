"""Subnet commands: nesting and overlap, gateway, allocation pools, DNS, host routes, delete."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.state.testing import Harness, project
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res


def pools(subnet: res.Subnet) -> list[tuple[str, str]]:
    return [(p.start, p.end) for p in subnet.allocation_pools]


def create(vpc_id: str, cidr: str = "10.0.1.0/24", **kw) -> dict[str, net.CreateSubnetRequest]:
    return {"create_subnet": net.CreateSubnetRequest(vpc_id=vpc_id, cidr=cidr, **kw)}


def test_defaults(h: Harness) -> None:
    vpc = h.vpc()
    subnet = h.subnet(vpc.id, "10.0.1.0/24", name="s")
    assert (subnet.vpc_id, subnet.project_id, subnet.cidr, subnet.gateway_ip) == (
        vpc.id,
        "p1",
        "10.0.1.0/24",
        "10.0.1.1",
    )
    assert pools(subnet) == [("10.0.1.2", "10.0.1.254")]


def test_gateway_in_the_middle_splits_the_default_pool(h: Harness) -> None:
    subnet = h.subnet(h.vpc().id, "10.0.1.0/24", gateway_ip="10.0.1.100")
    assert pools(subnet) == [("10.0.1.1", "10.0.1.99"), ("10.0.1.101", "10.0.1.254")]


def test_gateway_last_usable(h: Harness) -> None:
    subnet = h.subnet(h.vpc().id, "10.0.1.0/30", gateway_ip="10.0.1.2")
    assert pools(subnet) == [("10.0.1.1", "10.0.1.1")]


@pytest.mark.parametrize("gateway", ["10.0.1.0", "10.0.1.255", "10.0.2.1", "10.0.1", "fd00::1"])
def test_bad_gateway(h: Harness, refused, gateway: str) -> None:
    error = refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(h.vpc().id, gateway_ip=gateway))
    assert error.field_violations[0].field == "gateway_ip"


def test_given_pools_sorted_and_kept(h: Harness) -> None:
    given = [
        res.IpRange(start="10.0.1.100", end="10.0.1.200"),
        res.IpRange(start="10.0.1.10", end="10.0.1.20"),
    ]
    subnet = h.subnet(h.vpc().id, allocation_pools=given)
    assert pools(subnet) == [("10.0.1.10", "10.0.1.20"), ("10.0.1.100", "10.0.1.200")]


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ([("10.0.1.0", "10.0.1.20")], "POOL_OUTSIDE_CIDR"),  # includes the network address
        ([("10.0.1.10", "10.0.1.255")], "POOL_OUTSIDE_CIDR"),  # includes broadcast
        ([("10.0.2.10", "10.0.2.20")], "POOL_OUTSIDE_CIDR"),
        ([("10.0.1.1", "10.0.1.20")], "POOL_CONTAINS_GATEWAY"),
        ([("10.0.1.20", "10.0.1.10")], "INVALID_POOL"),
        ([("10.0.1.10", "10.0.1.20"), ("10.0.1.20", "10.0.1.30")], "POOL_OVERLAP"),
        ([("10.0.1.x", "10.0.1.20")], "INVALID_IP_ADDRESS"),
        ([("10.0.1.10", "")], "FIELD_REQUIRED"),
        ([("10.0.1.2", "10.0.1.2")] * 17, "TOO_MANY_VALUES"),
    ],
)
def test_bad_pools(h: Harness, refused, given: list[tuple[str, str]], reason: str) -> None:
    ranges = [res.IpRange(start=a, end=b) for a, b in given]
    error = refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(h.vpc().id, allocation_pools=ranges))
    assert error.reason == reason


def test_cidr_must_be_inside_the_vpc(h: Harness, refused) -> None:
    vpc = h.vpc("10.0.0.0/16")
    for cidr in ["10.1.0.0/24", "10.0.0.0/15", "0.0.0.0/0"]:
        assert refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(vpc.id, cidr)).reason == "CIDR_OUTSIDE_VPC"
    assert h.subnet(vpc.id, "10.0.0.0/16").cidr == "10.0.0.0/16"  # the whole VPC is fine


@pytest.mark.parametrize(
    "cidr", ["10.0.1.0/24", "10.0.1.128/25", "10.0.0.0/23", "10.0.0.0/16", "10.0.1.4/30"]
)
def test_overlap_is_refused(h: Harness, refused, cidr: str) -> None:
    vpc = h.vpc()
    h.subnet(vpc.id, "10.0.1.0/24")
    h.subnet(vpc.id, "10.0.3.0/24")
    error = refused(E.ERROR_CODE_FAILED_PRECONDITION, **create(vpc.id, cidr))
    assert error.reason == "SUBNET_OVERLAP"


def test_adjacent_subnets_and_other_vpcs_do_not_overlap(h: Harness) -> None:
    vpc = h.vpc()
    for cidr in ["10.0.1.0/24", "10.0.0.0/24", "10.0.2.0/23", "10.0.4.0/30", "10.0.255.252/30"]:
        h.subnet(vpc.id, cidr)
    other = h.vpc()
    h.subnet(other.id, "10.0.1.0/24")  # the same CIDR in another VPC


@pytest.mark.parametrize("cidr", ["10.0.1.1/24", "10.0.1.0/31", "10.0.1.0/32", "fd00::/64", "x"])
def test_bad_cidr(h: Harness, refused, cidr: str) -> None:
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(h.vpc().id, cidr))


def test_dns_nameservers(h: Harness, refused) -> None:
    vpc = h.vpc()
    subnet = h.subnet(vpc.id, dns_nameservers=["10.0.0.2", "2001:db8::1"])
    assert list(subnet.dns_nameservers) == ["10.0.0.2", "2001:db8::1"]
    for bad in (
        ["8.8.8"],
        ["1.1.1.1", "1.1.1.1"],
        ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"],
    ):
        refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(vpc.id, "10.0.9.0/24", dns_nameservers=bad))


def test_host_routes(h: Harness, refused) -> None:
    vpc = h.vpc()
    route = res.HostRoute(destination="192.168.0.0/16", nexthop="10.0.1.1")
    assert list(h.subnet(vpc.id, host_routes=[route]).host_routes) == [route]
    for bad in (
        res.HostRoute(destination="192.168.0.1/16", nexthop="10.0.1.1"),
        res.HostRoute(destination="192.168.0.0/16", nexthop="10.0.1"),
        res.HostRoute(destination="", nexthop="10.0.1.1"),
    ):
        refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(vpc.id, "10.0.9.0/24", host_routes=[bad]))
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(vpc.id, "10.0.9.0/24", host_routes=[route, route]))


def test_update(h: Harness, refused) -> None:
    _, subnet = h.network()
    result = h.ok(
        update_subnet=net.UpdateSubnetRequest(
            subnet=res.Subnet(
                id=subnet.id,
                name="n",
                dns_nameservers=["10.0.0.53"],
                host_routes=[res.HostRoute(destination="0.0.0.0/0", nexthop="10.0.1.1")],
                cidr="10.9.9.0/24",
            ),
            update_mask=FieldMask(paths=["name", "dns_nameservers", "host_routes"]),
        )
    )
    updated = result.resource.subnet
    assert (updated.name, list(updated.dns_nameservers), updated.cidr) == ("n", ["10.0.0.53"], subnet.cidr)
    assert len(updated.host_routes) == 1 and updated.revision == result.revision
    for paths in (["cidr"], ["gateway_ip"], ["allocation_pools"], ["vpc_id"]):
        refused(
            E.ERROR_CODE_INVALID_ARGUMENT,
            update_subnet=net.UpdateSubnetRequest(
                subnet=res.Subnet(id=subnet.id), update_mask=FieldMask(paths=paths)
            ),
        )
    refused(
        E.ERROR_CODE_INVALID_ARGUMENT,
        update_subnet=net.UpdateSubnetRequest(
            subnet=res.Subnet(id=subnet.id, dns_nameservers=["nope"]),
            update_mask=FieldMask(paths=["dns_nameservers"]),
        ),
    )


def test_delete_refused_while_ports_use_it(h: Harness, refused) -> None:
    vpc, subnet = h.network()
    port = h.port(subnet.id)
    assert refused(
        E.ERROR_CODE_FAILED_PRECONDITION, delete_subnet=net.DeleteRequest(id=subnet.id)
    ).reason == ("SUBNET_IN_USE")
    h.ok(delete_port=net.DeleteRequest(id=port.id))
    h.ok(delete_subnet=net.DeleteRequest(id=subnet.id))
    # the CIDR is free again in the VPC, and the new subnet's pool starts fresh
    again = h.subnet(vpc.id, subnet.cidr)
    assert h.port(again.id).fixed_ips[0].ip_address == "10.0.1.2"


def test_delete_refused_while_a_port_has_a_secondary_address_in_it(h: Harness, refused) -> None:
    vpc, first = h.network()
    second = h.subnet(vpc.id, "10.0.2.0/24")
    h.port(first.id, fixed_ips=[res.FixedIp(), res.FixedIp(subnet_id=second.id)])
    refused(E.ERROR_CODE_FAILED_PRECONDITION, delete_subnet=net.DeleteRequest(id=second.id))


def test_vpc_of_another_project_is_not_found(h: Harness, refused) -> None:
    vpc = h.vpc(caller=project("p2"))
    error = refused(E.ERROR_CODE_NOT_FOUND, caller=project("p1"), **create(vpc.id))
    assert error.field_violations[0].field == "vpc_id"


def test_a_subnet_lives_in_its_vpcs_project(h: Harness, refused) -> None:
    vpc = h.vpc(caller=project("p2"))
    admin = E.Caller(admin=True, project_id="p1")
    # an admin naming another project than the VPC's: no such VPC there
    refused(E.ERROR_CODE_NOT_FOUND, caller=admin, **create(vpc.id, project_id="p1"))
    # an admin naming no project gets the VPC's (whatever its own identity carries)
    assert h.subnet(vpc.id, caller=admin).project_id == "p2"
    assert h.subnet(vpc.id, "10.0.2.0/24", caller=admin, project_id="p2").project_id == "p2"


def test_large_subnets_cost_nothing_to_create(h: Harness) -> None:
    vpc = h.vpc("0.0.0.0/0")
    subnet = h.subnet(vpc.id, "0.0.0.0/1")
    assert pools(subnet) == [("0.0.0.2", "127.255.255.254")]
    assert h.port(subnet.id).fixed_ips[0].ip_address == "0.0.0.2"
