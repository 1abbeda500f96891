from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_PASS: _ClassVar[Verdict]
    VERDICT_REJECT: _ClassVar[Verdict]
    VERDICT_HANDOFF: _ClassVar[Verdict]
    VERDICT_REGENERATE: _ClassVar[Verdict]

class ApprovalOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_OUTCOME_UNSPECIFIED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_APPROVED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_REJECTED: _ClassVar[ApprovalOutcome]
    APPROVAL_OUTCOME_EXPIRED: _ClassVar[ApprovalOutcome]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    ERROR_CODE_MALFORMED_EVENT: _ClassVar[ErrorCode]
    ERROR_CODE_UNKNOWN_WORKFLOW: _ClassVar[ErrorCode]
    ERROR_CODE_UNKNOWN_TOOL: _ClassVar[ErrorCode]
    ERROR_CODE_INVALID_ARGUMENTS: _ClassVar[ErrorCode]
    ERROR_CODE_DEADLINE_EXCEEDED: _ClassVar[ErrorCode]
    ERROR_CODE_MAX_STEPS_EXCEEDED: _ClassVar[ErrorCode]
    ERROR_CODE_BUDGET_EXHAUSTED: _ClassVar[ErrorCode]
    ERROR_CODE_INPUT_TOO_LARGE: _ClassVar[ErrorCode]
    ERROR_CODE_INPUT_REJECTED: _ClassVar[ErrorCode]
    ERROR_CODE_TOOL_NOT_ALLOWED: _ClassVar[ErrorCode]
    ERROR_CODE_INTERNAL: _ClassVar[ErrorCode]
    ERROR_CODE_MODEL_OUTPUT_INVALID: _ClassVar[ErrorCode]
    ERROR_CODE_UNKNOWN_TENANT: _ClassVar[ErrorCode]
    ERROR_CODE_DEPENDENCY_UNAVAILABLE: _ClassVar[ErrorCode]
    ERROR_CODE_FORBIDDEN: _ClassVar[ErrorCode]
VERDICT_UNSPECIFIED: Verdict
VERDICT_PASS: Verdict
VERDICT_REJECT: Verdict
VERDICT_HANDOFF: Verdict
VERDICT_REGENERATE: Verdict
APPROVAL_OUTCOME_UNSPECIFIED: ApprovalOutcome
APPROVAL_OUTCOME_APPROVED: ApprovalOutcome
APPROVAL_OUTCOME_REJECTED: ApprovalOutcome
APPROVAL_OUTCOME_EXPIRED: ApprovalOutcome
ERROR_CODE_UNSPECIFIED: ErrorCode
ERROR_CODE_MALFORMED_EVENT: ErrorCode
ERROR_CODE_UNKNOWN_WORKFLOW: ErrorCode
ERROR_CODE_UNKNOWN_TOOL: ErrorCode
ERROR_CODE_INVALID_ARGUMENTS: ErrorCode
ERROR_CODE_DEADLINE_EXCEEDED: ErrorCode
ERROR_CODE_MAX_STEPS_EXCEEDED: ErrorCode
ERROR_CODE_BUDGET_EXHAUSTED: ErrorCode
ERROR_CODE_INPUT_TOO_LARGE: ErrorCode
ERROR_CODE_INPUT_REJECTED: ErrorCode
ERROR_CODE_TOOL_NOT_ALLOWED: ErrorCode
ERROR_CODE_INTERNAL: ErrorCode
ERROR_CODE_MODEL_OUTPUT_INVALID: ErrorCode
ERROR_CODE_UNKNOWN_TENANT: ErrorCode
ERROR_CODE_DEPENDENCY_UNAVAILABLE: ErrorCode
ERROR_CODE_FORBIDDEN: ErrorCode

class Principal(_message.Message):
    __slots__ = ("user_id", "roles", "signature")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    signature: str
    def __init__(self, user_id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., signature: _Optional[str] = ...) -> None: ...

class WorkflowPosition(_message.Message):
    __slots__ = ("name", "version", "step", "steps_taken", "content_hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STEPS_TAKEN_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    step: str
    steps_taken: int
    content_hash: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., step: _Optional[str] = ..., steps_taken: _Optional[int] = ..., content_hash: _Optional[str] = ...) -> None: ...

