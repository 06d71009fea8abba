"""Property test: incremental goal state equals a from-scratch recompute, for every host, after
every step of random command sequences.

Each example runs random commands (single ones and batches applied in one transaction, as a
replica applies a Raft batch) through the state harness. After every step, for every host:

- the agent's goal state (the agent's own model, fed the engine's deltas in order) equals
  `recompute.host_goal_state` from the store;
- `full(host)` equals it too; a host without a delta had no change; every upsert in a delta
  changes the item and every delete removes one the host had;
- resuming from any earlier revision with `delta_since` gives the current goal state;
- a second engine loaded from the store mid-way agrees from then on;
- agents sent what is pending only every few steps, through the hub's coalescing queues (where
  changes to a group's members are folded together), end at the same goal state.
"""

from __future__ import annotations

import tempfile
from typing import Any

from goalstate_helpers import all_hosts, as_items, expected, follow, load, snapshot
from google.protobuf.field_mask_pb2 import FieldMask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alcor.agent.dataplane.model import GoalState
from alcor.controller.goalstate import items as it
from alcor.controller.goalstate.engine import GoalStateEngine
from alcor.controller.goalstate.items import Delta
from alcor.controller.goalstate.session import HostQueue
from alcor.controller.state import Store, StoreConfig
from alcor.controller.state.testing import ADMIN, Harness, project
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

HOSTS = ["h1", "h2", "h3", ""]
pick = st.integers(0, 5)

PORT_OPS = st.one_of(
    st.tuples(st.just("port"), pick, st.sampled_from(HOSTS), st.lists(pick, max_size=2), st.booleans()),
    st.tuples(st.just("move"), pick, st.sampled_from(HOSTS)),
    st.tuples(st.just("groups"), pick, st.lists(pick, max_size=2)),
    st.tuples(st.just("rule"), pick, st.one_of(st.none(), pick)),
)
OP = st.one_of(
    PORT_OPS,
    PORT_OPS,
    st.tuples(st.just("vpc"), st.sampled_from(["p1", "p2"])),
    st.tuples(st.just("subnet"), pick, st.integers(0, 3)),
    st.tuples(st.just("port"), pick, st.sampled_from(HOSTS), st.lists(pick, max_size=2), st.booleans()),
    st.tuples(st.just("ports"), pick, st.sampled_from(HOSTS), st.integers(1, 3)),
    st.tuples(st.just("move"), pick, st.sampled_from(HOSTS)),
    st.tuples(st.just("groups"), pick, st.lists(pick, max_size=2)),
    st.tuples(st.just("status"), pick, st.sampled_from([res.PORT_STATUS_ACTIVE, res.PORT_STATUS_ERROR])),
    st.tuples(st.just("sg"), st.sampled_from(["p1", "p2"]), st.sampled_from(["web", "db", "default"])),
    st.tuples(st.just("rule"), pick, st.one_of(st.none(), pick)),
    st.tuples(st.just("delete_rule"), pick),
    st.tuples(
        st.just("node"), st.sampled_from(["h1", "h2", "h3"]), st.sampled_from(["192.0.2.1", "192.0.2.2"])
    ),
    st.tuples(st.sampled_from(["delete_port", "delete_subnet", "delete_vpc", "delete_sg"]), pick),
    st.tuples(st.just("update_vpc"), pick),
)
# every example starts from a small network so that most random commands succeed
PRELUDE = [
    ("one", ("vpc", "p1")),
    ("one", ("subnet", 0, 1)),
    ("batch", [("subnet", 0, 2), ("vpc", "p2"), ("sg", "p1", "web")]),
    ("one", ("subnet", 1, 1)),
    ("batch", [("ports", 0, "h1", 2), ("port", 0, "h2", [], False), ("node", "h1", "192.0.2.1")]),
]
STEP = st.one_of(
    st.tuples(st.just("one"), OP), st.tuples(st.just("batch"), st.lists(OP, min_size=2, max_size=4))
)


