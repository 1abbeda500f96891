from shared.contracts._generated.conduit.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AskRequest(_message.Message):
    __slots__ = ("text", "session_id", "history")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    text: str
    session_id: str
    history: _containers.RepeatedCompositeFieldContainer[_events_pb2.Turn]
    def __init__(self, text: _Optional[str] = ..., session_id: _Optional[str] = ..., history: _Optional[_Iterable[_Union[_events_pb2.Turn, _Mapping]]] = ...) -> None: ...

class AskEvent(_message.Message):
    __slots__ = ("chunk", "response")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    chunk: _events_pb2.StreamChunk
    response: _events_pb2.Response
    def __init__(self, chunk: _Optional[_Union[_events_pb2.StreamChunk, _Mapping]] = ..., response: _Optional[_Union[_events_pb2.Response, _Mapping]] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("approval_id", "decision", "comment")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    decision: str
    comment: str
    def __init__(self, approval_id: _Optional[str] = ..., decision: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class DecideReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...
