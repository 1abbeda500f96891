"""Reversible tokenisation: sealed at the edge, opened only by the tool-executor's vault, for
the one call whose argument needs the real value; results leave with tokens again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.intent.entities import extract_entities
from services.tool_executor.business import ToolFailure
from services.tool_executor.service import build
from services.tool_executor.vault import PiiVault
from shared.config import ConduitSettings
from shared.contracts import SealedValue, StepEvent, UserRequest, WorkflowPosition, new_envelope
from shared.pii import PiiKind
from shared.pii.sealing import SealError, VaultKeys, seal
from shared.pii.tokens import RequestTokeniser, Token, seal_context
from shared.runtime import StepCall, StepService
from shared.tools import ArgumentSpec

EMAIL = "grace@example.com"  # a customer of the demo database (config/demo/business.sql)
ORDERS_BY_EMAIL = StepCall(
    workflow="order_status",
    step_id="orders_by_email",
    params={"call": {"tool": "find_orders_by_email", "arguments": {"email": {"entity": "email"}}}},
)


@pytest.fixture
def keys() -> VaultKeys:
    return VaultKeys.generate()


def _settings(tmp_path: Path, keys: VaultKeys) -> ConduitSettings:
    return ConduitSettings(data_dir=tmp_path / "var", pii_vault_public_key=keys.public_text())


def _executor(
    settings: ConduitSettings, monkeypatch: pytest.MonkeyPatch, keys: VaultKeys | None
) -> StepService:
    monkeypatch.delenv("CONDUIT_TOOL_EXECUTOR_DB", raising=False)
    if keys is None:
        monkeypatch.delenv("CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY", raising=False)
    else:
        monkeypatch.setenv("CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY", keys.private_text())
    service = build(settings)
    service.warm_up()
    return service


def _tokenised_event(text: str, keys: VaultKeys, *, sealed_for: str = "default") -> StepEvent:
    """An order-status request as the edge publishes it, its entities extracted."""
    event = StepEvent(envelope=new_envelope(session_id="s-1"), request=UserRequest(text=text))
    RequestTokeniser(event.request, tenant_id=sealed_for, vault_key=keys.public_key).tokenise()
    event.envelope.workflow.CopyFrom(
        WorkflowPosition(name="order_status", version="1.0", step="orders_by_email")
    )
    event.intent.entities.extend(extract_entities(event.request.text))
    return event


def test_a_seal_opens_only_with_its_key_and_context(keys: VaultKeys) -> None:
    sealed = seal(keys.public_key, EMAIL, context="acme\x1f[EMAIL#000000000001]")

    assert keys.open(sealed, context="acme\x1f[EMAIL#000000000001]") == EMAIL
    for other_context in ("globex\x1f[EMAIL#000000000001]", "acme\x1f[EMAIL#000000000002]"):
        with pytest.raises(SealError):
            keys.open(sealed, context=other_context)
    with pytest.raises(SealError):
        VaultKeys.generate().open(sealed, context="acme\x1f[EMAIL#000000000001]")
    with pytest.raises(SealError):
        keys.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), context="acme\x1f[EMAIL#000000000001]")


def test_a_vault_key_that_is_not_a_key_is_a_clear_settings_error() -> None:
    with pytest.raises(ValueError, match="the vault public key must be 32 bytes"):
        ConduitSettings(pii_vault_public_key="c2hvcnQ=")


async def test_a_tool_gets_the_real_value_behind_a_token_and_nothing_stored_holds_it(
    tmp_path: Path, keys: VaultKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, keys)
    executor = _executor(settings, monkeypatch, keys)
    event = _tokenised_event(f"Where are my orders? I'm {EMAIL}", keys)

    await executor.handle(event, ORDERS_BY_EMAIL)

    [found] = event.tool_exchanges
    assert found.ok, f"the lookup by email failed: {found.error}"
    result = json.loads(found.result_json)
    assert result["customer_id"] == "CUS-101", f"the handler did not get the address: {result}"
    assert [o["order_id"] for o in result["orders"]] == ["ORD-5003"], result
    assert Token.parse(json.loads(found.call.arguments_json)["email"]), (
        f"the recorded call must carry the token, not the address: {found.call}"
    )
    assert EMAIL.encode() not in event.SerializeToString(), "the event leaving holds the address"
    # The company's own database holds its customers' addresses; the ledger and vault not.
    state = settings.data_dir / "tool-executor"
    kept = {p.name: p.read_bytes() for p in state.iterdir() if not p.name.startswith("business")}
    assert {"ledger.sqlite3", "pii-vault.sqlite3"} <= set(kept), f"not written: {sorted(kept)}"
    leaking = [name for name, content in kept.items() if EMAIL.encode() in content]
    assert not leaking, f"these files hold the address in clear: {leaking}"


async def test_a_token_sealed_for_another_tenant_is_unknown_here(
    tmp_path: Path, keys: VaultKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = _executor(_settings(tmp_path, keys), monkeypatch, keys)
    event = _tokenised_event(f"Where are my orders? I'm {EMAIL}", keys, sealed_for="globex")

    await executor.handle(event, ORDERS_BY_EMAIL)

    [found] = event.tool_exchanges
    assert found.error.code == "PII_TOKEN_UNKNOWN", f"another tenant's seal was used: {found}"
    assert EMAIL not in found.error.message, found.error.message


async def test_without_a_vault_key_a_token_argument_fails_with_a_typed_error(
    tmp_path: Path, keys: VaultKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = _executor(_settings(tmp_path, keys), monkeypatch, None)
    event = _tokenised_event(f"Where are my orders? I'm {EMAIL}", keys)

    await executor.handle(event, ORDERS_BY_EMAIL)

    [found] = event.tool_exchanges
    assert found.error.code == "PII_VAULT_UNAVAILABLE", f"expected a vault error: {found}"


def test_the_tool_executor_refuses_a_private_key_whose_public_half_the_edge_does_not_use(
    tmp_path: Path, keys: VaultKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="not the public half"):
        _executor(_settings(tmp_path, keys), monkeypatch, VaultKeys.generate())


def test_the_vault_ignores_a_seal_forged_with_another_key(tmp_path: Path, keys: VaultKeys) -> None:
    vault = PiiVault(tmp_path / "vault.sqlite3", keys)
    token = Token.new(PiiKind.EMAIL)
    forged = seal(VaultKeys.generate().public_key, EMAIL, context=seal_context("t", token.text))

    vault.admit("t", [SealedValue(token=token.text, kind=token.kind, sealed=forged)])

    with pytest.raises(ToolFailure, match="not a token this tenant's vault holds"):
        vault.reveal("t", token)


def test_personal_data_in_a_result_becomes_the_same_token_each_time(
    tmp_path: Path, keys: VaultKeys
) -> None:
    vault = PiiVault(tmp_path / "vault.sqlite3", keys)
    result = {"contact": f"write to {EMAIL}", "orders": [{"email": EMAIL}], "count": 2}

    first = vault.tokenise("t", result)
    second = vault.tokenise("t", result)

    assert first == second, "the same value must get the same token, call after call"
    token = Token.parse(first["orders"][0]["email"])
    assert token is not None, f"the address was not tokenised: {first}"
    assert first["contact"] == f"write to {token.text}", first
    assert first["count"] == 2, "values that are not text stay as they are"
    assert vault.reveal("t", token) == EMAIL, "the minted token does not reveal its value"
    assert vault.tokenise("other", result) != first, "tokens are per tenant"
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert EMAIL.encode() not in stored, "the vault's files hold the address in clear"


def test_a_pii_argument_takes_no_pattern_of_its_own() -> None:
    with pytest.raises(ValueError, match="takes no `pattern`"):
        ArgumentSpec(type="string", description="email", pii=PiiKind.EMAIL, pattern=".+@.+")
