"""The plan: what a driver must do to turn the installed data plane into the desired one (pure).

`plan(desired, installed)` compares two `model.State`s and returns the operations in
make-before-break order, so that no packet that both states allow is dropped while it runs:

 0. ports whose workload namespace or interface changes are taken down first (their veth must be
    re-created), and so are ports leaving a namespace interface that another port takes over (a
    container's interface handed to a new port: CNI DEL and ADD in one update)
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

Endpoints on other hosts (all but a host's own few; a VPC can have a million) are planned in
bulk: one `SetEndpoints` with every added or changed entry, one `DeleteEndpoints` with every
removed key, each holding the packed bytes a driver writes as they are (see `model.Endpoints`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from .model import (
    ENDPOINT_KEY,
    REMOTE,
    Config,
    Endpoint,
    EndpointKey,
    Endpoints,
    LocalPort,
    State,
    bulk,
    pack_key,
    unpack_key,
)
from .rules import Ranges, RuleKey


def _each_key(keys: bytes) -> Iterator[bytes]:
    ks = ENDPOINT_KEY.size
    return (keys[i : i + ks] for i in range(0, len(keys), ks))


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
    """One endpoint, by its port on this host (or, from a caller, on another host)."""

    key: EndpointKey
    endpoint: Endpoint


@dataclass(frozen=True, slots=True, eq=False)
class SetEndpoints:
    """Endpoints on other hosts added or changed, in bulk: `keys` and `values` are the packed
    entries (`model.ENDPOINT_KEY`, `model.REMOTE`) end to end, ready for a batch map update. A
    driver may fail single entries (`Report.entries`). Compared by identity: it can hold
    megabytes, and no two plans share one."""

    op: ClassVar[str] = "SetEndpoint"
    keys: bytes
    values: bytes

    def __len__(self) -> int:
        return len(self.keys) // ENDPOINT_KEY.size

    def entries(self) -> Iterator[tuple[bytes, bytes]]:
        """(packed key, packed value) pairs."""
        ks, vs, keys, values = ENDPOINT_KEY.size, REMOTE.size, self.keys, self.values
        for i in range(len(self)):
            yield keys[i * ks : (i + 1) * ks], values[i * vs : (i + 1) * vs]

    def each_key(self) -> Iterator[bytes]:
        return _each_key(self.keys)


@dataclass(frozen=True, slots=True, eq=False)
class DeleteEndpoints:
    """Endpoints removed, in bulk: `keys` are the packed keys end to end. Compared by identity."""

    op: ClassVar[str] = "DeleteEndpoint"
    keys: bytes

    @classmethod
    def of(cls, keys: Iterable[tuple[int, str]]) -> DeleteEndpoints:
        """Delete these (vni, ip) keys; raises ValueError for a bad one."""
        return cls(b"".join(pack_key(k) for k in keys))

    def __len__(self) -> int:
        return len(self.keys) // ENDPOINT_KEY.size

    def each_key(self) -> Iterator[bytes]:
        return _each_key(self.keys)


@dataclass(frozen=True, slots=True)
class DeleteRule:
    port_id: str
    key: RuleKey


@dataclass(frozen=True, slots=True)
class DeletePort:
    """Remove the port's entry and its wiring (a namespace it created goes with it)."""

    port_id: str


Item = (
    SetConfig
    | WirePort
    | SetRule
    | SetPort
    | SetEndpoint
    | SetEndpoints
    | DeleteEndpoints
    | DeleteRule
    | DeletePort
)
BULK = (SetEndpoints, DeleteEndpoints)


@dataclass(frozen=True)
class Plan:
    items: tuple[Item, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def counts(self) -> dict[str, int]:
        """Entries per operation, for logs and acks: a bulk item counts each of its entries
        under its operation's name (`SetEndpoints` as `SetEndpoint`)."""
        out: dict[str, int] = {}
        for item in self.items:
            if isinstance(item, BULK):
                name, n = item.op, len(item)
            else:
                name, n = type(item).__name__, 1
            out[name] = out.get(name, 0) + n
        return out


@bulk
def plan(
    desired: State,
    installed: State,
    *,
    remote: tuple[SetEndpoints, DeleteEndpoints] | None = None,
) -> Plan:
    """The ordered operations that take `installed` to `desired` (see the module docstring).
    `remote`, when given, is the change to the endpoints on other hosts, already worked out (by
    `incremental.Neighbors`); the two states' remote endpoints are then not compared."""
    items: list[Item] = []
    replaced = {
        pid
        for pid, port in desired.ports.items()
        if pid in installed.ports and installed.ports[pid].slot_key != port.slot_key
    }
    claimed = {port.slot: pid for pid, port in desired.ports.items() if port.slot is not None}
    replaced.update(
        pid
        for pid, port in installed.ports.items()
        if port.slot is not None and claimed.get(port.slot, pid) != pid
    )
    inst_endpoints = installed.endpoints
    # 0. a port moving to another namespace or interface, or one whose interface another port
    # takes over: its old veth, entries and rules go first
    if replaced:
        moving = [k for k, ep in inst_endpoints.local.items() if ep.local_port in replaced]
        if moving:
            items.append(DeleteEndpoints(b"".join(moving)))
        for pid in sorted(replaced):
            items.extend(DeleteRule(pid, k) for k in installed.rules.get(pid, {}))
            items.append(DeletePort(pid))
        inst_endpoints = Endpoints(
            {k: ep for k, ep in inst_endpoints.local.items() if ep.local_port not in replaced},
            inst_endpoints.remote,
        )
    inst_ports = {pid: p for pid, p in installed.ports.items() if pid not in replaced}
    inst_rules = {pid: r for pid, r in installed.rules.items() if pid not in replaced}

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
    # 5. endpoints in: this host's one by one (few; a driver resolves each port), the rest as
    # one bulk item of packed bytes (the hot path of a large VPC: compared and joined in C; onto
    # a host without remote entries, the desired buffers as they are)
    want, have_local, have_remote = desired.endpoints, inst_endpoints.local, inst_endpoints.remote
    want_local = want.local
    items.extend(SetEndpoint(unpack_key(k), ep) for k, ep in want_local.items() if have_local.get(k) != ep)
    if remote is not None:
        if len(remote[0]):
            items.append(remote[0])
    elif have_remote:
        get = have_remote.get
        changed = {k: v for k, v in want.remote.items() if get(k) != v}
        if changed:
            items.append(SetEndpoints(b"".join(changed), b"".join(changed.values())))
    else:
        keys, values = want.remote_bulk()
        if keys:
            items.append(SetEndpoints(keys, values))
    # 6. endpoints out
    gone = [k for k in have_local if k not in want_local]
    if gone:  # a local address that is now remote stays: step 5 rewrote it
        if remote is None:
            now_remote = set(gone).intersection(want.remote_keys())
        else:
            now_remote = set(remote[0].each_key())
        gone = [k for k in gone if k not in now_remote]
    if remote is None and have_remote:
        want_remote = want.remote
        gone.extend(k for k in have_remote if k not in want_remote and k not in want_local)
    if gone:
        items.append(DeleteEndpoints(b"".join(gone)))
    if remote is not None and len(remote[1]):
        items.append(remote[1])
    # 7. rule entries out
    for pid in sorted(inst_rules):
        want_rules = desired.rules.get(pid, {})
        items.extend(DeleteRule(pid, k) for k in inst_rules[pid] if k not in want_rules)
    # 8. rules-version-only port updates
    items.extend(late_ports)
    # 9. ports out
    items.extend(DeletePort(pid) for pid in sorted(inst_ports.keys() - desired.ports.keys()))
    return Plan(tuple(items))