class RunVersions(_message.Message):
    __slots__ = ("prompt_template", "prompt_version", "prompt_label", "model")
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROMPT_LABEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    prompt_template: str
    prompt_version: str
    prompt_label: str
    model: str
    def __init__(self, prompt_template: _Optional[str] = ..., prompt_version: _Optional[str] = ..., prompt_label: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("max_tokens", "max_cost_usd", "tokens_used", "cost_used_usd")
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_USD_FIELD_NUMBER: _ClassVar[int]
    TOKENS_USED_FIELD_NUMBER: _ClassVar[int]
    COST_USED_USD_FIELD_NUMBER: _ClassVar[int]
    max_tokens: int
    max_cost_usd: float
    tokens_used: int
    cost_used_usd: float
    def __init__(self, max_tokens: _Optional[int] = ..., max_cost_usd: _Optional[float] = ..., tokens_used: _Optional[int] = ..., cost_used_usd: _Optional[float] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("schema_version", "event_id", "request_id", "session_id", "tenant_id", "causation_id", "principal", "workflow", "deadline_unix_ms", "budget", "created_unix_ms", "versions")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    event_id: str
    request_id: str
    session_id: str
    tenant_id: str
    causation_id: str
    principal: Principal
    workflow: WorkflowPosition
    deadline_unix_ms: int
    budget: Budget
    created_unix_ms: int
    versions: RunVersions
    def __init__(self, schema_version: _Optional[int] = ..., event_id: _Optional[str] = ..., request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., principal: _Optional[_Union[Principal, _Mapping]] = ..., workflow: _Optional[_Union[WorkflowPosition, _Mapping]] = ..., deadline_unix_ms: _Optional[int] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., created_unix_ms: _Optional[int] = ..., versions: _Optional[_Union[RunVersions, _Mapping]] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class UserRequest(_message.Message):
    __slots__ = ("text", "history", "channel", "redacted_at_edge", "history_from_caller", "sealed_values")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REDACTED_AT_EDGE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FROM_CALLER_FIELD_NUMBER: _ClassVar[int]
    SEALED_VALUES_FIELD_NUMBER: _ClassVar[int]
    text: str
    history: _containers.RepeatedCompositeFieldContainer[Turn]
    channel: str
    redacted_at_edge: _containers.RepeatedCompositeFieldContainer[Redaction]
    history_from_caller: bool
    sealed_values: _containers.RepeatedCompositeFieldContainer[SealedValue]
    def __init__(self, text: _Optional[str] = ..., history: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., channel: _Optional[str] = ..., redacted_at_edge: _Optional[_Iterable[_Union[Redaction, _Mapping]]] = ..., history_from_caller: _Optional[bool] = ..., sealed_values: _Optional[_Iterable[_Union[SealedValue, _Mapping]]] = ...) -> None: ...

class SealedValue(_message.Message):
    __slots__ = ("token", "kind", "sealed")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    token: str
    kind: str
    sealed: bytes
    def __init__(self, token: _Optional[str] = ..., kind: _Optional[str] = ..., sealed: _Optional[bytes] = ...) -> None: ...

class Redaction(_message.Message):
    __slots__ = ("kind", "count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    count: int
    def __init__(self, kind: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GuardrailReport(_message.Message):
    __slots__ = ("stage", "verdict", "redactions", "findings", "regenerations", "answered_by")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REDACTIONS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    REGENERATIONS_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    stage: str
    verdict: Verdict
    redactions: _containers.RepeatedCompositeFieldContainer[Redaction]
    findings: _containers.RepeatedScalarFieldContainer[str]
    regenerations: int
    answered_by: str
    def __init__(self, stage: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., redactions: _Optional[_Iterable[_Union[Redaction, _Mapping]]] = ..., findings: _Optional[_Iterable[str]] = ..., regenerations: _Optional[int] = ..., answered_by: _Optional[str] = ...) -> None: ...

class Entity(_message.Message):
    __slots__ = ("kind", "value", "remembered")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REMEMBERED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    value: str
    remembered: bool
    def __init__(self, kind: _Optional[str] = ..., value: _Optional[str] = ..., remembered: _Optional[bool] = ...) -> None: ...

class IntentScore(_message.Message):
    __slots__ = ("intent", "score")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    intent: str
    score: float
    def __init__(self, intent: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class IntentResult(_message.Message):
    __slots__ = ("intent", "confidence", "fallback", "scores", "entities", "preferences", "unsure", "reason", "sentiment", "urgency", "priority")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    UNSURE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    intent: str
    confidence: float
    fallback: bool
    scores: _containers.RepeatedCompositeFieldContainer[IntentScore]
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    preferences: _containers.RepeatedCompositeFieldContainer[Entity]
    unsure: bool
    reason: str
    sentiment: float
    urgency: float
    priority: str
    def __init__(self, intent: _Optional[str] = ..., confidence: _Optional[float] = ..., fallback: _Optional[bool] = ..., scores: _Optional[_Iterable[_Union[IntentScore, _Mapping]]] = ..., entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., preferences: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., unsure: _Optional[bool] = ..., reason: _Optional[str] = ..., sentiment: _Optional[float] = ..., urgency: _Optional[float] = ..., priority: _Optional[str] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("source_id", "document_id", "text", "score", "title", "heading", "version")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    HEADING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    document_id: str
    text: str
    score: float
    title: str
    heading: str
    version: str
    def __init__(self, source_id: _Optional[str] = ..., document_id: _Optional[str] = ..., text: _Optional[str] = ..., score: _Optional[float] = ..., title: _Optional[str] = ..., heading: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class RetrievalResult(_message.Message):
    __slots__ = ("query", "chunks", "store", "mode", "answer_passage", "answer_source", "second_passage", "second_source")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_PASSAGE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SECOND_PASSAGE_FIELD_NUMBER: _ClassVar[int]
    SECOND_SOURCE_FIELD_NUMBER: _ClassVar[int]
    query: str
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    store: str
    mode: str
    answer_passage: str
    answer_source: str
    second_passage: str
    second_source: str
    def __init__(self, query: _Optional[str] = ..., chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ..., store: _Optional[str] = ..., mode: _Optional[str] = ..., answer_passage: _Optional[str] = ..., answer_source: _Optional[str] = ..., second_passage: _Optional[str] = ..., second_source: _Optional[str] = ...) -> None: ...

class PromptMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class PromptResult(_message.Message):
    __slots__ = ("template", "template_version", "messages", "token_count", "output_schema_json", "dropped_turns", "template_label", "answer_slots", "fallback_answer", "fallback_sources", "must_state")
    class AnswerSlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    DROPPED_TURNS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_LABEL_FIELD_NUMBER: _ClassVar[int]
    ANSWER_SLOTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_ANSWER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_SOURCES_FIELD_NUMBER: _ClassVar[int]
    MUST_STATE_FIELD_NUMBER: _ClassVar[int]
    template: str
    template_version: str
    messages: _containers.RepeatedCompositeFieldContainer[PromptMessage]
    token_count: int
    output_schema_json: str
    dropped_turns: int
    template_label: str
    answer_slots: _containers.ScalarMap[str, str]
    fallback_answer: str
    fallback_sources: _containers.RepeatedScalarFieldContainer[str]
    must_state: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, template: _Optional[str] = ..., template_version: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[PromptMessage, _Mapping]]] = ..., token_count: _Optional[int] = ..., output_schema_json: _Optional[str] = ..., dropped_turns: _Optional[int] = ..., template_label: _Optional[str] = ..., answer_slots: _Optional[_Mapping[str, str]] = ..., fallback_answer: _Optional[str] = ..., fallback_sources: _Optional[_Iterable[str]] = ..., must_state: _Optional[_Iterable[str]] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("call_id", "tool", "arguments_json")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    tool: str
    arguments_json: str
    def __init__(self, call_id: _Optional[str] = ..., tool: _Optional[str] = ..., arguments_json: _Optional[str] = ...) -> None: ...

class ModelOutput(_message.Message):
    __slots__ = ("model", "text", "tool_calls", "sources", "finish_reason", "input_tokens", "output_tokens", "cost_usd", "route", "models_tried", "cached", "delegate_to")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    MODELS_TRIED_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    DELEGATE_TO_FIELD_NUMBER: _ClassVar[int]
    model: str
    text: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    sources: _containers.RepeatedScalarFieldContainer[str]
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    route: str
    models_tried: _containers.RepeatedScalarFieldContainer[str]
    cached: bool
    delegate_to: str
    def __init__(self, model: _Optional[str] = ..., text: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., sources: _Optional[_Iterable[str]] = ..., finish_reason: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., route: _Optional[str] = ..., models_tried: _Optional[_Iterable[str]] = ..., cached: _Optional[bool] = ..., delegate_to: _Optional[str] = ...) -> None: ...

class ToolError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ToolExchange(_message.Message):
    __slots__ = ("call", "ok", "result_json", "error", "idempotency_key", "replayed", "at_step")
    CALL_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    AT_STEP_FIELD_NUMBER: _ClassVar[int]
    call: ToolCall
    ok: bool
    result_json: str
    error: ToolError
    idempotency_key: str
    replayed: bool
    at_step: int
    def __init__(self, call: _Optional[_Union[ToolCall, _Mapping]] = ..., ok: _Optional[bool] = ..., result_json: _Optional[str] = ..., error: _Optional[_Union[ToolError, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., replayed: _Optional[bool] = ..., at_step: _Optional[int] = ...) -> None: ...

class StepRecord(_message.Message):
    __slots__ = ("service", "step", "started_unix_us", "duration_us", "tokens", "outcome")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_US_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    service: str
    step: str
    started_unix_us: int
    duration_us: int
    tokens: int
    outcome: str
    def __init__(self, service: _Optional[str] = ..., step: _Optional[str] = ..., started_unix_us: _Optional[int] = ..., duration_us: _Optional[int] = ..., tokens: _Optional[int] = ..., outcome: _Optional[str] = ...) -> None: ...

class StepEvent(_message.Message):
    __slots__ = ("envelope", "request", "input_guard", "intent", "retrieval", "prompt", "model_output", "tool_exchanges", "output_guard", "steps", "delegations", "approvals")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    INPUT_GUARD_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TOOL_EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_GUARD_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    DELEGATIONS_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    envelope: Envelope
    request: UserRequest
    input_guard: GuardrailReport
    intent: IntentResult
    retrieval: RetrievalResult
    prompt: PromptResult
    model_output: ModelOutput
    tool_exchanges: _containers.RepeatedCompositeFieldContainer[ToolExchange]
    output_guard: GuardrailReport
    steps: _containers.RepeatedCompositeFieldContainer[StepRecord]
    delegations: _containers.RepeatedScalarFieldContainer[str]
    approvals: _containers.RepeatedCompositeFieldContainer[ApprovalDecision]
    def __init__(self, envelope: _Optional[_Union[Envelope, _Mapping]] = ..., request: _Optional[_Union[UserRequest, _Mapping]] = ..., input_guard: _Optional[_Union[GuardrailReport, _Mapping]] = ..., intent: _Optional[_Union[IntentResult, _Mapping]] = ..., retrieval: _Optional[_Union[RetrievalResult, _Mapping]] = ..., prompt: _Optional[_Union[PromptResult, _Mapping]] = ..., model_output: _Optional[_Union[ModelOutput, _Mapping]] = ..., tool_exchanges: _Optional[_Iterable[_Union[ToolExchange, _Mapping]]] = ..., output_guard: _Optional[_Union[GuardrailReport, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[StepRecord, _Mapping]]] = ..., delegations: _Optional[_Iterable[str]] = ..., approvals: _Optional[_Iterable[_Union[ApprovalDecision, _Mapping]]] = ...) -> None: ...

class ApprovalRequest(_message.Message):
    __slots__ = ("approval_id", "tool", "arguments_json", "requested_at_unix_ms", "expires_at_unix_ms", "approver_roles", "tenant_id", "request_id", "session_id")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    APPROVER_ROLES_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    tool: str
    arguments_json: str
    requested_at_unix_ms: int
    expires_at_unix_ms: int
    approver_roles: _containers.RepeatedScalarFieldContainer[str]
    tenant_id: str
    request_id: str
    session_id: str
    def __init__(self, approval_id: _Optional[str] = ..., tool: _Optional[str] = ..., arguments_json: _Optional[str] = ..., requested_at_unix_ms: _Optional[int] = ..., expires_at_unix_ms: _Optional[int] = ..., approver_roles: _Optional[_Iterable[str]] = ..., tenant_id: _Optional[str] = ..., request_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class ApprovalDecision(_message.Message):
    __slots__ = ("approval_id", "outcome", "approver", "at_unix_ms", "comment")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    outcome: ApprovalOutcome
    approver: Principal
    at_unix_ms: int
    comment: str
    def __init__(self, approval_id: _Optional[str] = ..., outcome: _Optional[_Union[ApprovalOutcome, str]] = ..., approver: _Optional[_Union[Principal, _Mapping]] = ..., at_unix_ms: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class ParkedRequest(_message.Message):
    __slots__ = ("approval", "event")
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    approval: ApprovalRequest
    event: StepEvent
    def __init__(self, approval: _Optional[_Union[ApprovalRequest, _Mapping]] = ..., event: _Optional[_Union[StepEvent, _Mapping]] = ...) -> None: ...

class DecisionEvent(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: ApprovalDecision
    def __init__(self, decision: _Optional[_Union[ApprovalDecision, _Mapping]] = ...) -> None: ...

class HandoffTicket(_message.Message):
    __slots__ = ("response", "conversation")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    response: Response
    conversation: StepEvent
    def __init__(self, response: _Optional[_Union[Response, _Mapping]] = ..., conversation: _Optional[_Union[StepEvent, _Mapping]] = ...) -> None: ...

class Pending(_message.Message):
    __slots__ = ("approval_id", "tool", "expires_at_unix_ms", "message")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    tool: str
    expires_at_unix_ms: int
    message: str
    def __init__(self, approval_id: _Optional[str] = ..., tool: _Optional[str] = ..., expires_at_unix_ms: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "service", "step")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    service: str
    step: str
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., service: _Optional[str] = ..., step: _Optional[str] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("text", "sources", "produced_by")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_BY_FIELD_NUMBER: _ClassVar[int]
    text: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    produced_by: str
    def __init__(self, text: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., produced_by: _Optional[str] = ...) -> None: ...

class Handoff(_message.Message):
    __slots__ = ("reason", "queue", "message", "priority", "sentiment", "urgency")
    REASON_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    reason: str
    queue: str
    message: str
    priority: str
    sentiment: float
    urgency: float
    def __init__(self, reason: _Optional[str] = ..., queue: _Optional[str] = ..., message: _Optional[str] = ..., priority: _Optional[str] = ..., sentiment: _Optional[float] = ..., urgency: _Optional[float] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("envelope", "answer", "error", "handoff", "pending", "intent", "tool_exchanges", "steps")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    envelope: Envelope
    answer: Answer
    error: Error
    handoff: Handoff
    pending: Pending
    intent: str
    tool_exchanges: _containers.RepeatedCompositeFieldContainer[ToolExchange]
    steps: _containers.RepeatedCompositeFieldContainer[StepRecord]
    def __init__(self, envelope: _Optional[_Union[Envelope, _Mapping]] = ..., answer: _Optional[_Union[Answer, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., handoff: _Optional[_Union[Handoff, _Mapping]] = ..., pending: _Optional[_Union[Pending, _Mapping]] = ..., intent: _Optional[str] = ..., tool_exchanges: _Optional[_Iterable[_Union[ToolExchange, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[StepRecord, _Mapping]]] = ...) -> None: ...

class DocumentEvent(_message.Message):
    __slots__ = ("tenant_id", "document_id", "title", "text", "content_type", "version", "deleted", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    document_id: str
    title: str
    text: str
    content_type: str
    version: str
    deleted: bool
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, tenant_id: _Optional[str] = ..., document_id: _Optional[str] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., content_type: _Optional[str] = ..., version: _Optional[str] = ..., deleted: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamChunk(_message.Message):
    __slots__ = ("request_id", "session_id", "step", "generation_id", "seq", "text", "model")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_id: str
    step: str
    generation_id: str
    seq: int
    text: str
    model: str
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., step: _Optional[str] = ..., generation_id: _Optional[str] = ..., seq: _Optional[int] = ..., text: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class DraftChunk(_message.Message):
    __slots__ = ("chunk", "context", "last", "finish_reason")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    chunk: StreamChunk
    context: StepEvent
    last: bool
    finish_reason: str
    def __init__(self, chunk: _Optional[_Union[StreamChunk, _Mapping]] = ..., context: _Optional[_Union[StepEvent, _Mapping]] = ..., last: _Optional[bool] = ..., finish_reason: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("audit_id", "at_unix_ms", "request_id", "session_id", "tenant_id", "principal", "service", "step", "kind", "subject", "outcome", "detail", "idempotency_key")
    AUDIT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    audit_id: str
    at_unix_ms: int
    request_id: str
    session_id: str
    tenant_id: str
    principal: Principal
    service: str
    step: str
    kind: str
    subject: str
    outcome: str
    detail: str
    idempotency_key: str
    def __init__(self, audit_id: _Optional[str] = ..., at_unix_ms: _Optional[int] = ..., request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., principal: _Optional[_Union[Principal, _Mapping]] = ..., service: _Optional[str] = ..., step: _Optional[str] = ..., kind: _Optional[str] = ..., subject: _Optional[str] = ..., outcome: _Optional[str] = ..., detail: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...
