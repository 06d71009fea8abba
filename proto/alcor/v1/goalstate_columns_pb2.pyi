from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NeighborColumns(_message.Message):
    __slots__ = ("port_id", "vpc_id", "vni", "ip_address", "mac_address", "host_id", "host_ip")
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    VNI_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_IP_FIELD_NUMBER: _ClassVar[int]
    port_id: _containers.RepeatedScalarFieldContainer[str]
    vpc_id: _containers.RepeatedScalarFieldContainer[str]
    vni: _containers.RepeatedScalarFieldContainer[int]
    ip_address: _containers.RepeatedScalarFieldContainer[str]
    mac_address: _containers.RepeatedScalarFieldContainer[str]
    host_id: _containers.RepeatedScalarFieldContainer[str]
    host_ip: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, port_id: _Optional[_Iterable[str]] = ..., vpc_id: _Optional[_Iterable[str]] = ..., vni: _Optional[_Iterable[int]] = ..., ip_address: _Optional[_Iterable[str]] = ..., mac_address: _Optional[_Iterable[str]] = ..., host_id: _Optional[_Iterable[str]] = ..., host_ip: _Optional[_Iterable[str]] = ...) -> None: ...

class ItemColumns(_message.Message):
    __slots__ = ("vpc", "subnet", "port", "neighbor", "security_group", "group_members", "group_members_change")
    VPC_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOR_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    GROUP_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_MEMBERS_CHANGE_FIELD_NUMBER: _ClassVar[int]
    vpc: _containers.RepeatedScalarFieldContainer[bytes]
    subnet: _containers.RepeatedScalarFieldContainer[bytes]
    port: _containers.RepeatedScalarFieldContainer[bytes]
    neighbor: NeighborColumns
    security_group: _containers.RepeatedScalarFieldContainer[bytes]
    group_members: _containers.RepeatedScalarFieldContainer[bytes]
    group_members_change: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, vpc: _Optional[_Iterable[bytes]] = ..., subnet: _Optional[_Iterable[bytes]] = ..., port: _Optional[_Iterable[bytes]] = ..., neighbor: _Optional[_Union[NeighborColumns, _Mapping]] = ..., security_group: _Optional[_Iterable[bytes]] = ..., group_members: _Optional[_Iterable[bytes]] = ..., group_members_change: _Optional[_Iterable[bytes]] = ...) -> None: ...

class UpdateColumns(_message.Message):
    __slots__ = ("base_revision", "revision", "full", "upserts", "deletes")
    BASE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    UPSERTS_FIELD_NUMBER: _ClassVar[int]
    DELETES_FIELD_NUMBER: _ClassVar[int]
    base_revision: int
    revision: int
    full: bool
    upserts: ItemColumns
    deletes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, base_revision: _Optional[int] = ..., revision: _Optional[int] = ..., full: _Optional[bool] = ..., upserts: _Optional[_Union[ItemColumns, _Mapping]] = ..., deletes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class UpdateItems(_message.Message):
    __slots__ = ("upserts",)
    UPSERTS_FIELD_NUMBER: _ClassVar[int]
    upserts: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, upserts: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ControllerMessageBytes(_message.Message):
    __slots__ = ("welcome", "update")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    welcome: bytes
    update: bytes
    def __init__(self, welcome: _Optional[bytes] = ..., update: _Optional[bytes] = ...) -> None: ...
