from alcor.v1 import resources_pb2 as _resources_pb2
from alcor.v1 import network_pb2 as _network_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_CREATED: _ClassVar[EventType]
    EVENT_TYPE_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_DELETED: _ClassVar[EventType]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_CREATED: EventType
EVENT_TYPE_UPDATED: EventType
EVENT_TYPE_DELETED: EventType

class Event(_message.Message):
    __slots__ = ("type", "kind", "revision", "project_id", "resource")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    type: EventType
    kind: _resources_pb2.ResourceKind
    revision: int
    project_id: str
    resource: _resources_pb2.Resource
    def __init__(self, type: _Optional[_Union[EventType, str]] = ..., kind: _Optional[_Union[_resources_pb2.ResourceKind, str]] = ..., revision: _Optional[int] = ..., project_id: _Optional[str] = ..., resource: _Optional[_Union[_resources_pb2.Resource, _Mapping]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("kinds", "start_revision", "project_id", "progress_interval_ms")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    START_REVISION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[_resources_pb2.ResourceKind]
    start_revision: int
    project_id: str
    progress_interval_ms: int
    def __init__(self, kinds: _Optional[_Iterable[_Union[_resources_pb2.ResourceKind, str]]] = ..., start_revision: _Optional[int] = ..., project_id: _Optional[str] = ..., progress_interval_ms: _Optional[int] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("header", "events", "progress")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    header: _network_pb2.ResponseHeader
    events: _containers.RepeatedCompositeFieldContainer[Event]
    progress: bool
    def __init__(self, header: _Optional[_Union[_network_pb2.ResponseHeader, _Mapping]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., progress: _Optional[bool] = ...) -> None: ...