class World:
    """Turns abstract operations into commands against what exists (by position, mod count)."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def _ids(self, db_name: str) -> list[str]:
        store = self.h.store
        with store.read() as txn:
            db = getattr(store.schema, db_name)
            return [k.decode() for k in txn.cursor(db=db).iternext(values=False)]

    def _pick(self, db_name: str, i: int) -> str:
        ids = self._ids(db_name)
        return ids[i % len(ids)] if ids else "none"

    def _get(self, db_name: str, message: Any, id_: str) -> Any:
        store = self.h.store
        with store.read() as txn:
            raw = txn.get(id_.encode(), db=getattr(store.schema, db_name))
            return None if raw is None else message.FromString(raw)

    def command(self, op: tuple) -> cmd.Command:
        h, name = self.h, op[0]
        if name == "vpc":
            return h.command(caller=project(op[1]), create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/16"))
        if name == "subnet":
            vpc = self._get("vpcs", res.Vpc, self._pick("vpcs", op[1]))
            caller = project(vpc.project_id if vpc else "p1")
            request = net.CreateSubnetRequest(vpc_id=self._pick("vpcs", op[1]), cidr=f"10.0.{op[2]}.0/24")
            return h.command(caller=caller, create_subnet=request)
        if name in ("port", "ports"):
            subnet_id = self._pick("subnets", op[1])
            subnet = self._get("subnets", res.Subnet, subnet_id)
            caller = project(subnet.project_id if subnet else "p1")
            if name == "ports":
                items = [net.CreatePortRequest(subnet_id=subnet_id, host_id=op[2]) for _ in range(op[3])]
                return h.command(caller=caller, create_ports=net.CreatePortsRequest(ports=items))
            groups = [self._pick("security_groups", g) for g in op[3]]
            request = net.CreatePortRequest(subnet_id=subnet_id, host_id=op[2], security_group_ids=groups)
            if op[4]:  # a second address in another subnet of the VPC
                request.fixed_ips.add(subnet_id=subnet_id)
                request.fixed_ips.add(subnet_id=self._pick("subnets", op[1] + 1))
            return h.command(caller=caller, create_port=request)
        if name in ("move", "groups"):
            port = self._get("ports", res.Port, self._pick("ports", op[1])) or res.Port(id="none")
            if name == "move":
                update = res.Port(id=port.id, host_id=op[2])
                mask = ["host_id"]
            else:
                groups = [self._pick("security_groups", g) for g in op[2]]
                update = res.Port(id=port.id, security_group_ids=groups)
                mask = ["security_group_ids"]
            request = net.UpdatePortRequest(port=update, update_mask=FieldMask(paths=mask))
            return h.command(caller=ADMIN, update_port=request)
        if name == "status":
            port = self._get("ports", res.Port, self._pick("ports", op[1])) or res.Port(id="none")
            with h.store.read() as txn:
                raw = txn.get(f"{port.host_id}\x00{port.id}".encode(), db=h.store.schema.ports_by_host)
            config = int.from_bytes(raw, "big") if raw else 0
            u = cmd.PortStatusUpdate(
                port_id=port.id, status=op[2], status_detail="x" if op[2] == res.PORT_STATUS_ERROR else "",
                host_id=port.host_id, port_revision=config,
            )  # fmt: skip
            return h.command(caller=ADMIN, update_port_statuses=cmd.UpdatePortStatuses(updates=[u]))
        if name == "sg":
            return h.command(
                caller=project(op[1]), create_security_group=net.CreateSecurityGroupRequest(name=op[2])
            )
        if name == "rule":
            group_id = self._pick("security_groups", op[1])
            rule = res.SecurityGroupRule(
                security_group_id=group_id, direction=res.DIRECTION_INGRESS, protocol=res.PROTOCOL_TCP,
                port_range_min=22 + op[1], port_range_max=22 + op[1],
            )  # fmt: skip
            if op[2] is not None:
                rule.remote_group_id = self._pick("security_groups", op[2])
            else:
                rule.remote_ip_prefix = "192.168.0.0/16"
            return h.command(
                caller=ADMIN, create_security_group_rule=net.CreateSecurityGroupRuleRequest(rule=rule)
            )
        if name == "delete_rule":
            group = self._get("security_groups", res.SecurityGroup, self._pick("security_groups", op[1]))
            rules = list(group.rules) if group else []
            rule_id = rules[op[1] % len(rules)].id if rules else "none"
            request = net.DeleteSecurityGroupRuleRequest(
                security_group_id=group.id if group else "none",
                rule_id=rule_id,
            )
            return h.command(caller=ADMIN, delete_security_group_rule=request)
        if name == "node":
            return h.command(caller=ADMIN, register_node=cmd.RegisterNode(host_id=op[1], underlay_ip=op[2]))
        if name == "update_vpc":
            vpc = res.Vpc(id=self._pick("vpcs", op[1]), name="renamed")
            return h.command(
                caller=ADMIN, update_vpc=net.UpdateVpcRequest(vpc=vpc, update_mask=FieldMask(paths=["name"]))
            )
        table = {
            "delete_port": "ports",
            "delete_subnet": "subnets",
            "delete_vpc": "vpcs",
            "delete_sg": "security_groups",
        }[name]
        field = {"delete_sg": "delete_security_group"}.get(name, name)
        return h.command(caller=ADMIN, **{field: net.DeleteRequest(id=self._pick(table, op[1]))})


def check_step(
    h: Harness, engines: list, agents: list[dict[str, GoalState]], history: list[dict]
) -> dict[str, Delta | None]:
    """Check every engine and agent after a step; returns the first engine's deltas."""
    store = h.store
    hosts = all_hosts(store)
    truth = {host: expected(store, host) for host in hosts | set(agents[0])}
    previous = history[-1] if history else {}
    first: dict[str, Delta | None] = {}
    for engine, agent in zip(engines, agents, strict=True):
        deltas = follow(store, engine)
        if engine is engines[0]:
            first = deltas
        for host, delta in deltas.items():
            if delta is None:  # a join too large for a delta: the host gets a snapshot
                agent[host] = snapshot(engine, host)
                continue
            assert delta, f"empty delta for {host}"
            before = previous.get(host, {}) if engine is engines[0] else None
            if before is not None:
                for key, item in delta.items():
                    if item is None:
                        assert key in before, f"{host}: delete of {key} it does not have"
                    else:
                        assert before.get(key) != item, f"{host}: upsert of unchanged {key}"
            state = agent.get(host, GoalState(host_id=host, revision=engine.start_revision))
            # the items encoded as the hub's streams encode them (kept encodings of this batch):
            # the same message as encoding each item afresh
            message = it.delta_message(state.revision, engine.revision, delta, engine.index.chunk_of)
            assert message == it.delta_message(state.revision, engine.revision, delta)
            agent[host] = state.apply(message.update)
        for host in hosts | set(agent):
            goal = agent.get(host)
            got = as_items(goal) if goal is not None else {}
            assert got == truth[host], f"host {host} at revision {engine.revision}"
            assert engine.full(host) == truth[host]
            for vpc_id in engine.index.host_vpcs.get(host, {}):
                listed = engine.index.neighbors_in(host, vpc_id)
                assert listed is not None and engine.index.neighbor_count(host, vpc_id) == len(listed)
            assert as_items(snapshot(engine, host)) == truth[host]
            if host not in deltas and engine is engines[0]:
                assert previous.get(host, {}) == truth[host], f"{host} changed without a delta"
    engine = engines[0]
    for old in history[-6:]:
        revision = old["__revision__"]
        for host in hosts:
            delta = engine.delta_since(host, revision)
            if delta is None:
                continue
            start = GoalState(host_id=host).apply(it.delta_message(0, revision, old.get(host, {})).update)
            resumed = start.apply(it.delta_message(revision, engine.revision, delta).update)
            assert as_items(resumed) == truth[host], f"{host} resumed from {revision}"
    history.append({"__revision__": engine.revision, **truth})
    return first


