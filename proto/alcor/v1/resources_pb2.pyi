from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_KIND_UNSPECIFIED: _ClassVar[ResourceKind]
    RESOURCE_KIND_VPC: _ClassVar[ResourceKind]
    RESOURCE_KIND_SUBNET: _ClassVar[ResourceKind]
    RESOURCE_KIND_PORT: _ClassVar[ResourceKind]
    RESOURCE_KIND_SECURITY_GROUP: _ClassVar[ResourceKind]
    RESOURCE_KIND_NODE: _ClassVar[ResourceKind]

class VpcStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VPC_STATUS_UNSPECIFIED: _ClassVar[VpcStatus]
    VPC_STATUS_ACTIVE: _ClassVar[VpcStatus]

class PortStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PORT_STATUS_UNSPECIFIED: _ClassVar[PortStatus]
    PORT_STATUS_DOWN: _ClassVar[PortStatus]
    PORT_STATUS_ACTIVE: _ClassVar[PortStatus]
    PORT_STATUS_ERROR: _ClassVar[PortStatus]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_INGRESS: _ClassVar[Direction]
    DIRECTION_EGRESS: _ClassVar[Direction]

class Ethertype(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ETHERTYPE_UNSPECIFIED: _ClassVar[Ethertype]
    ETHERTYPE_IPV4: _ClassVar[Ethertype]
    ETHERTYPE_IPV6: _ClassVar[Ethertype]

class Protocol(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_ANY: _ClassVar[Protocol]
    PROTOCOL_ICMP: _ClassVar[Protocol]
    PROTOCOL_TCP: _ClassVar[Protocol]
    PROTOCOL_UDP: _ClassVar[Protocol]
    PROTOCOL_ICMPV6: _ClassVar[Protocol]
RESOURCE_KIND_UNSPECIFIED: ResourceKind
RESOURCE_KIND_VPC: ResourceKind
RESOURCE_KIND_SUBNET: ResourceKind
RESOURCE_KIND_PORT: ResourceKind
RESOURCE_KIND_SECURITY_GROUP: ResourceKind
RESOURCE_KIND_NODE: ResourceKind
VPC_STATUS_UNSPECIFIED: VpcStatus
VPC_STATUS_ACTIVE: VpcStatus
PORT_STATUS_UNSPECIFIED: PortStatus
PORT_STATUS_DOWN: PortStatus
PORT_STATUS_ACTIVE: PortStatus
PORT_STATUS_ERROR: PortStatus
DIRECTION_UNSPECIFIED: Direction
DIRECTION_INGRESS: Direction
DIRECTION_EGRESS: Direction
ETHERTYPE_UNSPECIFIED: Ethertype
ETHERTYPE_IPV4: Ethertype
ETHERTYPE_IPV6: Ethertype
PROTOCOL_ANY: Protocol
PROTOCOL_ICMP: Protocol
PROTOCOL_TCP: Protocol
PROTOCOL_UDP: Protocol
PROTOCOL_ICMPV6: Protocol

class Vpc(_message.Message):
    __slots__ = ("id", "project_id", "name", "description", "cidr", "vni", "status", "create_revision", "revision")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    VNI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    name: str
    description: str
    cidr: str
    vni: int
    status: VpcStatus
    create_revision: int
    revision: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., cidr: _Optional[str] = ..., vni: _Optional[int] = ..., status: _Optional[_Union[VpcStatus, str]] = ..., create_revision: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class IpRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class HostRoute(_message.Message):
    __slots__ = ("destination", "nexthop")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    NEXTHOP_FIELD_NUMBER: _ClassVar[int]
    destination: str
    nexthop: str
    def __init__(self, destination: _Optional[str] = ..., nexthop: _Optional[str] = ...) -> None: ...

class Subnet(_message.Message):
    __slots__ = ("id", "project_id", "name", "description", "vpc_id", "cidr", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes", "create_revision", "revision")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_IP_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_POOLS_FIELD_NUMBER: _ClassVar[int]
    DNS_NAMESERVERS_FIELD_NUMBER: _ClassVar[int]
    HOST_ROUTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    name: str
    description: str
    vpc_id: str
    cidr: str
    gateway_ip: str
    allocation_pools: _containers.RepeatedCompositeFieldContainer[IpRange]
    dns_nameservers: _containers.RepeatedScalarFieldContainer[str]
    host_routes: _containers.RepeatedCompositeFieldContainer[HostRoute]
    create_revision: int
    revision: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., vpc_id: _Optional[str] = ..., cidr: _Optional[str] = ..., gateway_ip: _Optional[str] = ..., allocation_pools: _Optional[_Iterable[_Union[IpRange, _Mapping]]] = ..., dns_nameservers: _Optional[_Iterable[str]] = ..., host_routes: _Optional[_Iterable[_Union[HostRoute, _Mapping]]] = ..., create_revision: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class FixedIp(_message.Message):
    __slots__ = ("subnet_id", "ip_address")
    SUBNET_ID_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subnet_id: str
    ip_address: str
    def __init__(self, subnet_id: _Optional[str] = ..., ip_address: _Optional[str] = ...) -> None: ...

class PortContainer(_message.Message):
    __slots__ = ("container_id", "pod_namespace", "pod_name", "pod_uid")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    POD_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POD_NAME_FIELD_NUMBER: _ClassVar[int]
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    pod_namespace: str
    pod_name: str
    pod_uid: str
    def __init__(self, container_id: _Optional[str] = ..., pod_namespace: _Optional[str] = ..., pod_name: _Optional[str] = ..., pod_uid: _Optional[str] = ...) -> None: ...

class Port(_message.Message):
    __slots__ = ("id", "project_id", "name", "vpc_id", "subnet_id", "fixed_ips", "mac_address", "host_id", "device_id", "security_group_ids", "status", "status_detail", "create_revision", "revision", "interface_name", "container")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    SUBNET_ID_FIELD_NUMBER: _ClassVar[int]
    FIXED_IPS_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_DETAIL_FIELD_NUMBER: _ClassVar[int]
    CREATE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    name: str
    vpc_id: str
    subnet_id: str
    fixed_ips: _containers.RepeatedCompositeFieldContainer[FixedIp]
    mac_address: str
    host_id: str
    device_id: str
    security_group_ids: _containers.RepeatedScalarFieldContainer[str]
    status: PortStatus
    status_detail: str
    create_revision: int
    revision: int
    interface_name: str
    container: PortContainer
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., vpc_id: _Optional[str] = ..., subnet_id: _Optional[str] = ..., fixed_ips: _Optional[_Iterable[_Union[FixedIp, _Mapping]]] = ..., mac_address: _Optional[str] = ..., host_id: _Optional[str] = ..., device_id: _Optional[str] = ..., security_group_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[PortStatus, str]] = ..., status_detail: _Optional[str] = ..., create_revision: _Optional[int] = ..., revision: _Optional[int] = ..., interface_name: _Optional[str] = ..., container: _Optional[_Union[PortContainer, _Mapping]] = ...) -> None: ...

class SecurityGroupRule(_message.Message):
    __slots__ = ("id", "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    ETHERTYPE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PORT_RANGE_MIN_FIELD_NUMBER: _ClassVar[int]
    PORT_RANGE_MAX_FIELD_NUMBER: _ClassVar[int]
    REMOTE_IP_PREFIX_FIELD_NUMBER: _ClassVar[int]
    REMOTE_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    security_group_id: str
    direction: Direction
    ethertype: Ethertype
    protocol: Protocol
    port_range_min: int
    port_range_max: int
    remote_ip_prefix: str
    remote_group_id: str
    description: str
    def __init__(self, id: _Optional[str] = ..., security_group_id: _Optional[str] = ..., direction: _Optional[_Union[Direction, str]] = ..., ethertype: _Optional[_Union[Ethertype, str]] = ..., protocol: _Optional[_Union[Protocol, str]] = ..., port_range_min: _Optional[int] = ..., port_range_max: _Optional[int] = ..., remote_ip_prefix: _Optional[str] = ..., remote_group_id: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class SecurityGroup(_message.Message):
    __slots__ = ("id", "project_id", "name", "description", "rules", "create_revision", "revision")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    CREATE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    name: str
    description: str
    rules: _containers.RepeatedCompositeFieldContainer[SecurityGroupRule]
    create_revision: int
    revision: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[SecurityGroupRule, _Mapping]]] = ..., create_revision: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("host_id", "name", "underlay_ip", "agent_version", "last_seen_unix_ms", "create_revision", "revision")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNDERLAY_IP_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CREATE_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    name: str
    underlay_ip: str
    agent_version: str
    last_seen_unix_ms: int
    create_revision: int
    revision: int
    def __init__(self, host_id: _Optional[str] = ..., name: _Optional[str] = ..., underlay_ip: _Optional[str] = ..., agent_version: _Optional[str] = ..., last_seen_unix_ms: _Optional[int] = ..., create_revision: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("vpc", "subnet", "port", "security_group", "node")
    VPC_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    vpc: Vpc
    subnet: Subnet
    port: Port
    security_group: SecurityGroup
    node: Node
    def __init__(self, vpc: _Optional[_Union[Vpc, _Mapping]] = ..., subnet: _Optional[_Union[Subnet, _Mapping]] = ..., port: _Optional[_Union[Port, _Mapping]] = ..., security_group: _Optional[_Union[SecurityGroup, _Mapping]] = ..., node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...
