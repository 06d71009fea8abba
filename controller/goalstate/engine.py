"""The goal-state engine: change events in, per-host deltas out (pure: no I/O, no asyncio).

`GoalStateEngine` follows the change log. `apply(events, revision)` applies a batch of events to
the relevance index and returns, for every host whose goal state changed, the delta that takes
it from its previous goal state to the one at `revision` (the batch's cluster revision: a host's
goal-state revision is the cluster revision at which it was computed). Only hosts whose goal
state actually changed get a delta, and a delta lists only items that changed. A host that
joins a VPC holding most of its goal state, or leaves one that held most of it, gets None
instead: send it a snapshot. The join would be one new item per port of the VPC (a second of
the loop for 50,000 ports), where a snapshot joins items already encoded; the leave, one delete
per port, where a snapshot holds what is left.

How a batch is diffed: for every event, `RelevanceIndex.touched` names (before the event is
applied) every key whose item or audience the event may change. The first time a key is
touched in a batch, its audience and item are recorded; no earlier event of the batch changed
them, or it would have touched the key. After the batch, each touched key is compared with its
recorded self: hosts that gained it or whose item changed get an upsert, hosts that lost it a
delete. Items are shared between hosts.

Per host the engine also keeps a bounded history: which keys changed at which revision (so a
reconnecting agent at revision r gets only the keys changed after r: `delta_since`), and the
revisions at which the host changed (`changed_at`, for waiting on hosts).

Snapshots (`snapshot`) are assembled from items encoded once, when they change (the index
keeps them until a batch touches their key again), so a 100,000-neighbor snapshot joins bytes
instead of building 100,000 messages.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Collection, Iterable

from alcor.controller.goalstate import items as it
from alcor.controller.goalstate.index import Membership, RelevanceIndex
from alcor.controller.goalstate.items import Delta, Key
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

# stands for a group's member list before a batch: only whether it existed matters
_EXISTS = gs.GoalStateItem()

DEFAULT_KEY_HISTORY = 256  # per host: resuming past more changes than this is a snapshot
# a join (or leave) of more neighbors than the key history, and more than this share of the
# host's keys after it, is sent as a snapshot (about 3 us a key from encoded items, against 20
# for a new item)
SNAPSHOT_SHARE = 0.25
DEFAULT_CHANGE_HISTORY = 64


class HostHistory:
    """What changed for one host since `key_floor` (keys) and `change_floor` (revisions)."""

    __slots__ = ("change_floor", "change_floor_revision", "changes", "key_floor", "keys")

    def __init__(self, floor: int, had_state: bool) -> None:
        self.keys: collections.OrderedDict[Key, int] = collections.OrderedDict()  # oldest first
        self.key_floor = floor  # keys changed after this revision are all in `keys`
        # (first event revision, batch revision) of every batch that changed the host
        self.changes: collections.deque[tuple[int, int]] = collections.deque()
        self.change_floor = floor  # `changes` is complete after this revision
        # the latest revision <= change_floor known to have changed the host (0: none)
        self.change_floor_revision = floor if had_state else 0


class GoalStateEngine:
    def __init__(
        self,
        *,
        key_history: int = DEFAULT_KEY_HISTORY,
        change_history: int = DEFAULT_CHANGE_HISTORY,
    ) -> None:
        self.index = RelevanceIndex()
        self.revision = 0
        self.start_revision = 0
        self.key_history = key_history
        self.change_history = change_history
        self._history: dict[str, HostHistory] = {}
        self._loaded_hosts: frozenset[str] = frozenset()  # hosts with goal state at load

    def load(
        self,
        revision: int,
        *,
        vpcs: Iterable[res.Vpc] = (),
        subnets: Iterable[res.Subnet] = (),
        groups: Iterable[res.SecurityGroup] = (),
        nodes: Iterable[res.Node] = (),
        ports: Iterable[tuple[res.Port, int]] = (),
    ) -> None:
        """Start from the records at `revision` (ports with their configuration revision)."""
        if self.index.ports or self.index.vpcs or self.index.nodes or self.revision:
            raise ValueError("load() needs a new engine")
        self.index.load(vpcs, subnets, groups, nodes, ports)
        self.revision = self.start_revision = revision
        self._loaded_hosts = frozenset(self.index.host_ports)

    # ---- following the change log ----

    def apply(
        self, events: Iterable[watch.Event], revision: int, wanted: Callable[[str], bool] | None = None
    ) -> dict[str, Delta | None]:
        """Apply the events after `self.revision` up to `revision`; returns per-host deltas, or
        None for a host better sent a snapshot (see the module docstring). With `wanted`, a host
        it refuses (no agent connected) gets its history recorded but no delta built for joining
        a VPC: that is one item per port of the VPC, built for nobody."""
        if revision < self.revision:
            raise ValueError(f"revision {revision} is behind the engine's {self.revision}")
        index = self.index
        before: dict[Key, tuple[set[str], gs.GoalStateItem | None]] = {}
        # (host, VPC) -> the neighbors the host had in it before the batch (None: not a member)
        members_before: dict[Membership, frozenset[str] | None] = {}
        first = 0
        for event in events:
            if event.revision <= self.revision or event.revision > revision:
                raise ValueError(f"event at revision {event.revision} outside ({self.revision}, {revision}]")
            first = first or event.revision
            for key in index.touched(event):
                if key not in before:
                    hosts = index.audience(key)
                    if key[0] == it.KIND_NEIGHBOR and members_before:
                        self._as_before_batch(hosts, key[1], members_before)
                    if key[0] == it.KIND_GROUP_MEMBERS:
                        # whether it exists is enough: what changed in the list is counted as
                        # it changes (building a project's whole default group per batch is not)
                        before[key] = (hosts, _EXISTS if key[1] in index.groups else None)
                    else:
                        before[key] = (hosts, index.item(key))
            for pair in index.memberships(event):
                if pair not in members_before:
                    members_before[pair] = index.neighbors_in(*pair)
            index.apply(event)
        self.revision = revision
        index.forget(before)
        member_changes = index.take_member_changes()
        deltas: dict[str, Delta] = {}
        # neighbors upserted on every host of their VPC but their own go there together (_share)
        vpc_wide: dict[str, tuple[dict[Key, gs.GoalStateItem | None], dict[str, list[Key]]]] = {}
        lost: list[tuple[Key, set[str]]] = []
        for key, (old_hosts, old_item) in before.items():
            new_hosts = index.audience(key)
            if not old_hosts and not new_hosts:
                continue
            if key[0] == it.KIND_GROUP_MEMBERS:
                self._diff_members(key, old_hosts, new_hosts, old_item is not None, member_changes, deltas)
                continue
            new_item = index.item(key) if new_hosts else None
            changed = new_item != old_item
            if new_item is not None:
                # serialized once here, for every snapshot that includes it until it changes
                index.remember(key, new_item)
            receivers = new_hosts if changed else new_hosts - old_hosts
            wide = self._vpc_wide(key, receivers) if receivers else None
            if wide is not None:
                items, owned = vpc_wide.setdefault(wide[0], ({}, {}))
                items[key] = new_item
                owned.setdefault(wide[1], []).append(key)
            else:
                for host in receivers:
                    deltas.setdefault(host, {})[key] = new_item
            gone = old_hosts - new_hosts
            if gone:
                lost.append((key, gone))
        self._share(vpc_wide, deltas)
        for key, hosts in lost:
            for host in hosts:
                deltas.setdefault(host, {})[key] = None
        # a host that joined a VPC gains its neighbors, one that left loses them; a neighbor
        # touched by the batch itself was diffed above (with the same outcome for this host)
        unsent: dict[str, list[Key]] = {}
        reset: set[str] = set()  # gained or lost more neighbors than the history holds
        snapshots: set[str] = set()
        for (host, vpc_id), had in members_before.items():
            count = index.neighbor_count(host, vpc_id)
            if (had is None) == (count is None):
                continue  # stayed in (its neighbors' own changes are diffed above) or stayed out
            moved = count if count is not None else len(had or ())  # joined, or left
            unwanted = wanted is not None and not wanted(host)
            if moved > self.key_history and (unwanted or moved > SNAPSHOT_SHARE * index.size_of(host)):
                reset.add(host)  # no key listed: resuming from before this is a snapshot
                if not unwanted:
                    snapshots.add(host)
                continue
            has = index.neighbors_in(host, vpc_id)
            keys = [(it.KIND_NEIGHBOR, p) for p in (has if has is not None else had or ())]
            keys = [k for k in keys if k not in before]
            if not keys:
                continue
            if unwanted and count is not None:  # a leave's deletes are cheap: sent anyway
                unsent.setdefault(host, []).extend(keys)
                continue
            delta = deltas.setdefault(host, {})
            for key in keys:
                delta[key] = index.item(key) if has is not None else None
        for host in deltas.keys() | unsent.keys() | reset:
            self._record(
                host, deltas.get(host, ()), unsent.get(host, ()), first or revision, revision, host in reset
            )
        out: dict[str, Delta | None] = dict(deltas)
        out.update(dict.fromkeys(snapshots))
        return out

    def _share(
        self,
        vpc_wide: dict[str, tuple[dict[Key, gs.GoalStateItem | None], dict[str, list[Key]]]],
        deltas: dict[str, Delta],
    ) -> None:
        """Add each VPC's neighbors (items, and the keys each owning host has among them) to the
        deltas of its hosts, all but the owner's. A bulk create into a VPC of H hosts is
        (ports x H) upserts: each host gets the items in one dict update (C, not a loop per
        pair), and loses its own ports' again."""
        for vpc_id, (items, owned) in vpc_wide.items():
            for host in self.index.vpc_hosts.get(vpc_id, {}):
                delta = deltas.get(host)
                if delta is None:
                    delta = deltas[host] = {}
                delta.update(items)
                for key in owned.get(host, ()):
                    del delta[key]
                if not delta:  # only its own ports changed: no delta at all
                    del deltas[host]

    def _vpc_wide(self, key: Key, receivers: set[str]) -> tuple[str, str] | None:
        """(VPC, owning host) if `key` is a neighbor and `receivers` are exactly the hosts of its
        VPC but the owning one, else None."""
        if key[0] != it.KIND_NEIGHBOR:
            return None
        port = self.index.ports.get(key[1])
        hosts = self.index.vpc_hosts.get(port.vpc_id) if port is not None else None
        if port is None or not hosts:
            return None
        owner = port.host_id
        # receivers are a subset of the VPC's hosts (a neighbor's audience is), so this says
        # they are all of them but the owner
        if owner in receivers or len(receivers) != len(hosts) - (owner in hosts):
            return None
        return port.vpc_id, owner

    def _diff_members(
        self,
        key: Key,
        old_hosts: set[str],
        new_hosts: set[str],
        existed: bool,
        member_changes: dict[str, dict[str, bool]],
        deltas: dict[str, Delta],
    ) -> None:
        """A group's member list: hosts that gain it get the whole list, hosts that hold it get
        what changed (a GroupMembersChange, when smaller than the list), built only if needed."""
        index, group_id = self.index, key[1]
        exists = group_id in index.groups
        flips = member_changes.get(group_id, {}) if existed and exists else {}
        changed = existed != exists or bool(flips)
        whole: list[gs.GoalStateItem | None] = []

        def full() -> gs.GoalStateItem | None:
            if not whole:
                whole.append(index.item(key))
            return whole[0]

        update: gs.GoalStateItem | None = None
        if changed and flips and len(flips) < index.member_count(group_id):
            joined = [ip for ip, j in flips.items() if j]
            left = [ip for ip, j in flips.items() if not j]
            update = it.members_change_item(group_id, joined, left)
        for host in new_hosts:
            if host not in old_hosts:
                deltas.setdefault(host, {})[key] = full()
            elif changed:
                deltas.setdefault(host, {})[key] = update if update is not None else full()
        for host in old_hosts - new_hosts:
            deltas.setdefault(host, {})[key] = None

    def _as_before_batch(
        self, hosts: set[str], port_id: str, members_before: dict[Membership, frozenset[str] | None]
    ) -> None:
        """Correct a neighbor's audience, taken at its first touch in a batch, for the hosts
        whose membership of its VPC an earlier event of the batch flipped (nothing touched the
        neighbor itself yet, so they are the only hosts whose view of it moved)."""
        port = self.index.ports.get(port_id)
        if port is None or not port.host_id:
            return
        for (host, vpc_id), had in members_before.items():
            if vpc_id == port.vpc_id:
                if had is not None and port_id in had:
                    hosts.add(host)
                else:
                    hosts.discard(host)

    def _record(
        self,
        host: str,
        delta: Collection[Key],
        unsent: Collection[Key],
        first: int,
        revision: int,
        reset: bool,
    ) -> None:
        """Note the keys changed for `host` at `revision` (those sent, those not); `reset`: more
        changed than listed."""
        history = self._history.get(host)
        if history is None:
            history = HostHistory(self.start_revision, host in self._loaded_hosts)
            self._history[host] = history
        keys = history.keys
        if reset or len(delta) + len(unsent) > self.key_history:
            # more than the history holds: resuming from before this revision is a snapshot,
            # and from it or later needs none of these keys
            keys.clear()
            history.key_floor = max(history.key_floor, revision)
        else:
            for part in (delta, unsent):
                for key in part:
                    keys[key] = revision
                    keys.move_to_end(key)
            while len(keys) > self.key_history:
                _, dropped = keys.popitem(last=False)
                history.key_floor = max(history.key_floor, dropped)
        history.changes.append((first, revision))
        while len(history.changes) > self.change_history:
            _, dropped = history.changes.popleft()
            history.change_floor = history.change_floor_revision = dropped

    # ---- what a host is sent ----

    def full(self, host: str) -> Delta:
        """The host's complete goal state at `self.revision` (what a snapshot sends)."""
        index = self.index
        out: Delta = {}
        for key in index.keys_of(host):
            out[key] = index.item(key)
        return out

    def snapshot(self, host: str) -> gs.ControllerMessage:
        """The same as `full`, as a ready-to-send ControllerMessage (update.full = true)."""
        chunk = self.index.chunk
        return it.snapshot_message(self.revision, [chunk(k) for k in self.index.keys_of(host)])

    def delta_since(self, host: str, revision: int) -> Delta | None:
        """The delta from the host's goal state at `revision` to the current one; None when the
        history no longer says (too old, older than this engine, or in the future)."""
        if revision > self.revision:
            return None
        history = self._history.get(host)
        floor = history.key_floor if history is not None else self.start_revision
        if revision < floor:
            return None
        if history is None:
            return {}
        out: Delta = {}
        index = self.index
        for key, changed in reversed(history.keys.items()):
            if changed <= revision:
                break
            out[key] = index.item(key) if host in index.audience(key) else None
        return out

    def changed_at(self, host: str, revision: int) -> int:
        """The revision the host must have applied to have its goal state as of `revision`: the
        last change at or before it (0 when there is none; `revision` itself when the history
        no longer says, which asks for at least as much)."""
        history = self._history.get(host)
        if history is None:
            has_state = host in self._loaded_hosts
            if revision < self.start_revision:
                return revision if has_state else 0
            return self.start_revision if has_state else 0
        if revision < history.change_floor:
            return revision
        target = history.change_floor_revision
        for first, last in history.changes:
            if first > revision:
                break
            target = last
        return target

    def hosts(self) -> set[str]:
        return self.index.hosts()

    def known(self, host: str) -> bool:
        """A registered node (an agent said hello, or an admin created it)."""
        return host in self.index.nodes

    def node(self, host: str) -> res.Node | None:
        return self.index.nodes.get(host)
