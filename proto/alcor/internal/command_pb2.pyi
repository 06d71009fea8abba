from alcor.v1 import resources_pb2 as _resources_pb2
from alcor.v1 import network_pb2 as _network_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnvelopeVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENVELOPE_VERSION_UNSPECIFIED: _ClassVar[EnvelopeVersion]
    ENVELOPE_VERSION_1: _ClassVar[EnvelopeVersion]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_OK: _ClassVar[ErrorCode]
    ERROR_CODE_INVALID_ARGUMENT: _ClassVar[ErrorCode]
    ERROR_CODE_NOT_FOUND: _ClassVar[ErrorCode]
    ERROR_CODE_ALREADY_EXISTS: _ClassVar[ErrorCode]
    ERROR_CODE_PERMISSION_DENIED: _ClassVar[ErrorCode]
    ERROR_CODE_RESOURCE_EXHAUSTED: _ClassVar[ErrorCode]
    ERROR_CODE_FAILED_PRECONDITION: _ClassVar[ErrorCode]
    ERROR_CODE_OUT_OF_RANGE: _ClassVar[ErrorCode]
ENVELOPE_VERSION_UNSPECIFIED: EnvelopeVersion
ENVELOPE_VERSION_1: EnvelopeVersion
ERROR_CODE_OK: ErrorCode
ERROR_CODE_INVALID_ARGUMENT: ErrorCode
ERROR_CODE_NOT_FOUND: ErrorCode
ERROR_CODE_ALREADY_EXISTS: ErrorCode
ERROR_CODE_PERMISSION_DENIED: ErrorCode
ERROR_CODE_RESOURCE_EXHAUSTED: ErrorCode
ERROR_CODE_FAILED_PRECONDITION: ErrorCode
ERROR_CODE_OUT_OF_RANGE: ErrorCode

class Caller(_message.Message):
    __slots__ = ("project_id", "admin")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    admin: bool
    def __init__(self, project_id: _Optional[str] = ..., admin: _Optional[bool] = ...) -> None: ...

class PortStatusUpdate(_message.Message):
    __slots__ = ("port_id", "status", "status_detail", "host_id", "port_revision")
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_DETAIL_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_REVISION_FIELD_NUMBER: _ClassVar[int]
    port_id: str
    status: _resources_pb2.PortStatus
    status_detail: str
    host_id: str
    port_revision: int
    def __init__(self, port_id: _Optional[str] = ..., status: _Optional[_Union[_resources_pb2.PortStatus, str]] = ..., status_detail: _Optional[str] = ..., host_id: _Optional[str] = ..., port_revision: _Optional[int] = ...) -> None: ...

class UpdatePortStatuses(_message.Message):
    __slots__ = ("updates",)
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[PortStatusUpdate]
    def __init__(self, updates: _Optional[_Iterable[_Union[PortStatusUpdate, _Mapping]]] = ...) -> None: ...

class RegisterNode(_message.Message):
    __slots__ = ("host_id", "underlay_ip", "agent_version", "last_seen_unix_ms")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    UNDERLAY_IP_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    underlay_ip: str
    agent_version: str
    last_seen_unix_ms: int
    def __init__(self, host_id: _Optional[str] = ..., underlay_ip: _Optional[str] = ..., agent_version: _Optional[str] = ..., last_seen_unix_ms: _Optional[int] = ...) -> None: ...

