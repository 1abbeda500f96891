"""The tool catalog (`config/tools.yaml`): what each tool takes, who may call it, what gates it.

One declarative file serves both sides: the prompt-builder turns specs into JSON schemas
for the model, the tool-executor validates and runs calls with them.

    tools:
      issue_refund:
        description: Refund money on an invoice.
        handler: billing.issue_refund
        side_effect: true
        safe_to_retry: true
        roles: [customer]
        requires:
          - tool: check_refund_policy
            same: [invoice_id]
            result: {eligible: true}
        arguments:
          invoice_id: {type: string, description: ..., values_from: {entity: invoice_id}}
          amount:
            type: number
            description: ...
            exclusive_minimum: 0
            values_from: {result: {tool: check_refund_policy, field: refundable_amount}}

`kind` says how a tool is reached (`shared.tools.kinds`): `python` (a `handler`), `http`
(an `openapi` operation, its arguments read from the spec at load) or `mcp` (a tool of an
MCP server in `mcp_servers.yaml`, listed into the catalog; see `shared.tools.mcp`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    create_model,
    model_validator,
)

from shared.pii import PiiKind
from shared.pii.tokens import Token
from shared.runtime.errors import UnknownTool
from shared.tools.kinds import (
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_TIMEOUT_S,
    HttpAuth,
    HttpOperation,
    McpRef,
    OpenApiRef,
    ToolKind,
)

TOOLS_FILE = "tools.yaml"

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
ArgumentType = Literal["string", "number", "integer", "boolean"]
JsonScalar = bool | int | float | str

_PYTHON_TYPES: dict[str, type] = {"string": str, "number": float, "integer": int, "boolean": bool}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResultField(_Strict):
    """A field of an earlier successful call's JSON result."""

    tool: Identifier
    field: Identifier


class ValuesFrom(_Strict):
    """Where an argument's allowed values come from: exactly one of `entity` or `result`."""

    entity: Identifier | None = None
    result: ResultField | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ValuesFrom:
        if (self.entity is None) == (self.result is None):
            raise ValueError("give exactly one of `entity` or `result`")
        return self


