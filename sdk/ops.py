"""Every NetworkService operation of the SDK, written once: each function checks and converts its
arguments, builds the request (a write gets its request id here, once) and says how to read the
answer. `Client` and `AsyncClient` expose these same functions as their methods (api.py).

Results: creates, gets and updates return the resource message (alcor.v1.resources_pb2); a
write's resource has `revision` equal to the write's revision. Deletes return the revision of
the delete. List pages are `Page`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

from . import inputs
from .call import NETWORK, Call, Page
from .call import request_id as rid

WAIT_GRACE = 5.0  # seconds beyond a server-side wait before the client gives up on the answer


def _field(name: str) -> Any:
    return lambda response: getattr(response, name)


def _revision(response: Any) -> int:
    return int(response.header.revision)


def _page(field: str) -> Any:
    return lambda r: Page(list(getattr(r, field)), r.next_page_token, r.header.revision)


def _read(stale: bool) -> net.ReadOptions:
    return net.ReadOptions(stale=stale)


def _page_req(page_size: int, page_token: str) -> net.PageRequest:
    if page_size < 0:
        raise ValueError("page_size must not be negative")
    return net.PageRequest(page_size=page_size, page_token=page_token)


def _need(**values: str) -> None:
    for name, value in values.items():
        if not value:
            raise ValueError(f"{name} is required")


def _get(method: str, field: str, id: str, stale: bool, timeout: float | None, key: str = "id") -> Call[Any]:
    _need(**{key: id})
    return Call(NETWORK, method, net.GetRequest(id=id, read=_read(stale)), _field(field), timeout)


def _delete(
    method: str, id: str, request_id: str | None, timeout: float | None, key: str = "id"
) -> Call[int]:
    _need(**{key: id})
    return Call(NETWORK, method, net.DeleteRequest(request_id=rid(request_id), id=id), _revision, timeout)


def _write(method: str, request: Any, field: str, timeout: float | None) -> Call[Any]:
    return Call(NETWORK, method, request, _field(field), timeout)


# ---- VPC ----


def create_vpc(
    *,
    cidr: str,
    name: str = "",
    project_id: str = "",
    description: str = "",
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Vpc]:
    """Create a VPC with an IPv4 CIDR; the controller allocates its VNI."""
    return _write(
        "CreateVpc",
        net.CreateVpcRequest(
            request_id=rid(request_id), project_id=project_id, name=name, description=description, cidr=cidr
        ),
        "vpc",
        timeout,
    )


def get_vpc(vpc_id: str, *, stale: bool = False, timeout: float | None = None) -> Call[res.Vpc]:
    return _get("GetVpc", "vpc", vpc_id, stale, timeout, "vpc_id")


def list_vpcs_page(
    *,
    project_id: str = "",
    name: str = "",
    page_size: int = 0,
    page_token: str = "",
    stale: bool = False,
    timeout: float | None = None,
) -> Call[Page[res.Vpc]]:
    req = net.ListVpcsRequest(
        page=_page_req(page_size, page_token), read=_read(stale), project_id=project_id, name=name
    )
    return Call(NETWORK, "ListVpcs", req, _page("vpcs"), timeout)


def update_vpc(
    vpc_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Vpc]:
    """Change the given fields (None: unchanged)."""
    vpc, mask = inputs.update(res.Vpc, "id", vpc_id, {"name": name, "description": description})
    return _write(
        "UpdateVpc",
        net.UpdateVpcRequest(request_id=rid(request_id), vpc=vpc, update_mask=mask),
        "vpc",
        timeout,
    )


def delete_vpc(vpc_id: str, *, request_id: str | None = None, timeout: float | None = None) -> Call[int]:
    return _delete("DeleteVpc", vpc_id, request_id, timeout, "vpc_id")


# ---- Subnet ----


def create_subnet(
    *,
    vpc_id: str,
    cidr: str,
    name: str = "",
    gateway_ip: str = "",
    allocation_pools: Iterable[Any] | None = None,
    dns_nameservers: Iterable[str] | None = None,
    host_routes: Iterable[Any] | None = None,
    description: str = "",
    project_id: str = "",
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Subnet]:
    """Create a subnet inside a VPC's CIDR. Pools: IpRange, (start, end) or "START-END"; routes:
    HostRoute, (destination, nexthop) or "DESTINATION,NEXTHOP"."""
    req = net.CreateSubnetRequest(
        request_id=rid(request_id),
        project_id=project_id,
        name=name,
        description=description,
        vpc_id=vpc_id,
        cidr=cidr,
        gateway_ip=gateway_ip,
        allocation_pools=inputs.many(inputs.ip_range, allocation_pools, "allocation_pools"),
        dns_nameservers=inputs.many(lambda v, f: str(v), dns_nameservers, "dns_nameservers"),
        host_routes=inputs.many(inputs.host_route, host_routes, "host_routes"),
    )
    return _write("CreateSubnet", req, "subnet", timeout)


def get_subnet(subnet_id: str, *, stale: bool = False, timeout: float | None = None) -> Call[res.Subnet]:
    return _get("GetSubnet", "subnet", subnet_id, stale, timeout, "subnet_id")


def list_subnets_page(
    *,
    vpc_id: str = "",
    project_id: str = "",
    name: str = "",
    page_size: int = 0,
    page_token: str = "",
    stale: bool = False,
    timeout: float | None = None,
) -> Call[Page[res.Subnet]]:
    req = net.ListSubnetsRequest(
        page=_page_req(page_size, page_token),
        read=_read(stale),
        project_id=project_id,
        vpc_id=vpc_id,
        name=name,
    )
    return Call(NETWORK, "ListSubnets", req, _page("subnets"), timeout)


def update_subnet(
    subnet_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    dns_nameservers: Iterable[str] | None = None,
    host_routes: Iterable[Any] | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Subnet]:
    """Change the given fields (None: unchanged; [] clears a list)."""
    subnet, mask = inputs.update(
        res.Subnet,
        "id",
        subnet_id,
        {
            "name": name,
            "description": description,
            "dns_nameservers": dns_nameservers,
            "host_routes": host_routes,
        },
        {"host_routes": inputs.host_route},
    )
    return _write(
        "UpdateSubnet",
        net.UpdateSubnetRequest(request_id=rid(request_id), subnet=subnet, update_mask=mask),
        "subnet",
        timeout,
    )


def delete_subnet(
    subnet_id: str, *, request_id: str | None = None, timeout: float | None = None
) -> Call[int]:
    return _delete("DeleteSubnet", subnet_id, request_id, timeout, "subnet_id")


# ---- Port ----


def port_request(
    *,
    subnet_id: str,
    host_id: str = "",
    name: str = "",
    fixed_ips: Iterable[Any] | None = None,
    mac_address: str = "",
    device_id: str = "",
    security_group_ids: Iterable[str] | None = None,
    project_id: str = "",
    interface_name: str = "",
    container: res.PortContainer | Mapping[str, str] | None = None,
) -> net.CreatePortRequest:
    """The CreatePortRequest for one port (without a request id). Fixed IPs: FixedIp, a dict,
    (subnet_id, address) or "ADDRESS" in subnet_id. `container`: a PortContainer or a dict of
    its fields (container_id, pod_namespace, pod_name, pod_uid)."""
    if isinstance(container, Mapping):
        container = res.PortContainer(**container)
    return net.CreatePortRequest(
        project_id=project_id,
        name=name,
        subnet_id=subnet_id,
        fixed_ips=inputs.many(inputs.fixed_ip, fixed_ips, "fixed_ips"),
        mac_address=mac_address,
        host_id=host_id,
        device_id=device_id,
        security_group_ids=inputs.many(lambda v, f: str(v), security_group_ids, "security_group_ids"),
        interface_name=interface_name,
        container=container,
    )


def create_port(
    *,
    subnet_id: str,
    host_id: str = "",
    name: str = "",
    fixed_ips: Iterable[Any] | None = None,
    mac_address: str = "",
    device_id: str = "",
    security_group_ids: Iterable[str] | None = None,
    project_id: str = "",
    interface_name: str = "",
    container: res.PortContainer | Mapping[str, str] | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Port]:
    """Create a port in a subnet, optionally bound to a host; address and MAC are allocated
    unless given; no security groups means the project's "default" group. device_id names the
    workload's network namespace, interface_name its interface there (default eth0)."""
    req = port_request(
        subnet_id=subnet_id,
        host_id=host_id,
        name=name,
        fixed_ips=fixed_ips,
        mac_address=mac_address,
        device_id=device_id,
        security_group_ids=security_group_ids,
        project_id=project_id,
        interface_name=interface_name,
        container=container,
    )
    req.request_id = rid(request_id)
    return _write("CreatePort", req, "port", timeout)


