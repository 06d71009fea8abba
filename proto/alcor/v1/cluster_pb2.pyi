from alcor.v1 import network_pb2 as _network_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_ROLE_UNSPECIFIED: _ClassVar[MemberRole]
    MEMBER_ROLE_VOTER: _ClassVar[MemberRole]
    MEMBER_ROLE_LEARNER: _ClassVar[MemberRole]
MEMBER_ROLE_UNSPECIFIED: MemberRole
MEMBER_ROLE_VOTER: MemberRole
MEMBER_ROLE_LEARNER: MemberRole

class Member(_message.Message):
    __slots__ = ("id", "peer_address", "api_address", "role", "is_leader", "match_index")
    ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    API_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    IS_LEADER_FIELD_NUMBER: _ClassVar[int]
    MATCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    id: str
    peer_address: str
    api_address: str
    role: MemberRole
    is_leader: bool
    match_index: int
    def __init__(self, id: _Optional[str] = ..., peer_address: _Optional[str] = ..., api_address: _Optional[str] = ..., role: _Optional[_Union[MemberRole, str]] = ..., is_leader: _Optional[bool] = ..., match_index: _Optional[int] = ...) -> None: ...

class ClusterStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterStatusResponse(_message.Message):
    __slots__ = ("header", "member_id", "leader_id", "term", "commit_index", "applied_index", "members")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    header: _network_pb2.ResponseHeader
    member_id: str
    leader_id: str
    term: int
    commit_index: int
    applied_index: int
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, header: _Optional[_Union[_network_pb2.ResponseHeader, _Mapping]] = ..., member_id: _Optional[str] = ..., leader_id: _Optional[str] = ..., term: _Optional[int] = ..., commit_index: _Optional[int] = ..., applied_index: _Optional[int] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class AddMemberRequest(_message.Message):
    __slots__ = ("id", "peer_address", "api_address", "promote_when_caught_up")
    ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    API_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PROMOTE_WHEN_CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    id: str
    peer_address: str
    api_address: str
    promote_when_caught_up: bool
    def __init__(self, id: _Optional[str] = ..., peer_address: _Optional[str] = ..., api_address: _Optional[str] = ..., promote_when_caught_up: _Optional[bool] = ...) -> None: ...

class RemoveMemberRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class TransferLeaderRequest(_message.Message):
    __slots__ = ("target_id",)
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    target_id: str
    def __init__(self, target_id: _Optional[str] = ...) -> None: ...

class MembersResponse(_message.Message):
    __slots__ = ("header", "members", "leader_id")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    header: _network_pb2.ResponseHeader
    members: _containers.RepeatedCompositeFieldContainer[Member]
    leader_id: str
    def __init__(self, header: _Optional[_Union[_network_pb2.ResponseHeader, _Mapping]] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., leader_id: _Optional[str] = ...) -> None: ...