class ArgumentSpec(_Strict):
    """One argument of a tool. Example:

    >>> ArgumentSpec(type="integer", description="quantity", minimum=1).coerce("3")
    3
    """

    type: ArgumentType
    description: str
    pattern: str | None = None
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    required: bool = True
    values_from: ValuesFrom | None = None
    # Personal data of this kind: it travels as a vault token ([EMAIL#…]) and the
    # tool-executor's vault hands the handler the real value (shared.pii.tokens).
    pii: PiiKind | None = None

    _lax: TypeAdapter[Any] = PrivateAttr()

    @model_validator(mode="after")
    def _constraints_fit_type(self) -> ArgumentSpec:
        if self.pattern is not None and self.type != "string":
            raise ValueError("`pattern` applies to string arguments only")
        if self.pii is not None and (self.type != "string" or self.pattern is not None):
            raise ValueError(
                "a `pii` argument is a string and takes no `pattern`: on the bus it is a "
                "vault token, whose pattern is fixed"
            )
        bounds = (self.minimum, self.exclusive_minimum, self.maximum)
        if any(b is not None for b in bounds) and self.type not in ("number", "integer"):
            raise ValueError("`minimum`, `exclusive_minimum` and `maximum` apply to numbers only")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._lax = TypeAdapter(self.annotation())

    def annotation(self) -> Any:
        """The Python type of the argument, with its constraints."""
        base = _PYTHON_TYPES[self.type]
        value_type = Annotated[
            base,  # type: ignore[valid-type]  # chosen at run time from `type`
            Field(
                description=self.description,
                pattern=self._bus_pattern(),
                ge=self.minimum,
                gt=self.exclusive_minimum,
                le=self.maximum,
            ),
        ]
        return value_type if self.required else value_type | None

    def _bus_pattern(self) -> str | None:
        return Token.pattern(self.pii) if self.pii is not None else self.pattern

    def coerce(self, value: Any) -> Any:
        """`value` as this argument's type (leniently: entity values arrive as text).

        Raises `ValueError` (a pydantic `ValidationError`) when it cannot be one.
        """
        return self._lax.validate_python(value)

    def json_schema(self, allowed: Sequence[Any] | None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        optional = {
            "pattern": self._bus_pattern(),
            "minimum": self.minimum,
            "exclusiveMinimum": self.exclusive_minimum,
            "maximum": self.maximum,
        }
        schema.update({key: value for key, value in optional.items() if value is not None})
        if allowed is not None:
            schema["enum"] = list(allowed)
        return schema


class Requirement(_Strict):
    """An earlier successful call this request must have made before the tool may run."""

    tool: Identifier
    same: list[Identifier] = Field(default_factory=list)
    result: dict[str, JsonScalar] = Field(default_factory=dict)


class ApprovalPolicy(_Strict):
    """A person must approve each call before it runs. Example:
    `approval: {approver_roles: [supervisor], expires_after_s: 3600}`."""

    approver_roles: list[Identifier] = Field(min_length=1)
    expires_after_s: float = Field(default=3600.0, gt=0)


class ActionClaim(_Strict):
    """What a completed call of a side-effect tool lets an answer say happened: the action's
    name and the words (lemmas, verbs or nouns) an answer uses for it. Example:
    `claims: {action: refund, words: [refund, reimburse, credit, repay]}`."""

    action: Identifier
    words: list[Annotated[str, StringConstraints(pattern=r"^[a-z]+$")]] = Field(min_length=1)


class ToolSpec(_Strict):
    """One tool. Example: `spec.arguments_model().model_validate_json('{"order_id": "ORD-1"}')`."""

    name: Identifier
    description: str
    kind: ToolKind = "python"
    handler: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    openapi: OpenApiRef | None = None
    # Filled in from the `openapi` operation when the catalog is loaded.
    http: HttpOperation | None = None
    auth: HttpAuth | None = None
    mcp: McpRef | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=300)
    max_result_bytes: int = Field(default=DEFAULT_MAX_RESULT_BYTES, gt=0)
    side_effect: bool
    safe_to_retry: bool
    roles: list[str] = Field(min_length=1)
    requires: list[Requirement] = Field(default_factory=list)
    # Each call waits for a person's approval (the request is parked until one decides).
    approval: ApprovalPolicy | None = None
    arguments: dict[Identifier, ArgumentSpec]
    # The result fields (dotted paths) a customer may be told; unset: every field.
    facts: list[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_.]*$")]] | None = None
    # A side-effect tool: how an answer says its action happened (checked against the calls).
    claims: ActionClaim | None = None

    _arguments_model: type[BaseModel] = PrivateAttr()

    @model_validator(mode="after")
    def _side_effects_are_gated(self) -> ToolSpec:
        if self.side_effect and not self.requires:
            raise ValueError("a tool with a side effect must declare at least one `requires`")
        if self.claims is not None and not self.side_effect:
            raise ValueError("`claims` is for tools with a side effect")
        return self

    @model_validator(mode="after")
    def _kind_has_its_target(self) -> ToolSpec:
        targets = {
            "handler": self.handler is not None,
            "openapi": self.openapi is not None,
            "mcp": self.mcp is not None,
        }
        wanted = {"python": "handler", "http": "openapi", "mcp": "mcp"}[self.kind]
        if not targets[wanted]:
            raise ValueError(f"a `{self.kind}` tool needs `{wanted}`")
        others = [name for name, given in targets.items() if given and name != wanted]
        if others or (self.auth is not None and self.kind != "http"):
            extra = others or ["auth"]
            raise ValueError(f"a `{self.kind}` tool takes no {', '.join(f'`{x}`' for x in extra)}")
        if self.kind == "http" and self.http is None:
            raise ValueError("an `http` tool's operation was not resolved from its spec")
        return self

    def model_post_init(self, context: Any, /) -> None:
        fields: dict[str, Any] = {
            name: (argument.annotation(), ... if argument.required else None)
            for name, argument in self.arguments.items()
        }
        self._arguments_model = create_model(
            f"{self.name}_arguments",
            __config__=ConfigDict(extra="forbid", strict=True),
            **fields,
        )

    def arguments_model(self) -> type[BaseModel]:
        """The model that validates this tool's arguments (strict JSON types, no extras)."""
        return self._arguments_model

    def json_schema(self, allowed: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
        """JSON schema of the arguments; `allowed` values become `enum`s."""
        return {
            "type": "object",
            "properties": {
                name: argument.json_schema(allowed.get(name))
                for name, argument in self.arguments.items()
            },
            "required": [name for name, argument in self.arguments.items() if argument.required],
            "additionalProperties": False,
        }


class ToolCatalog(_Strict):
    """Every tool, keyed by name. Example: `load_tool_catalog(config_dir).spec("lookup_order")`."""

    tools: dict[Identifier, ToolSpec]

    @model_validator(mode="before")
    @classmethod
    def _name_tools_by_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("tools"), dict):
            named = {
                name: {"name": name, **body} if isinstance(body, dict) else body
                for name, body in data["tools"].items()
            }
            return {**data, "tools": named}
        return data

    @model_validator(mode="after")
    def _references_resolve(self) -> ToolCatalog:
        problems: list[str] = []
        for name, spec in self.tools.items():
            if spec.name != name:
                problems.append(f"tools.{name}.name: must be {name!r}, the tool's key")
            for index, requirement in enumerate(spec.requires):
                where = f"tools.{name}.requires.{index}"
                required = self.tools.get(requirement.tool)
                if required is None:
                    problems.append(f"{where}.tool: unknown tool {requirement.tool!r}")
                    continue
                for same in requirement.same:
                    if same not in spec.arguments or same not in required.arguments:
                        problems.append(
                            f"{where}.same: {same!r} is not an argument of both "
                            f"{name} and {requirement.tool}"
                        )
            for argument_name, argument in spec.arguments.items():
                source = argument.values_from
                if source and source.result and source.result.tool not in self.tools:
                    problems.append(
                        f"tools.{name}.arguments.{argument_name}.values_from.result.tool: "
                        f"unknown tool {source.result.tool!r}"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def spec(self, name: str) -> ToolSpec:
        """The tool called `name`; `UnknownTool` when the catalog has none."""
        spec = self.tools.get(name)
        if spec is None:
            raise UnknownTool(
                f"unknown tool {name!r}; known tools: {', '.join(sorted(self.tools))}"
            )
        return spec

    def stateable_facts(self) -> dict[str, list[str] | None]:
        """Per tool, the result fields an answer may state (None: every field)."""
        return {name: spec.facts for name, spec in self.tools.items()}

    def action_claims(self) -> dict[str, ActionClaim]:
        """Per side-effect tool that declares one, how an answer says its action happened."""
        return {name: spec.claims for name, spec in self.tools.items() if spec.claims}

    def with_tools(self, specs: Mapping[str, ToolSpec]) -> ToolCatalog:
        """This catalog with `specs` added, or replacing the tools of the same name."""
        return ToolCatalog(tools={**self.tools, **specs})