def create_ports(
    ports: Sequence[Mapping[str, Any] | net.CreatePortRequest],
    *,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[list[res.Port]]:
    """Create many ports in one replicated command: all or none. Each item is a
    CreatePortRequest or a dict of create_port's keyword arguments."""
    if isinstance(ports, Mapping | str) or not ports:
        raise ValueError("ports: expected a non-empty list of ports")
    items = []
    for i, p in enumerate(ports):
        if isinstance(p, net.CreatePortRequest):
            items.append(p)
        elif isinstance(p, Mapping):
            try:
                items.append(port_request(**p))
            except TypeError as e:
                raise ValueError(f"ports[{i}]: {e}") from None
        else:
            raise ValueError(f"ports[{i}]: expected a dict or a CreatePortRequest")
    req = net.CreatePortsRequest(request_id=rid(request_id), ports=items)
    return Call(NETWORK, "CreatePorts", req, lambda r: list(r.ports), timeout)


def get_port(port_id: str, *, stale: bool = False, timeout: float | None = None) -> Call[res.Port]:
    return _get("GetPort", "port", port_id, stale, timeout, "port_id")


def list_ports_page(
    *,
    subnet_id: str = "",
    vpc_id: str = "",
    host_id: str = "",
    device_id: str = "",
    project_id: str = "",
    name: str = "",
    container_id: str = "",
    page_size: int = 0,
    page_token: str = "",
    stale: bool = False,
    timeout: float | None = None,
) -> Call[Page[res.Port]]:
    req = net.ListPortsRequest(
        page=_page_req(page_size, page_token),
        read=_read(stale),
        project_id=project_id,
        vpc_id=vpc_id,
        subnet_id=subnet_id,
        host_id=host_id,
        device_id=device_id,
        name=name,
        container_id=container_id,
    )
    return Call(NETWORK, "ListPorts", req, _page("ports"), timeout)


def update_port(
    port_id: str,
    *,
    name: str | None = None,
    host_id: str | None = None,
    device_id: str | None = None,
    security_group_ids: Iterable[str] | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Port]:
    """Change the given fields (None: unchanged); host_id="" unbinds the port."""
    port, mask = inputs.update(
        res.Port,
        "id",
        port_id,
        {"name": name, "host_id": host_id, "device_id": device_id, "security_group_ids": security_group_ids},
    )
    return _write(
        "UpdatePort",
        net.UpdatePortRequest(request_id=rid(request_id), port=port, update_mask=mask),
        "port",
        timeout,
    )


def delete_port(port_id: str, *, request_id: str | None = None, timeout: float | None = None) -> Call[int]:
    return _delete("DeletePort", port_id, request_id, timeout, "port_id")


# ---- Security group ----


def create_security_group(
    *,
    name: str,
    description: str = "",
    rules: Iterable[Any] | None = None,
    project_id: str = "",
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.SecurityGroup]:
    """Create a security group; rules are SecurityGroupRule messages or dicts such as
    {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}."""
    req = net.CreateSecurityGroupRequest(
        request_id=rid(request_id),
        project_id=project_id,
        name=name,
        description=description,
        rules=inputs.many(inputs.rule, rules, "rules"),
    )
    return _write("CreateSecurityGroup", req, "security_group", timeout)


def get_security_group(
    security_group_id: str, *, stale: bool = False, timeout: float | None = None
) -> Call[res.SecurityGroup]:
    return _get("GetSecurityGroup", "security_group", security_group_id, stale, timeout, "security_group_id")


def list_security_groups_page(
    *,
    project_id: str = "",
    name: str = "",
    page_size: int = 0,
    page_token: str = "",
    stale: bool = False,
    timeout: float | None = None,
) -> Call[Page[res.SecurityGroup]]:
    req = net.ListSecurityGroupsRequest(
        page=_page_req(page_size, page_token), read=_read(stale), project_id=project_id, name=name
    )
    return Call(NETWORK, "ListSecurityGroups", req, _page("security_groups"), timeout)


def update_security_group(
    security_group_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.SecurityGroup]:
    sg, mask = inputs.update(
        res.SecurityGroup, "id", security_group_id, {"name": name, "description": description}
    )
    return _write(
        "UpdateSecurityGroup",
        net.UpdateSecurityGroupRequest(request_id=rid(request_id), security_group=sg, update_mask=mask),
        "security_group",
        timeout,
    )


def delete_security_group(
    security_group_id: str, *, request_id: str | None = None, timeout: float | None = None
) -> Call[int]:
    return _delete("DeleteSecurityGroup", security_group_id, request_id, timeout, "security_group_id")


def create_security_group_rule(
    security_group_id: str,
    *,
    direction: int | str = "ingress",
    protocol: int | str = "any",
    ethertype: int | str = "ipv4",
    port_range_min: int = 0,
    port_range_max: int = 0,
    remote_ip_prefix: str = "",
    remote_group_id: str = "",
    description: str = "",
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.SecurityGroupRule]:
    """Add a rule to a group; returns the rule with its id."""
    _need(security_group_id=security_group_id)
    r = inputs.rule(
        {
            "security_group_id": security_group_id,
            "direction": direction,
            "protocol": protocol,
            "ethertype": ethertype,
            "port_range_min": port_range_min,
            "port_range_max": port_range_max,
            "remote_ip_prefix": remote_ip_prefix,
            "remote_group_id": remote_group_id,
            "description": description,
        },
        "rule",
    )
    return _write(
        "CreateSecurityGroupRule",
        net.CreateSecurityGroupRuleRequest(request_id=rid(request_id), rule=r),
        "rule",
        timeout,
    )


def delete_security_group_rule(
    security_group_id: str, rule_id: str, *, request_id: str | None = None, timeout: float | None = None
) -> Call[int]:
    _need(security_group_id=security_group_id, rule_id=rule_id)
    req = net.DeleteSecurityGroupRuleRequest(
        request_id=rid(request_id), security_group_id=security_group_id, rule_id=rule_id
    )
    return Call(NETWORK, "DeleteSecurityGroupRule", req, _revision, timeout)


# ---- Node ----


def create_node(
    *,
    host_id: str,
    underlay_ip: str,
    name: str = "",
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Node]:
    """Register a host (admin only): the address it terminates VXLAN on."""
    req = net.CreateNodeRequest(
        request_id=rid(request_id), host_id=host_id, name=name, underlay_ip=underlay_ip
    )
    return _write("CreateNode", req, "node", timeout)


def get_node(host_id: str, *, stale: bool = False, timeout: float | None = None) -> Call[res.Node]:
    return _get("GetNode", "node", host_id, stale, timeout, "host_id")


def list_nodes_page(
    *, page_size: int = 0, page_token: str = "", stale: bool = False, timeout: float | None = None
) -> Call[Page[res.Node]]:
    req = net.ListNodesRequest(page=_page_req(page_size, page_token), read=_read(stale))
    return Call(NETWORK, "ListNodes", req, _page("nodes"), timeout)


def update_node(
    host_id: str,
    *,
    name: str | None = None,
    underlay_ip: str | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
) -> Call[res.Node]:
    node, mask = inputs.update(res.Node, "host_id", host_id, {"name": name, "underlay_ip": underlay_ip})
    return _write(
        "UpdateNode",
        net.UpdateNodeRequest(request_id=rid(request_id), node=node, update_mask=mask),
        "node",
        timeout,
    )


def delete_node(host_id: str, *, request_id: str | None = None, timeout: float | None = None) -> Call[int]:
    return _delete("DeleteNode", host_id, request_id, timeout, "host_id")


# ---- Progress ----


def wait_for_hosts(
    revision: int, *, host_ids: Iterable[str] | None = None, timeout: float = 30.0
) -> Call[net.WaitForHostsResponse]:
    """Wait until every host whose goal state changed at or before revision has applied it (or
    only host_ids). The answer's `complete` is False when timeout passed first; `hosts` lists
    each host's applied revision and whether it is connected."""
    if revision < 0 or timeout <= 0:
        raise ValueError("revision must not be negative and timeout must be positive")
    req = net.WaitForHostsRequest(
        revision=revision,
        host_ids=inputs.many(lambda v, f: str(v), host_ids, "host_ids"),
        timeout_ms=int(timeout * 1000),
    )
    return Call(NETWORK, "WaitForHosts", req, lambda r: r, timeout + WAIT_GRACE, long_poll=True)


def current_revision(*, timeout: float | None = None) -> Call[int]:
    """The cluster's current revision, read linearizably (a one-item list's header)."""
    req = net.ListVpcsRequest(page=net.PageRequest(page_size=1))
    return Call(NETWORK, "ListVpcs", req, _revision, timeout)
