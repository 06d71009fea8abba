"""The in-memory driver: a model of one host's data plane that forwards packets.

`MemoryDriver` keeps the tables the eBPF driver keeps (config, wired ports and their entries,
endpoints, compiled rules, conntrack, counters), enforces the same preconditions (an endpoint or
rule of a port that is not wired fails, a full endpoint table fails), and answers what would
happen to a packet through `packet.from_workload` / `packet.from_tunnel`. `Fabric` joins several
by underlay IP so a test can follow a packet from one workload through the tunnel to another.
Tests check outcomes ("is it delivered, where, and if not why"), not the calls made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import packet as pk
from .driver import Report
from .model import Config, Endpoint, Endpoints, LocalPort, State, pack_key, pack_remote
from .plan import (
    BULK,
    DeleteEndpoints,
    DeletePort,
    DeleteRule,
    Item,
    Plan,
    SetConfig,
    SetEndpoint,
    SetEndpoints,
    SetPort,
    SetRule,
    WirePort,
)
from .rules import Ranges, RuleKey


class MemoryDriver:
    def __init__(
        self,
        underlay_ip: str = "",
        *,
        endpoint_capacity: int = 1 << 20,
        rule_capacity: int = 65536,
        fault: Callable[[Item], str | None] | None = None,
    ) -> None:
        """`fault(item)` may return a reason to fail that item (fault injection for tests)."""
        self.underlay_ip = underlay_ip
        self.endpoint_capacity = endpoint_capacity
        self.rule_capacity = rule_capacity
        self.fault = fault
        self._config: Config | None = None
        self._wired: dict[str, LocalPort] = {}  # wiring as last wired
        self._entries: dict[str, tuple] = {}  # port id -> LocalPort.entry
        self._local: dict[bytes, Endpoint] = {}  # the endpoints table, as `model.Endpoints` holds it
        self._remote: dict[bytes, bytes] = {}
        self._rules: dict[str, dict[RuleKey, Ranges]] = {}
        self.conntrack: dict[pk.CtKey, pk.CtValue] = {}
        self._counters: Counter[str] = Counter()
        self.closed = False

    # -- Driver ---------------------------------------------------------------------------------

    def installed(self) -> State:
        ports = {}
        for pid, wired in self._wired.items():
            vni, mac, sg, version = self._entries.get(pid, (0, wired.mac, False, 0))
            if mac != wired.mac:
                vni = 0  # one LocalPort has one mac: show the entry as stale so the plan rewrites it
            ports[pid] = LocalPort(
                pid, vni, wired.mac, wired.addresses, wired.gateway_ip, wired.device_id, sg, version,
                wired.interface_name,
            )
        return State(
            config=self._config,
            ports=ports,
            endpoints=Endpoints(dict(self._local), dict(self._remote)),
            rules={pid: dict(r) for pid, r in self._rules.items() if r},
        )

    def execute(self, plan: Plan) -> Report:
        failed: dict[Item, str] = {}
        entries: dict[bytes, str] = {}
        for item in plan:
            reason = self.fault(item) if self.fault else None
            if reason is not None and isinstance(item, BULK):
                entries.update(dict.fromkeys(_keys(item), reason))
            elif reason is None:
                if isinstance(item, SetEndpoints):
                    reason = self._set_endpoints(item, entries)
                else:
                    reason = self._apply(item)
            if reason is not None:
                failed[item] = reason
        return Report(plan, failed, entries)

    def counters(self) -> dict[str, int]:
        return {name: self._counters[name] for name in pk.COUNTERS}

    def close(self) -> None:
        self.closed = True

    def _apply(self, item: Item) -> str | None:
        match item:
            case SetConfig(config):
                self._config = config
            case WirePort(port):
                # as the kernel: one interface of a name in a namespace
                for other in self._wired.values():
                    if port.slot is not None and other.slot == port.slot and other.port_id != port.port_id:
                        return f"interface {port.interface_name} exists in namespace {port.device_id}"
                self._wired[port.port_id] = port
            case SetRule(pid, key, ranges):
                if pid not in self._wired:
                    return f"port {pid} is not wired"
                table = self._rules.setdefault(pid, {})
                if key not in table and sum(map(len, self._rules.values())) >= self.rule_capacity:
                    return "rule table full"
                table[key] = ranges
            case SetPort(port):
                if port.port_id not in self._wired:
                    return f"port {port.port_id} is not wired"
                self._entries[port.port_id] = port.entry
            case SetEndpoint(key, ep):
                if ep.local_port is not None and ep.local_port not in self._wired:
                    return f"port {ep.local_port} is not wired"
                try:
                    raw = pack_key(key)
                    value = None if ep.local_port is not None else pack_remote(ep.host_ip or "", ep.mac)
                except ValueError as e:
                    return str(e)
                if not self._room(raw):
                    return "endpoint table full"
                if value is None:
                    self._local[raw] = ep
                    self._remote.pop(raw, None)
                else:
                    self._remote[raw] = value
                    self._local.pop(raw, None)
            case DeleteEndpoints():
                for raw in item.each_key():
                    self._local.pop(raw, None)
                    self._remote.pop(raw, None)
            case DeleteRule(pid, key):
                self._rules.get(pid, {}).pop(key, None)
            case DeletePort(pid):
                self._wired.pop(pid, None)
                self._entries.pop(pid, None)
                self._rules.pop(pid, None)
        return None

    def _room(self, raw: bytes) -> bool:
        """May the table hold `raw`: it is there already, or there is a free slot."""
        return (
            raw in self._remote
            or raw in self._local
            or len(self._local) + len(self._remote) < self.endpoint_capacity
        )

    def _set_endpoints(self, item: SetEndpoints, entries: dict[bytes, str]) -> str | None:
        """Each entry that fits goes in; the others are reported by key, as a map would."""
        reason = None
        for raw, value in item.entries():
            if not self._room(raw):
                reason = entries[raw] = "endpoint table full"
                continue
            self._remote[raw] = value
            self._local.pop(raw, None)
        return reason

    # -- packets -------------------------------------------------------------------------------

    def _tables(self) -> State:
        # what the programs see: a port without an entry is not there for them
        ports = {
            pid: LocalPort(pid, vni, mac, w.addresses, w.gateway_ip, w.device_id, sg, version, w.interface_name)
            for pid, w in self._wired.items()
            if pid in self._entries
            for vni, mac, sg, version in [self._entries[pid]]
        }
        # a view of the live tables, read only while one packet is decided
        return State(
            config=self._config,
            ports=ports,
            endpoints=Endpoints(self._local, self._remote),
            rules=self._rules,
        )

    def _record(self, decision: pk.Decision, first: str) -> pk.Decision:
        self._counters[first] += 1
        self._counters[decision.reason] += 1
        self.conntrack.update(decision.ct)
        return decision

    def send(self, port_id: str, pkt: pk.Packet) -> pk.Decision:
        """The workload of `port_id` sends `pkt`."""
        return self._record(pk.from_workload(self._tables(), self.conntrack, port_id, pkt), "rx_workload")

    def receive(self, vni: int, outer_src: str, pkt: pk.Packet) -> pk.Decision:
        """`pkt` arrives through the tunnel from host `outer_src` with `vni`."""
        return self._record(pk.from_tunnel(self._tables(), self.conntrack, vni, outer_src, pkt), "rx_tunnel")


def _keys(item: SetEndpoints | DeleteEndpoints) -> list[bytes]:
    return [raw for raw, _ in item.entries()] if isinstance(item, SetEndpoints) else list(item.each_key())


@dataclass(frozen=True)
class Delivery:
    """Where a packet ended: the host that made the last decision, and that decision."""

    host: str
    decision: pk.Decision
    hops: tuple[pk.Decision, ...]

    @property
    def delivered(self) -> bool:
        return self.decision.delivered

    @property
    def to(self) -> tuple[str, str] | None:
        """(host, port id) it was delivered to, or None."""
        return (self.host, self.decision.port_id or "") if self.delivered else None

    @property
    def reason(self) -> str:
        return self.decision.reason


class Fabric:
    """Hosts joined by an underlay: tunnel decisions are handed to the destination host."""

    def __init__(self, hosts: Mapping[str, MemoryDriver]) -> None:
        self.hosts = dict(hosts)  # underlay ip -> driver

    def send(self, host: str, port_id: str, pkt: pk.Packet) -> Delivery:
        first = self.hosts[host].send(port_id, pkt)
        if first.action != "tunnel":
            return Delivery(host, first, (first,))
        assert first.host_ip is not None and first.vni is not None and first.packet is not None
        remote = self.hosts.get(first.host_ip)
        if remote is None:
            lost = pk.Decision("drop", "no_such_host", host_ip=first.host_ip)
            return Delivery(first.host_ip, lost, (first, lost))
        second = remote.receive(first.vni, host, first.packet)
        return Delivery(first.host_ip, second, (first, second))

    def exchange(self, host: str, port_id: str, pkt: pk.Packet) -> tuple[Delivery, Delivery | None]:
        """Send `pkt` and, if it arrives, the destination's reply; returns both deliveries."""
        there = self.send(host, port_id, pkt)
        if not there.delivered:
            return there, None
        dst_host, dst_port = there.to  # type: ignore[misc]
        dst = self.hosts[dst_host]
        mac = dst._wired[dst_port].mac
        back = self.send(dst_host, dst_port, pkt.reply(mac))
        return there, back
