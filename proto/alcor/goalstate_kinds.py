"""The goal-state wire's kinds in one place: each `GoalStateItem` member's `GoalStateKind` and
the field that is its id, so that an item's key `(kind, id)` means the same to the controller
that sends it and the agent that acks it (goalstate.proto)."""

from __future__ import annotations

from alcor.v1 import goalstate_pb2 as gs

KIND_VPC = gs.GOAL_STATE_KIND_VPC
KIND_SUBNET = gs.GOAL_STATE_KIND_SUBNET
KIND_PORT = gs.GOAL_STATE_KIND_PORT
KIND_NEIGHBOR = gs.GOAL_STATE_KIND_NEIGHBOR
KIND_SECURITY_GROUP = gs.GOAL_STATE_KIND_SECURITY_GROUP
KIND_GROUP_MEMBERS = gs.GOAL_STATE_KIND_GROUP_MEMBERS

# (GoalStateKind, id): an item of a host's goal state (a neighbor by port id, members by group id)
Key = tuple[int, str]

# GoalStateItem oneof member -> (its kind, the field of the member that is the item's id); a
# GroupMembersChange is a change of its group's GroupMembers item, so it has that item's key
ITEM_KEY: dict[str, tuple[int, str]] = {
    "vpc": (KIND_VPC, "id"),
    "subnet": (KIND_SUBNET, "id"),
    "port": (KIND_PORT, "id"),
    "neighbor": (KIND_NEIGHBOR, "port_id"),
    "security_group": (KIND_SECURITY_GROUP, "id"),
    "group_members": (KIND_GROUP_MEMBERS, "security_group_id"),
    "group_members_change": (KIND_GROUP_MEMBERS, "security_group_id"),
}


def key_of(item: gs.GoalStateItem) -> Key:
    which = item.WhichOneof("item")
    if which is None:
        raise ValueError("empty GoalStateItem")
    kind, field = ITEM_KEY[which]
    return kind, getattr(getattr(item, which), field)
