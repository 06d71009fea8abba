"""Property tests: random command sequences across two projects keep the state machine's invariants.

Each example interprets a random list of abstract operations against store A (ids are picked
from everything created so far, in either project, plus ids that never existed), and checks
after every command:

- `check()` finds no problem: every index and allocator equals a from-scratch recompute from
  the primary records, no IP or MAC is allocated twice, every port address is a usable address
  of its subnet (inside its pools unless it was requested outside them), subnets of a VPC do not
  overlap, no reference dangles (port -> subnet/vpc/group, subnet -> vpc, rule -> remote group);
- the revision moves only on success, by exactly one when the state changed, never otherwise;
- a refused command leaves the state hash unchanged.

At the end the recorded log is applied to a second store, in batches, and both stores must hold
byte-identical tables (hash of every LMDB pair, bookkeeping included).
"""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alcor.controller.state import Store, StoreConfig
from alcor.controller.state.check import check
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

CALLERS = [E.Caller(project_id="p1"), E.Caller(project_id="p2"), E.Caller(admin=True, project_id="p1")]
VPC_CIDRS = ["10.0.0.0/16", "10.1.0.0/16", "10.0.0.0/8"]
SUBNETS = [(0, 28), (16, 28), (0, 27), (8, 29), (32, 29), (0, 24), (64, 30), (256, 28)]
MACS = ["02:00:00:00:00:01", "02:00:00:00:00:03", "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"]

# an index into the known ids of a kind, mostly recent ones; past the end: an id that never existed
pick = st.sampled_from([0, 0, 0, 1, 1, 2, 3, 9])
caller = st.sampled_from([0, 0, 0, 1, 2])  # mostly p1; p2 and an admin now and then

OPS = st.one_of(
    st.tuples(st.just("vpc"), caller, st.sampled_from(VPC_CIDRS)),
    st.tuples(st.just("subnet"), caller, pick, st.sampled_from(SUBNETS), st.booleans()),
    st.tuples(
        st.just("port"),
        caller,
        pick,
        st.one_of(st.none(), st.integers(0, 20)),
        st.one_of(st.none(), st.sampled_from(MACS)),
        st.one_of(st.none(), st.lists(pick, max_size=2)),
        st.one_of(st.none(), pick),  # a second address from another subnet
    ),
    st.tuples(st.just("ports"), caller, pick, st.integers(1, 4)),
    st.tuples(
        st.just("update_port"), caller, pick, st.sampled_from(["", "h1", "h2"]), st.lists(pick, max_size=2)
    ),
    st.tuples(st.just("status"), pick, st.sampled_from([res.PORT_STATUS_ACTIVE, res.PORT_STATUS_ERROR])),
    st.tuples(st.just("sg"), caller, st.sampled_from(["web", "db", "default"]), st.one_of(st.none(), pick)),
    st.tuples(st.just("rule"), caller, pick, st.one_of(st.none(), pick), st.integers(0, 3)),
    st.tuples(st.just("delete_rule"), caller, pick, st.integers(0, 5)),
    st.tuples(st.sampled_from(["delete_port", "delete_subnet", "delete_vpc", "delete_sg"]), caller, pick),
    st.tuples(st.just("update_vpc"), caller, pick),
    st.tuples(st.just("node"), st.sampled_from(["h1", "h2"])),
    st.tuples(st.just("compact"), st.integers(0, 3)),
    st.tuples(st.just("replay"), pick),
)


KINDS = {"vpc": "vpcs", "subnet": "subnets", "port": "ports", "security_group": "groups"}
DELETES = {
    "delete_vpc": "vpcs",
    "delete_subnet": "subnets",
    "delete_port": "ports",
    "delete_security_group": "groups",
}


