"""The plan: what a driver must do to turn the installed data plane into the desired one (pure).

`plan(desired, installed)` compares two `model.State`s and returns the operations in
make-before-break order, so that no packet that both states allow is dropped while it runs:

 0. ports whose workload namespace changes are taken down first (their veth must be re-created)
 1. the host config
 2. new or changed workload wiring (netns, veth, addresses, route, program attached)
 3. security-group rule entries added or changed (before any port starts using them)
 4. port entries that are new or change anything but their rules version (a port starts
    enforcing only after its rules are in; it stops enforcing before its rules go)
 5. endpoints added or changed (local and remote): traffic starts flowing here
 6. endpoints removed
 7. rule entries removed (new rules were inserted in 3, before the old ones go)
 8. port entries whose only change is the rules version: conntrack entries made under the old
    rules are re-checked from now on, when only the new rules remain
 9. ports removed (unwired, entry deleted)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import Config, Endpoint, EndpointKey, LocalPort, State, bulk
from .rules import Ranges, RuleKey


@dataclass(frozen=True, slots=True)
class SetConfig:
    config: Config


@dataclass(frozen=True, slots=True)
class WirePort:
    """Create the port's namespace and veth, or bring existing ones to `port.wiring`."""

    port: LocalPort


@dataclass(frozen=True, slots=True)
class SetRule:
    port_id: str
    key: RuleKey
    ranges: Ranges


@dataclass(frozen=True, slots=True)
class SetPort:
    """Write the port's data-plane entry (`port.entry`)."""

    port: LocalPort


@dataclass(frozen=True, slots=True)
class SetEndpoint:
    key: EndpointKey
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class DeleteEndpoint:
    key: EndpointKey


@dataclass(frozen=True, slots=True)
class DeleteRule:
    port_id: str
    key: RuleKey


@dataclass(frozen=True, slots=True)
class DeletePort:
    """Remove the port's entry and its wiring (a namespace it created goes with it)."""

    port_id: str


Item = SetConfig | WirePort | SetRule | SetPort | SetEndpoint | DeleteEndpoint | DeleteRule | DeletePort


@dataclass(frozen=True)
class Plan:
    items: tuple[Item, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def counts(self) -> dict[str, int]:
        """Items per operation, for logs and acks."""
        out: dict[str, int] = {}
        for item in self.items:
            name = type(item).__name__
            out[name] = out.get(name, 0) + 1
        return out


@bulk
def plan(desired: State, installed: State) -> Plan:
    """The ordered operations that take `installed` to `desired` (see the module docstring)."""
    items: list[Item] = []
    replaced = {
        pid
        for pid, port in desired.ports.items()
        if pid in installed.ports and installed.ports[pid].device_id != port.device_id
    }
    # 0. a port moving to another namespace: its old veth, entries and rules go first
    if replaced:
        items.extend(DeleteEndpoint(k) for k, ep in installed.endpoints.items() if ep.local_port in replaced)
        for pid in sorted(replaced):
            items.extend(DeleteRule(pid, k) for k in installed.rules.get(pid, {}))
            items.append(DeletePort(pid))
    inst_ports = {pid: p for pid, p in installed.ports.items() if pid not in replaced}
    inst_rules = {pid: r for pid, r in installed.rules.items() if pid not in replaced}
    inst_endpoints = installed.endpoints
    if replaced:
        inst_endpoints = {k: ep for k, ep in installed.endpoints.items() if ep.local_port not in replaced}

    # 1. config
    if desired.config is not None and desired.config != installed.config:
        items.append(SetConfig(desired.config))
    # 2. wiring
    for pid in sorted(desired.ports):
        port = desired.ports[pid]
        have = inst_ports.get(pid)
        if have is None or have.wiring != port.wiring:
            items.append(WirePort(port))
    # 3. rule entries in
    for pid in sorted(desired.rules):
        have_rules = inst_rules.get(pid, {})
        for key, ranges in desired.rules[pid].items():
            if have_rules.get(key) != ranges:
                items.append(SetRule(pid, key, ranges))
    # 4. port entries (except a rules-version-only change, step 8)
    late_ports: list[Item] = []
    for pid in sorted(desired.ports):
        port = desired.ports[pid]
        have = inst_ports.get(pid)
        if have is not None and have.entry == port.entry:
            continue
        version_only = (
            have is not None
            and have.sg_enabled
            and port.sg_enabled
            and (have.vni, have.mac) == (port.vni, port.mac)
        )
        (late_ports if version_only else items).append(SetPort(port))
    # 5. endpoints in (the hot path of a large VPC)
    get = inst_endpoints.get
    items.extend(SetEndpoint(k, ep) for k, ep in desired.endpoints.items() if get(k) != ep)
    # 6. endpoints out
    want_endpoints = desired.endpoints
    items.extend(DeleteEndpoint(k) for k in inst_endpoints if k not in want_endpoints)
    # 7. rule entries out
    for pid in sorted(inst_rules):
        want = desired.rules.get(pid, {})
        items.extend(DeleteRule(pid, k) for k in inst_rules[pid] if k not in want)
    # 8. rules-version-only port updates
    items.extend(late_ports)
    # 9. ports out
    items.extend(DeletePort(pid) for pid in sorted(inst_ports.keys() - desired.ports.keys()))
    return Plan(tuple(items))
