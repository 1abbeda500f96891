"""What a foreign tool declares it answers (an OpenAPI response schema, an MCP `outputSchema`),
compiled once at load so every result can be checked against it.

A mismatch is described by the first offending JSON path and the schema keyword it breaks,
never by the offending value: results may carry personal data, and the description ends up
in failure messages, ledgers and the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import SchemaError, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from referencing.exceptions import Unresolvable

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_DETAIL_LIMIT = 120


class ResultSchema(BaseModel):
    """A JSON schema a tool's result must match. Example:

    >>> ResultSchema(definition={"type": "object", "required": ["id"]}).mismatch({})
    "$: missing required ['id']"
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Its `$schema` picks the dialect; without one, JSON Schema 2020-12 (MCP's default).
    definition: dict[str, Any]

    _validator: Validator = PrivateAttr()

    @model_validator(mode="after")
    def _is_a_schema(self) -> ResultSchema:
        cls = validator_for(self.definition, default=validator_for({"$schema": DRAFT_2020_12}))
        try:
            cls.check_schema(self.definition)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON schema: {exc.message}") from exc
        return self

    def model_post_init(self, context: Any, /) -> None:
        cls = validator_for(self.definition, default=validator_for({"$schema": DRAFT_2020_12}))
        self._validator = cls(self.definition)

    def mismatch(self, value: Any) -> str | None:
        """Where and how `value` breaks the schema, or `None` when it matches."""
        try:
            error = best_match(self._validator.iter_errors(value))
        except (Unresolvable, RecursionError) as exc:
            return f"$: the schema cannot be applied ({type(exc).__name__})"
        return None if error is None else f"{error.json_path}: {_broken_rule(error)}"


def _broken_rule(error: ValidationError) -> str:
    """The rule `error` breaks, in the schema's words only (no part of the value)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "required" and isinstance(error.instance, Mapping) and isinstance(expected, list):
        missing = [name for name in expected if name not in error.instance]
        return f"missing required {missing}"
    if keyword == "type":
        return f"expected type {expected!r}"
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return "has properties the schema does not allow"
    detail = repr(expected)
    if len(detail) > _DETAIL_LIMIT:
        detail = detail[:_DETAIL_LIMIT] + "…"
    return f"breaks `{keyword}: {detail}`"