@dataclass
class Model:
    """What the interpreter knows: live ids per kind and project, rules, and the log."""

    known: dict[str, list[tuple[str, Any]]] = field(
        default_factory=lambda: {"vpcs": [], "subnets": [], "ports": [], "groups": []}
    )
    rules: list[tuple[str, str, str]] = field(default_factory=list)  # (project, group id, rule id)
    log: list[E.Command] = field(default_factory=list)

    def pick(self, kind: str, project: str, i: int) -> Any:
        """The i-th known resource, the caller's project first; None past the end."""
        items = self.known[kind]
        ordered = [r for p, r in items if p == project] + [r for p, r in items if p != project]
        return ordered[i] if i < len(ordered) else None

    def id_of(self, kind: str, project: str, i: int) -> str:
        item = self.pick(kind, project, i)
        return item.id if item is not None else f"bogus-{i}"

    def learn(self, command: E.Command, result: E.Result) -> None:
        which = command.WhichOneof("command")
        if which in DELETES:
            gone = getattr(command, which).id
            self.known[DELETES[which]] = [(p, r) for p, r in self.known[DELETES[which]] if r.id != gone]
            return
        if result.HasField("rule"):
            group = command.create_security_group_rule.rule.security_group_id
            owners = [p for p, g in self.known["groups"] if g.id == group]
            if owners:  # (a replayed create whose group was deleted since teaches nothing)
                self.rules.append((owners[0], group, result.rule.id))
            return
        items = [result.resource] if result.HasField("resource") else list(result.resources.items)
        for r in items:
            kind = r.WhichOneof("kind")
            if kind not in KINDS:
                continue
            msg = getattr(r, kind)
            if any(known.id == msg.id for _, known in self.known[KINDS[kind]]):
                continue  # a replayed create
            self.known[KINDS[kind]].append((msg.project_id, msg))
            if kind == "port":
                for gid in msg.security_group_ids:
                    if gid not in {g.id for _, g in self.known["groups"]}:
                        self.known["groups"].append((msg.project_id, res.SecurityGroup(id=gid)))


def build(m: Model, op: tuple[Any, ...]) -> tuple[E.Caller, dict[str, Any]]:
    """The envelope caller and payload for an abstract operation."""
    name = op[0]
    admin = E.Caller(admin=True)
    who = CALLERS[op[1]] if name not in ("status", "node", "compact", "replay") else admin
    project = who.project_id or "p1"

    def id_of(kind: str, i: int) -> str:
        return m.id_of(kind, project, i)

    if name == "vpc":
        return who, {"create_vpc": net.CreateVpcRequest(cidr=op[2])}
    if name == "subnet":
        vpc = m.pick("vpcs", project, op[2])
        base = int(ipaddress.IPv4Network(vpc.cidr).network_address) if vpc else 0
        offset, length = op[3]
        cidr = str(ipaddress.IPv4Network((base + offset, length)))
        pools = [] if not op[4] else [res.IpRange(start=str(ipaddress.IPv4Address(base + offset + 2)),
                                                  end=str(ipaddress.IPv4Address(base + offset + 4)))]  # fmt: skip
        request = net.CreateSubnetRequest(vpc_id=id_of("vpcs", op[2]), cidr=cidr, allocation_pools=pools)
        return who, {"create_subnet": request}
    if name == "port":
        _, _, sub, ip_offset, mac, groups, second = op
        subnet = m.pick("subnets", project, sub)
        fixed = []
        if ip_offset is not None and subnet is not None:
            ip = ipaddress.IPv4Network(subnet.cidr).network_address + ip_offset
            fixed.append(res.FixedIp(ip_address=str(ip)))
        if second is not None:
            if not fixed:
                fixed.append(res.FixedIp())
            fixed.append(res.FixedIp(subnet_id=id_of("subnets", second)))
        request = net.CreatePortRequest(
            subnet_id=id_of("subnets", sub),
            fixed_ips=fixed,
            mac_address=mac or "",
            security_group_ids=[id_of("groups", g) for g in dict.fromkeys(groups or [])],
            host_id="h1",
        )
        return who, {"create_port": request}
    if name == "ports":
        item = net.CreatePortRequest(subnet_id=id_of("subnets", op[2]), host_id="h2")
        return who, {"create_ports": net.CreatePortsRequest(ports=[item] * op[3])}
    if name == "update_port":
        port = res.Port(id=id_of("ports", op[2]), host_id=op[3],
                        security_group_ids=[id_of("groups", g) for g in dict.fromkeys(op[4])])  # fmt: skip
        mask = FieldMask(paths=["host_id", "security_group_ids"] if op[4] else ["host_id"])
        return who, {"update_port": net.UpdatePortRequest(port=port, update_mask=mask)}
    if name == "status":
        port = m.pick("ports", project, op[1])
        update = E.PortStatusUpdate(
            port_id=id_of("ports", op[1]),
            status=op[2],
            host_id=port.host_id if port else "h1",
            port_revision=port.revision if port else 0,
        )
        return admin, {"update_port_statuses": E.UpdatePortStatuses(updates=[update])}
    if name == "sg":
        rules = []
        if op[3] is not None:
            rules.append(res.SecurityGroupRule(direction=1, remote_group_id=id_of("groups", op[3])))
        return who, {"create_security_group": net.CreateSecurityGroupRequest(name=op[2], rules=rules)}
    if name == "rule":
        rule = res.SecurityGroupRule(
            security_group_id=id_of("groups", op[2]),
            direction=1 + op[4] % 2,
            protocol=res.PROTOCOL_TCP,
            port_range_min=22 + op[4],
            port_range_max=22 + op[4],
            remote_group_id=id_of("groups", op[3]) if op[3] is not None else "",
        )
        return who, {"create_security_group_rule": net.CreateSecurityGroupRuleRequest(rule=rule)}
    if name == "delete_rule":
        mine = [r for r in m.rules if r[0] == project] + [r for r in m.rules if r[0] != project]
        _, group_id, rule_id = mine[op[3]] if op[3] < len(mine) else ("", id_of("groups", op[2]), "sgr-bogus")
        request = net.DeleteSecurityGroupRuleRequest(security_group_id=group_id, rule_id=rule_id)
        return who, {"delete_security_group_rule": request}
    if name.startswith("delete_"):
        field_name = "delete_security_group" if name == "delete_sg" else name
        return who, {field_name: net.DeleteRequest(id=id_of(DELETES[field_name], op[2]))}
    if name == "update_vpc":
        request = net.UpdateVpcRequest(vpc=res.Vpc(id=id_of("vpcs", op[2]), name="renamed"),
                                       update_mask=FieldMask(paths=["name"]))  # fmt: skip
        return who, {"update_vpc": request}
    if name == "node":
        return admin, {
            "register_node": E.RegisterNode(host_id=op[1], underlay_ip="192.0.2.1", last_seen_unix_ms=1)
        }
    if name == "compact":
        return admin, {"compact": E.Compact(revision=op[1])}
    raise AssertionError(name)