class Compact(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("version", "request_id", "caller", "create_vpc", "update_vpc", "delete_vpc", "create_subnet", "update_subnet", "delete_subnet", "create_port", "create_ports", "update_port", "delete_port", "create_security_group", "update_security_group", "delete_security_group", "create_security_group_rule", "delete_security_group_rule", "create_node", "update_node", "delete_node", "update_port_statuses", "register_node", "compact")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CREATE_VPC_FIELD_NUMBER: _ClassVar[int]
    UPDATE_VPC_FIELD_NUMBER: _ClassVar[int]
    DELETE_VPC_FIELD_NUMBER: _ClassVar[int]
    CREATE_SUBNET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_SUBNET_FIELD_NUMBER: _ClassVar[int]
    DELETE_SUBNET_FIELD_NUMBER: _ClassVar[int]
    CREATE_PORT_FIELD_NUMBER: _ClassVar[int]
    CREATE_PORTS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PORT_FIELD_NUMBER: _ClassVar[int]
    DELETE_PORT_FIELD_NUMBER: _ClassVar[int]
    CREATE_SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    UPDATE_SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    DELETE_SECURITY_GROUP_FIELD_NUMBER: _ClassVar[int]
    CREATE_SECURITY_GROUP_RULE_FIELD_NUMBER: _ClassVar[int]
    DELETE_SECURITY_GROUP_RULE_FIELD_NUMBER: _ClassVar[int]
    CREATE_NODE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_NODE_FIELD_NUMBER: _ClassVar[int]
    DELETE_NODE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PORT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    REGISTER_NODE_FIELD_NUMBER: _ClassVar[int]
    COMPACT_FIELD_NUMBER: _ClassVar[int]
    version: EnvelopeVersion
    request_id: str
    caller: Caller
    create_vpc: _network_pb2.CreateVpcRequest
    update_vpc: _network_pb2.UpdateVpcRequest
    delete_vpc: _network_pb2.DeleteRequest
    create_subnet: _network_pb2.CreateSubnetRequest
    update_subnet: _network_pb2.UpdateSubnetRequest
    delete_subnet: _network_pb2.DeleteRequest
    create_port: _network_pb2.CreatePortRequest
    create_ports: _network_pb2.CreatePortsRequest
    update_port: _network_pb2.UpdatePortRequest
    delete_port: _network_pb2.DeleteRequest
    create_security_group: _network_pb2.CreateSecurityGroupRequest
    update_security_group: _network_pb2.UpdateSecurityGroupRequest
    delete_security_group: _network_pb2.DeleteRequest
    create_security_group_rule: _network_pb2.CreateSecurityGroupRuleRequest
    delete_security_group_rule: _network_pb2.DeleteSecurityGroupRuleRequest
    create_node: _network_pb2.CreateNodeRequest
    update_node: _network_pb2.UpdateNodeRequest
    delete_node: _network_pb2.DeleteRequest
    update_port_statuses: UpdatePortStatuses
    register_node: RegisterNode
    compact: Compact
    def __init__(self, version: _Optional[_Union[EnvelopeVersion, str]] = ..., request_id: _Optional[str] = ..., caller: _Optional[_Union[Caller, _Mapping]] = ..., create_vpc: _Optional[_Union[_network_pb2.CreateVpcRequest, _Mapping]] = ..., update_vpc: _Optional[_Union[_network_pb2.UpdateVpcRequest, _Mapping]] = ..., delete_vpc: _Optional[_Union[_network_pb2.DeleteRequest, _Mapping]] = ..., create_subnet: _Optional[_Union[_network_pb2.CreateSubnetRequest, _Mapping]] = ..., update_subnet: _Optional[_Union[_network_pb2.UpdateSubnetRequest, _Mapping]] = ..., delete_subnet: _Optional[_Union[_network_pb2.DeleteRequest, _Mapping]] = ..., create_port: _Optional[_Union[_network_pb2.CreatePortRequest, _Mapping]] = ..., create_ports: _Optional[_Union[_network_pb2.CreatePortsRequest, _Mapping]] = ..., update_port: _Optional[_Union[_network_pb2.UpdatePortRequest, _Mapping]] = ..., delete_port: _Optional[_Union[_network_pb2.DeleteRequest, _Mapping]] = ..., create_security_group: _Optional[_Union[_network_pb2.CreateSecurityGroupRequest, _Mapping]] = ..., update_security_group: _Optional[_Union[_network_pb2.UpdateSecurityGroupRequest, _Mapping]] = ..., delete_security_group: _Optional[_Union[_network_pb2.DeleteRequest, _Mapping]] = ..., create_security_group_rule: _Optional[_Union[_network_pb2.CreateSecurityGroupRuleRequest, _Mapping]] = ..., delete_security_group_rule: _Optional[_Union[_network_pb2.DeleteSecurityGroupRuleRequest, _Mapping]] = ..., create_node: _Optional[_Union[_network_pb2.CreateNodeRequest, _Mapping]] = ..., update_node: _Optional[_Union[_network_pb2.UpdateNodeRequest, _Mapping]] = ..., delete_node: _Optional[_Union[_network_pb2.DeleteRequest, _Mapping]] = ..., update_port_statuses: _Optional[_Union[UpdatePortStatuses, _Mapping]] = ..., register_node: _Optional[_Union[RegisterNode, _Mapping]] = ..., compact: _Optional[_Union[Compact, _Mapping]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "reason", "field_violations", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    reason: str
    field_violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., field_violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Resource]
    def __init__(self, items: _Optional[_Iterable[_Union[_resources_pb2.Resource, _Mapping]]] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("revision", "error", "resource", "resources", "rule", "done")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    revision: int
    error: Error
    resource: _resources_pb2.Resource
    resources: Resources
    rule: _resources_pb2.SecurityGroupRule
    done: bool
    def __init__(self, revision: _Optional[int] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., resource: _Optional[_Union[_resources_pb2.Resource, _Mapping]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., rule: _Optional[_Union[_resources_pb2.SecurityGroupRule, _Mapping]] = ..., done: _Optional[bool] = ...) -> None: ...