class SlowAgents:
    """Agents behind the hub's coalescing queues, sent what is pending only every few steps:
    deltas merged in a queue (member changes folded together) must end where the engine is."""

    def __init__(self, engine: GoalStateEngine) -> None:
        self.engine = engine
        self.queues: dict[str, HostQueue] = {}
        self.goals: dict[str, GoalState] = {}

    def push(self, deltas: dict[str, Delta | None]) -> None:
        start = self.engine.start_revision
        for host, delta in deltas.items():
            if host not in self.queues:
                self.queues[host] = HostQueue(start, full=False)
                self.goals[host] = GoalState(host_id=host, revision=start)
            if delta is None:
                self.queues[host].force_full(self.engine.revision)
            else:
                self.queues[host].push(self.engine.revision, delta)

    def send_all(self, truth: dict) -> None:
        for host, queue in self.queues.items():
            message = queue.take(lambda host=host: self.engine.snapshot(host), self.engine.index.chunk_of)
            if message is not None:
                self.goals[host] = self.goals[host].apply(message.update)
            assert as_items(self.goals[host]) == truth.get(host, {}), f"{host} behind a queue"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=30), reload_at=st.integers(0, 30))
# a host leaving and rejoining a VPC (or joining, then a neighbor moving onto it) in one batch
@example(
    steps=[("one", ("groups", 3, [])), ("batch", [("port", 0, "h3", [], False), ("move", 0, "h3")])],
    reload_at=0,
)
@example(
    steps=[("one", ("port", 0, "h1", [], False)), ("batch", [("move", 2, "h1"), ("move", 0, "h2")])],
    reload_at=0,
)
def test_incremental_equals_recompute(steps: list, reload_at: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(tmp, StoreConfig(sync=False)) as store:
        h = Harness(store, project("p1"))
        world = World(h)
        engines = [load(store)]
        agents: list[dict[str, GoalState]] = [{}]
        slow = SlowAgents(engines[0])
        history: list[dict] = []
        for i, (kind, body) in enumerate(PRELUDE + steps):
            if i == reload_at:
                engines.append(load(store, key_history=1, change_history=4))
                agents.append({host: snapshot(engines[-1], host) for host in all_hosts(store)})
            if kind == "one":
                h.apply(world.command(body))
            else:
                h.batch([world.command(op) for op in body])
            slow.push(check_step(h, engines, agents, history))
            if i % 3 == 2:
                slow.send_all(history[-1])
        slow.send_all(history[-1])