def run(ops: list[tuple[Any, ...]], a: Store, b: Store) -> None:
    m = Model()
    revision = 0
    first_results: dict[str, E.Result] = {}
    for n, op in enumerate(ops):
        if op[0] == "replay":
            if not m.log:
                continue
            command = m.log[op[1] % len(m.log)]
        else:
            who, payload = build(m, op)
            command = E.Command(version=1, request_id=f"r{n}", caller=who, **payload)
        m.log.append(command)
        before = a.state_hash()
        result = a.apply(len(m.log), command)
        after = a.state_hash()
        if command.request_id in first_results:
            # a replayed request id: the first result again (unless compaction dropped the record)
            if a.compacted_revision <= first_results[command.request_id].revision:
                assert result == first_results[command.request_id]
                assert after == before and a.revision == revision
        else:
            first_results[command.request_id] = result
        if op[0] == "replay":
            m.learn(command, result)
            revision = a.revision
        elif result.HasField("error"):
            assert after == before, (op, result.error)
            assert result.revision == revision == a.revision
        else:
            m.learn(command, result)
            if after == before or op[0] == "compact":
                # a no-op (or compaction, which only drops history) keeps the revision
                assert a.revision == revision
            else:
                assert result.revision == a.revision == revision + 1, op
            revision = a.revision
        with a.read() as txn:
            problems = check(a.schema, txn)
        assert problems == [], (op, problems)
    # the same log, in batches of 7, on a fresh replica gives the same bytes
    entries = list(enumerate(m.log, start=1))
    for i in range(0, len(entries), 7):
        b.apply_batch(entries[i : i + 7])
    assert b.content_hash() == a.content_hash()
    assert b.applied_index == a.applied_index == len(m.log)


def _stores_and_run(ops: list[tuple[Any, ...]]) -> None:
    fast = StoreConfig(sync=False)  # durability is not under test
    with tempfile.TemporaryDirectory() as d, Store(f"{d}/a", fast) as a, Store(f"{d}/b", fast) as b:
        run(ops, a, b)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=5, max_size=40))
def test_random_command_sequences_keep_the_invariants(ops: list[tuple[Any, ...]]) -> None:
    _stores_and_run(ops)


# A sequence that reaches deep states (a populated VPC) more often than random draws do.
SEEDED = st.lists(OPS, min_size=10, max_size=50).map(
    lambda rest: [
        ("vpc", 0, "10.0.0.0/16"),
        ("subnet", 0, 0, (0, 28), False),
        ("subnet", 0, 0, (16, 28), True),
        ("vpc", 1, "10.0.0.0/16"),
        ("subnet", 1, 0, (0, 29), False),
        ("sg", 0, "web", None),
        ("port", 0, 0, None, None, None, None),
        ("port", 1, 2, 3, None, None, None),
        *rest,
    ]
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=SEEDED)
def test_random_sequences_on_a_populated_store(ops: list[tuple[Any, ...]]) -> None:
    _stores_and_run(ops)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=SEEDED)
def test_random_sequences_long(ops: list[tuple[Any, ...]]) -> None:
    _stores_and_run(ops)
