from alcor.v1 import network_pb2 as _network_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AppliedRequest(_message.Message):
    __slots__ = ("host_ids",)
    HOST_IDS_FIELD_NUMBER: _ClassVar[int]
    host_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AppliedResponse(_message.Message):
    __slots__ = ("hosts",)
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[_network_pb2.HostProgress]
    def __init__(self, hosts: _Optional[_Iterable[_Union[_network_pb2.HostProgress, _Mapping]]] = ...) -> None: ...
