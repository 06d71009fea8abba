"""A small in-memory network (VPCs, subnets, ports on hosts, security groups) and the goal state
each host gets from it, derived as DESIGN.md section 6 says the controller derives it.

It stands in for the controller's goal-state engine where the data plane is exercised alone:
the data-plane tests, the system tests' driver helper, and perf/bench_dataplane.py. Ids, MACs
and VNIs are deterministic (counters), so the same calls give the same goal states.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from alcor.v1 import goalstate_pb2, resources_pb2

from .model import GoalState


@dataclass
class Scenario:
    vpcs: dict[str, resources_pb2.Vpc] = field(default_factory=dict)
    subnets: dict[str, resources_pb2.Subnet] = field(default_factory=dict)
    ports: dict[str, resources_pb2.Port] = field(default_factory=dict)
    groups: dict[str, resources_pb2.SecurityGroup] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)  # host id -> underlay ip
    revision: int = 0
    _n: int = 0

    def _next(self, kind: str) -> str:
        self._n += 1
        self.revision += 1
        return f"{kind}-{self._n:06d}"

    def host(self, host_id: str, underlay_ip: str) -> str:
        self.hosts[host_id] = underlay_ip
        return host_id

    def vpc(self, cidr: str, vni: int, name: str = "") -> resources_pb2.Vpc:
        vpc = resources_pb2.Vpc(
            id=self._next("vpc"), name=name, cidr=cidr, vni=vni, status=resources_pb2.VPC_STATUS_ACTIVE
        )
        self.vpcs[vpc.id] = vpc
        return vpc

    def subnet(self, vpc: resources_pb2.Vpc, cidr: str) -> resources_pb2.Subnet:
        net = ipaddress.IPv4Network(cidr)
        sn = resources_pb2.Subnet(
            id=self._next("subnet"), vpc_id=vpc.id, cidr=cidr, gateway_ip=str(net.network_address + 1)
        )
        self.subnets[sn.id] = sn
        return sn

    def security_group(
        self, *rules: resources_pb2.SecurityGroupRule, name: str = ""
    ) -> resources_pb2.SecurityGroup:
        sg = resources_pb2.SecurityGroup(id=self._next("sg"), name=name)
        for r in rules:
            sg.rules.append(r)
        for i, r in enumerate(sg.rules):
            r.security_group_id = sg.id
            r.id = r.id or f"{sg.id}-rule-{i}"
        self.groups[sg.id] = sg
        return sg

    @staticmethod
    def rule(
        direction: int, protocol: int = 0, ports: tuple[int, int] = (0, 0), prefix: str = "", group: str = ""
    ) -> resources_pb2.SecurityGroupRule:
        return resources_pb2.SecurityGroupRule(
            direction=direction,
            ethertype=resources_pb2.ETHERTYPE_IPV4,
            protocol=protocol,
            port_range_min=ports[0],
            port_range_max=ports[1],
            remote_ip_prefix=prefix,
            remote_group_id=group,
        )

    def add_rule(self, sg_id: str, rule: resources_pb2.SecurityGroupRule) -> None:
        # a new message, never an in-place change: goal states handed out earlier keep theirs
        sg = resources_pb2.SecurityGroup()
        sg.CopyFrom(self.groups[sg_id])
        rule.security_group_id = sg_id
        rule.id = rule.id or f"{sg_id}-rule-{len(sg.rules)}"
        sg.rules.append(rule)
        self.groups[sg_id] = sg
        self.revision += 1

    def remove_rule(self, sg_id: str, index: int) -> None:
        sg = resources_pb2.SecurityGroup()
        sg.CopyFrom(self.groups[sg_id])
        del sg.rules[index]
        self.groups[sg_id] = sg
        self.revision += 1

    def update_port(self, port_id: str, **changes: object) -> resources_pb2.Port:
        """Replace a port with a changed copy (host_id, device_id, security_group_ids, mac_address)."""
        port = resources_pb2.Port()
        port.CopyFrom(self.ports[port_id])
        for name, value in changes.items():
            if name == "security_group_ids":
                del port.security_group_ids[:]
                port.security_group_ids.extend(value)  # type: ignore[arg-type]
            else:
                setattr(port, name, value)
        self.ports[port_id] = port
        self.revision += 1
        return port

    def port(
        self,
        subnet: resources_pb2.Subnet,
        host: str,
        ip: str,
        *,
        mac: str = "",
        groups: Iterable[str] = (),
        device_id: str = "",
    ) -> resources_pb2.Port:
        pid = self._next("port")
        n = self._n
        port = resources_pb2.Port(
            id=pid,
            vpc_id=subnet.vpc_id,
            subnet_id=subnet.id,
            mac_address=mac or f"fa:16:3e:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}",
            host_id=host,
            device_id=device_id,
            security_group_ids=list(groups),
            status=resources_pb2.PORT_STATUS_DOWN,
        )
        port.fixed_ips.append(resources_pb2.FixedIp(subnet_id=subnet.id, ip_address=ip))
        self.ports[pid] = port
        return port

    def delete_port(self, port_id: str) -> None:
        del self.ports[port_id]
        self.revision += 1

    def goal(self, host_id: str) -> GoalState:
        """Everything `host_id` needs: its ports, their subnets and VPCs, every other port of those
        VPCs as a neighbor, its ports' groups, and the members of groups their rules reference."""
        local = {pid: p for pid, p in self.ports.items() if p.host_id == host_id}
        vpc_ids = {p.vpc_id for p in local.values()}
        vpcs = {v: self.vpcs[v] for v in vpc_ids}
        subnets = {sid: s for sid, s in self.subnets.items() if s.vpc_id in vpc_ids}
        neighbors = {}
        for pid, p in self.ports.items():
            if p.vpc_id not in vpc_ids or pid in local:
                continue
            for fixed in p.fixed_ips:
                neighbors[pid] = goalstate_pb2.Neighbor(
                    port_id=pid,
                    vpc_id=p.vpc_id,
                    vni=self.vpcs[p.vpc_id].vni,
                    ip_address=fixed.ip_address,
                    mac_address=p.mac_address,
                    host_id=p.host_id,
                    host_ip=self.hosts.get(p.host_id, ""),
                )
        groups = {g: self.groups[g] for p in local.values() for g in p.security_group_ids if g in self.groups}
        referenced = {r.remote_group_id for g in groups.values() for r in g.rules if r.remote_group_id}
        members = {
            gid: goalstate_pb2.GroupMembers(
                security_group_id=gid,
                ip_addresses=[
                    f.ip_address
                    for p in self.ports.values()
                    if gid in p.security_group_ids
                    for f in p.fixed_ips
                ],
            )
            for gid in referenced
        }
        return GoalState(
            host_id=host_id,
            revision=self.revision,
            vpcs=vpcs,
            subnets=subnets,
            ports=local,
            neighbors=neighbors,
            security_groups=groups,
            group_members=members,
        )

    def snapshot(self, host_id: str) -> goalstate_pb2.GoalStateUpdate:
        """The goal state of `host_id` as a full-snapshot update message."""
        goal = self.goal(host_id)
        update = goalstate_pb2.GoalStateUpdate(revision=goal.revision, full=True)
        for field_name, table in (
            ("vpc", goal.vpcs),
            ("subnet", goal.subnets),
            ("port", goal.ports),
            ("neighbor", goal.neighbors),
            ("security_group", goal.security_groups),
            ("group_members", goal.group_members),
        ):
            for msg in table.values():
                getattr(update.upserts.add(), field_name).CopyFrom(msg)
        return update
