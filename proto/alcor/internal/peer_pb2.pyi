from alcor.internal import raft_pb2 as _raft_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SnapshotChunk(_message.Message):
    __slots__ = ("message", "data")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    message: _raft_pb2.Message
    data: bytes
    def __init__(self, message: _Optional[_Union[_raft_pb2.Message, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PeerAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MemberAddress(_message.Message):
    __slots__ = ("peer", "api")
    PEER_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    peer: str
    api: str
    def __init__(self, peer: _Optional[str] = ..., api: _Optional[str] = ...) -> None: ...

class NodeSnapshot(_message.Message):
    __slots__ = ("members", "app", "removed_at")
    class MembersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: MemberAddress
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[MemberAddress, _Mapping]] = ...) -> None: ...
    class RemovedAtEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AT_FIELD_NUMBER: _ClassVar[int]
    members: _containers.MessageMap[str, MemberAddress]
    app: bytes
    removed_at: _containers.ScalarMap[str, int]
    def __init__(self, members: _Optional[_Mapping[str, MemberAddress]] = ..., app: _Optional[bytes] = ..., removed_at: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ProposeRequest(_message.Message):
    __slots__ = ("proposals",)
    PROPOSALS_FIELD_NUMBER: _ClassVar[int]
    proposals: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, proposals: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ProposeOutcome(_message.Message):
    __slots__ = ("result", "code", "detail")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    result: bytes
    code: int
    detail: str
    def __init__(self, result: _Optional[bytes] = ..., code: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class ProposeResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[ProposeOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[ProposeOutcome, _Mapping]]] = ...) -> None: ...
