from google.protobuf import field_mask_pb2 as _field_mask_pb2
from alcor.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResponseHeader(_message.Message):
    __slots__ = ("revision", "member_id", "raft_term")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    RAFT_TERM_FIELD_NUMBER: _ClassVar[int]
    revision: int
    member_id: str
    raft_term: int
    def __init__(self, revision: _Optional[int] = ..., member_id: _Optional[str] = ..., raft_term: _Optional[int] = ...) -> None: ...

class ReadOptions(_message.Message):
    __slots__ = ("stale",)
    STALE_FIELD_NUMBER: _ClassVar[int]
    stale: bool
    def __init__(self, stale: _Optional[bool] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CreateVpcRequest(_message.Message):
    __slots__ = ("request_id", "project_id", "name", "description", "cidr")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project_id: str
    name: str
    description: str
    cidr: str
    def __init__(self, request_id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., cidr: _Optional[str] = ...) -> None: ...

class UpdateVpcRequest(_message.Message):
    __slots__ = ("request_id", "vpc", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VPC_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    vpc: _resources_pb2.Vpc
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., vpc: _Optional[_Union[_resources_pb2.Vpc, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class VpcResponse(_message.Message):
    __slots__ = ("header", "vpc")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    VPC_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    vpc: _resources_pb2.Vpc
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., vpc: _Optional[_Union[_resources_pb2.Vpc, _Mapping]] = ...) -> None: ...

class ListVpcsRequest(_message.Message):
    __slots__ = ("page", "read", "project_id", "name")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    read: ReadOptions
    project_id: str
    name: str
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListVpcsResponse(_message.Message):
    __slots__ = ("header", "vpcs", "next_page_token")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    VPCS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    vpcs: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Vpc]
    next_page_token: str
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., vpcs: _Optional[_Iterable[_Union[_resources_pb2.Vpc, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateSubnetRequest(_message.Message):
    __slots__ = ("request_id", "project_id", "name", "description", "vpc_id", "cidr", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    CIDR_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_IP_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_POOLS_FIELD_NUMBER: _ClassVar[int]
    DNS_NAMESERVERS_FIELD_NUMBER: _ClassVar[int]
    HOST_ROUTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project_id: str
    name: str
    description: str
    vpc_id: str
    cidr: str
    gateway_ip: str
    allocation_pools: _containers.RepeatedCompositeFieldContainer[_resources_pb2.IpRange]
    dns_nameservers: _containers.RepeatedScalarFieldContainer[str]
    host_routes: _containers.RepeatedCompositeFieldContainer[_resources_pb2.HostRoute]
    def __init__(self, request_id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., vpc_id: _Optional[str] = ..., cidr: _Optional[str] = ..., gateway_ip: _Optional[str] = ..., allocation_pools: _Optional[_Iterable[_Union[_resources_pb2.IpRange, _Mapping]]] = ..., dns_nameservers: _Optional[_Iterable[str]] = ..., host_routes: _Optional[_Iterable[_Union[_resources_pb2.HostRoute, _Mapping]]] = ...) -> None: ...

class UpdateSubnetRequest(_message.Message):
    __slots__ = ("request_id", "subnet", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subnet: _resources_pb2.Subnet
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., subnet: _Optional[_Union[_resources_pb2.Subnet, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class SubnetResponse(_message.Message):
    __slots__ = ("header", "subnet")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    subnet: _resources_pb2.Subnet
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., subnet: _Optional[_Union[_resources_pb2.Subnet, _Mapping]] = ...) -> None: ...

class ListSubnetsRequest(_message.Message):
    __slots__ = ("page", "read", "project_id", "vpc_id", "name")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    read: ReadOptions
    project_id: str
    vpc_id: str
    name: str
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ..., project_id: _Optional[str] = ..., vpc_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListSubnetsResponse(_message.Message):
    __slots__ = ("header", "subnets", "next_page_token")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SUBNETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    subnets: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Subnet]
    next_page_token: str
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., subnets: _Optional[_Iterable[_Union[_resources_pb2.Subnet, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePortRequest(_message.Message):
    __slots__ = ("request_id", "project_id", "name", "subnet_id", "fixed_ips", "mac_address", "host_id", "device_id", "security_group_ids", "interface_name", "container")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBNET_ID_FIELD_NUMBER: _ClassVar[int]
    FIXED_IPS_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project_id: str
    name: str
    subnet_id: str
    fixed_ips: _containers.RepeatedCompositeFieldContainer[_resources_pb2.FixedIp]
    mac_address: str
    host_id: str
    device_id: str
    security_group_ids: _containers.RepeatedScalarFieldContainer[str]
    interface_name: str
    container: _resources_pb2.PortContainer
    def __init__(self, request_id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., subnet_id: _Optional[str] = ..., fixed_ips: _Optional[_Iterable[_Union[_resources_pb2.FixedIp, _Mapping]]] = ..., mac_address: _Optional[str] = ..., host_id: _Optional[str] = ..., device_id: _Optional[str] = ..., security_group_ids: _Optional[_Iterable[str]] = ..., interface_name: _Optional[str] = ..., container: _Optional[_Union[_resources_pb2.PortContainer, _Mapping]] = ...) -> None: ...

class CreatePortsRequest(_message.Message):
    __slots__ = ("request_id", "ports")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ports: _containers.RepeatedCompositeFieldContainer[CreatePortRequest]
    def __init__(self, request_id: _Optional[str] = ..., ports: _Optional[_Iterable[_Union[CreatePortRequest, _Mapping]]] = ...) -> None: ...

class UpdatePortRequest(_message.Message):
    __slots__ = ("request_id", "port", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    port: _resources_pb2.Port
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., port: _Optional[_Union[_resources_pb2.Port, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class PortResponse(_message.Message):
    __slots__ = ("header", "port")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    port: _resources_pb2.Port
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., port: _Optional[_Union[_resources_pb2.Port, _Mapping]] = ...) -> None: ...

class CreatePortsResponse(_message.Message):
    __slots__ = ("header", "ports")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    ports: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Port]
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., ports: _Optional[_Iterable[_Union[_resources_pb2.Port, _Mapping]]] = ...) -> None: ...

class ListPortsRequest(_message.Message):
    __slots__ = ("page", "read", "project_id", "vpc_id", "subnet_id", "host_id", "device_id", "name", "container_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    VPC_ID_FIELD_NUMBER: _ClassVar[int]
    SUBNET_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    read: ReadOptions
    project_id: str
    vpc_id: str
    subnet_id: str
    host_id: str
    device_id: str
    name: str
    container_id: str
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ..., project_id: _Optional[str] = ..., vpc_id: _Optional[str] = ..., subnet_id: _Optional[str] = ..., host_id: _Optional[str] = ..., device_id: _Optional[str] = ..., name: _Optional[str] = ..., container_id: _Optional[str] = ...) -> None: ...

class ListPortsResponse(_message.Message):
    __slots__ = ("header", "ports", "next_page_token")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    ports: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Port]
    next_page_token: str
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., ports: _Optional[_Iterable[_Union[_resources_pb2.Port, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateSecurityGroupRequest(_message.Message):
    __slots__ = ("request_id", "project_id", "name", "description", "rules")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    project_id: str
    name: str
    description: str
    rules: _containers.RepeatedCompositeFieldContainer[_resources_pb2.SecurityGroupRule]
    def __init__(self, request_id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[_resources_pb2.SecurityGroupRule, _Mapping]]] = ...) -> None: ...

class UpdateSecurityGroupRequest(_message.Message):
    __slots__ = ("request_id", "security_group", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    security_group: _resources_pb2.SecurityGroup
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., security_group: _Optional[_Union[_resources_pb2.SecurityGroup, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class SecurityGroupResponse(_message.Message):
    __slots__ = ("header", "security_group")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    security_group: _resources_pb2.SecurityGroup
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., security_group: _Optional[_Union[_resources_pb2.SecurityGroup, _Mapping]] = ...) -> None: ...

class ListSecurityGroupsRequest(_message.Message):
    __slots__ = ("page", "read", "project_id", "name")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    read: ReadOptions
    project_id: str
    name: str
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListSecurityGroupsResponse(_message.Message):
    __slots__ = ("header", "security_groups", "next_page_token")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    security_groups: _containers.RepeatedCompositeFieldContainer[_resources_pb2.SecurityGroup]
    next_page_token: str
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., security_groups: _Optional[_Iterable[_Union[_resources_pb2.SecurityGroup, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateSecurityGroupRuleRequest(_message.Message):
    __slots__ = ("request_id", "rule")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    rule: _resources_pb2.SecurityGroupRule
    def __init__(self, request_id: _Optional[str] = ..., rule: _Optional[_Union[_resources_pb2.SecurityGroupRule, _Mapping]] = ...) -> None: ...

class SecurityGroupRuleResponse(_message.Message):
    __slots__ = ("header", "rule")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    rule: _resources_pb2.SecurityGroupRule
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., rule: _Optional[_Union[_resources_pb2.SecurityGroupRule, _Mapping]] = ...) -> None: ...

class DeleteSecurityGroupRuleRequest(_message.Message):
    __slots__ = ("request_id", "security_group_id", "rule_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    security_group_id: str
    rule_id: str
    def __init__(self, request_id: _Optional[str] = ..., security_group_id: _Optional[str] = ..., rule_id: _Optional[str] = ...) -> None: ...

class CreateNodeRequest(_message.Message):
    __slots__ = ("request_id", "host_id", "name", "underlay_ip")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNDERLAY_IP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    host_id: str
    name: str
    underlay_ip: str
    def __init__(self, request_id: _Optional[str] = ..., host_id: _Optional[str] = ..., name: _Optional[str] = ..., underlay_ip: _Optional[str] = ...) -> None: ...

class UpdateNodeRequest(_message.Message):
    __slots__ = ("request_id", "node", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    node: _resources_pb2.Node
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., node: _Optional[_Union[_resources_pb2.Node, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class NodeResponse(_message.Message):
    __slots__ = ("header", "node")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    node: _resources_pb2.Node
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., node: _Optional[_Union[_resources_pb2.Node, _Mapping]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("page", "read")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    read: ReadOptions
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("header", "nodes", "next_page_token")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    nodes: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Node]
    next_page_token: str
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[_resources_pb2.Node, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("id", "read")
    ID_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    id: str
    read: ReadOptions
    def __init__(self, id: _Optional[str] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("request_id", "id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("header",)
    HEADER_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ...) -> None: ...

class WaitForHostsRequest(_message.Message):
    __slots__ = ("revision", "host_ids", "timeout_ms")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    HOST_IDS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    revision: int
    host_ids: _containers.RepeatedScalarFieldContainer[str]
    timeout_ms: int
    def __init__(self, revision: _Optional[int] = ..., host_ids: _Optional[_Iterable[str]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class HostProgress(_message.Message):
    __slots__ = ("host_id", "applied_revision", "connected")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    applied_revision: int
    connected: bool
    def __init__(self, host_id: _Optional[str] = ..., applied_revision: _Optional[int] = ..., connected: _Optional[bool] = ...) -> None: ...

class WaitForHostsResponse(_message.Message):
    __slots__ = ("header", "complete", "hosts")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    header: ResponseHeader
    complete: bool
    hosts: _containers.RepeatedCompositeFieldContainer[HostProgress]
    def __init__(self, header: _Optional[_Union[ResponseHeader, _Mapping]] = ..., complete: _Optional[bool] = ..., hosts: _Optional[_Iterable[_Union[HostProgress, _Mapping]]] = ...) -> None: ...
