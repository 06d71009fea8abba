from alcor.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GoalStateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GOAL_STATE_KIND_UNSPECIFIED: _ClassVar[GoalStateKind]
    GOAL_STATE_KIND_VPC: _ClassVar[GoalStateKind]
    GOAL_STATE_KIND_SUBNET: _ClassVar[GoalStateKind]
    GOAL_STATE_KIND_PORT: _ClassVar[GoalStateKind]
    GOAL_STATE_KIND_NEIGHBOR: _ClassVar[GoalStateKind]
    GOAL_STATE_KIND_SECURITY_GROUP: _ClassVar[GoalStateKind]
    GOAL_STATE_KIND_GROUP_MEMBERS: _ClassVar[GoalStateKind]
GOAL_STATE_KIND_UNSPECIFIED: GoalStateKind
GOAL_STATE_KIND_VPC: GoalStateKind
GOAL_STATE_KIND_SUBNET: GoalStateKind
GOAL_STATE_KIND_PORT: GoalStateKind
GOAL_STATE_KIND_NEIGHBOR: GoalStateKind
GOAL_STATE_KIND_SECURITY_GROUP: GoalStateKind
GOAL_STATE_KIND_GROUP_MEMBERS: GoalStateKind

class Neighbor(_message.Message):
    __slots__ = ("port_id", "vpc_id", "vni", "ip_address", "mac_address", "host_id", "host_ip")
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    VNI_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_IP_FIELD_NUMBER: _ClassVar[int]
    port_id: str
    vpc_id: str
    vni: int
    ip_address: str
    mac_address: str
    host_id: str
    host_ip: str
    def __init__(self, port_id: _Optional[str] = ..., vpc_id: _Optional[str] = ..., vni: _Optional[int] = ..., ip_address: _Optional[str] = ..., mac_address: _Optional[str] = ..., host_id: _Optional[str] = ..., host_ip: _Optional[str] = ...) -> None: ...

class GroupMembers(_message.Message):
    __slots__ = ("security_group_id", "ip_addresses")
    SECURITY_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    security_group_id: str
    ip_addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, security_group_id: _Optional[str] = ..., ip_addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class GroupMembersChange(_message.Message):
    __slots__ = ("security_group_id", "added_ip_addresses", "removed_ip_addresses")
    SECURITY_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ADDED_IP_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    REMOVED_IP_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    security_group_id: str
    added_ip_addresses: _containers.RepeatedScalarFieldContainer[str]
    removed_ip_addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, security_group_id: _Optional[str] = ..., added_ip_addresses: _Optional[_Iterable[str]] = ..., removed_ip_addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class GoalStateItem(_message.Message):
    __slots__ = ("vpc", "subnet", "port", "neighbor", "security_group", "group_members", "group_members_change")
    VPC_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOR_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    GROUP_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_MEMBERS_CHANGE_FIELD_NUMBER: _ClassVar[int]
    vpc: _resources_pb2.Vpc
    subnet: _resources_pb2.Subnet
    port: _resources_pb2.Port
    neighbor: Neighbor
    security_group: _resources_pb2.SecurityGroup
    group_members: GroupMembers
    group_members_change: GroupMembersChange
    def __init__(self, vpc: _Optional[_Union[_resources_pb2.Vpc, _Mapping]] = ..., subnet: _Optional[_Union[_resources_pb2.Subnet, _Mapping]] = ..., port: _Optional[_Union[_resources_pb2.Port, _Mapping]] = ..., neighbor: _Optional[_Union[Neighbor, _Mapping]] = ..., security_group: _Optional[_Union[_resources_pb2.SecurityGroup, _Mapping]] = ..., group_members: _Optional[_Union[GroupMembers, _Mapping]] = ..., group_members_change: _Optional[_Union[GroupMembersChange, _Mapping]] = ...) -> None: ...

class GoalStateKey(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: GoalStateKind
    id: str
    def __init__(self, kind: _Optional[_Union[GoalStateKind, str]] = ..., id: _Optional[str] = ...) -> None: ...

class GoalStateUpdate(_message.Message):
    __slots__ = ("base_revision", "revision", "full", "upserts", "deletes")
    BASE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    UPSERTS_FIELD_NUMBER: _ClassVar[int]
    DELETES_FIELD_NUMBER: _ClassVar[int]
    base_revision: int
    revision: int
    full: bool
    upserts: _containers.RepeatedCompositeFieldContainer[GoalStateItem]
    deletes: _containers.RepeatedCompositeFieldContainer[GoalStateKey]
    def __init__(self, base_revision: _Optional[int] = ..., revision: _Optional[int] = ..., full: _Optional[bool] = ..., upserts: _Optional[_Iterable[_Union[GoalStateItem, _Mapping]]] = ..., deletes: _Optional[_Iterable[_Union[GoalStateKey, _Mapping]]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("host_id", "underlay_ip", "agent_version", "last_applied_revision")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    UNDERLAY_IP_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    underlay_ip: str
    agent_version: str
    last_applied_revision: int
    def __init__(self, host_id: _Optional[str] = ..., underlay_ip: _Optional[str] = ..., agent_version: _Optional[str] = ..., last_applied_revision: _Optional[int] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("member_id", "resumed", "revision")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    resumed: bool
    revision: int
    def __init__(self, member_id: _Optional[str] = ..., resumed: _Optional[bool] = ..., revision: _Optional[int] = ...) -> None: ...

class ResourceStatus(_message.Message):
    __slots__ = ("kind", "id", "ok", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: GoalStateKind
    id: str
    ok: bool
    reason: str
    def __init__(self, kind: _Optional[_Union[GoalStateKind, str]] = ..., id: _Optional[str] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class GoalStateAck(_message.Message):
    __slots__ = ("revision", "statuses", "apply_us", "total_us")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    APPLY_US_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    revision: int
    statuses: _containers.RepeatedCompositeFieldContainer[ResourceStatus]
    apply_us: int
    total_us: int
    def __init__(self, revision: _Optional[int] = ..., statuses: _Optional[_Iterable[_Union[ResourceStatus, _Mapping]]] = ..., apply_us: _Optional[int] = ..., total_us: _Optional[int] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "ack")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    ack: GoalStateAck
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., ack: _Optional[_Union[GoalStateAck, _Mapping]] = ...) -> None: ...

class ControllerMessage(_message.Message):
    __slots__ = ("welcome", "update")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    update: GoalStateUpdate
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., update: _Optional[_Union[GoalStateUpdate, _Mapping]] = ...) -> None: ...
