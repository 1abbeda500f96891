"""The gateway's credentials: hashed API keys and signed JWTs, mapped to tenant and roles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from services.gateway.auth import (
    ApiKey,
    ApiKeyFile,
    Authenticator,
    JwtVerifier,
    api_key_digest,
    load_api_keys,
)
from services.gateway.errors import Forbidden, Unauthenticated
from services.gateway.limits import Limits
from shared.config import ConfigFileError, repo_root

SECRET = "a shared secret long enough for HS256"
AUDIENCE = "conduit"
DEMO_KEY = "demo-key-default-customer"


def key_entry(key: str, name: str = "k", **overrides: Any) -> ApiKey:
    fields: dict[str, Any] = {
        "name": name,
        "sha256": api_key_digest(key),
        "tenant": "acme",
        "roles": ("customer",),
        **overrides,
    }
    return ApiKey.model_validate(fields)


def authenticator(*keys: ApiKey, verifier: JwtVerifier | None = None) -> Authenticator:
    return Authenticator(
        ApiKeyFile(keys=keys), verifier or JwtVerifier(audience=AUDIENCE, hs256_secret=SECRET)
    )


def claims(**overrides: Any) -> dict[str, Any]:
    return {
        "sub": "user-7",
        "tenant": "acme",
        "roles": ["customer"],
        "aud": AUDIENCE,
        # A day ahead: parametrised tokens are made at collection, long before they run.
        "exp": int(time.time()) + 86_400,
        **overrides,
    }


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(secret))


def test_the_shipped_key_file_holds_the_demo_keys_digest_not_the_key() -> None:
    path = repo_root() / "config" / "api_keys.yaml"
    keys = load_api_keys(path)

    caller = Authenticator(keys, JwtVerifier(audience=AUDIENCE)).caller(f"Bearer {DEMO_KEY}")

    assert (caller.tenant_id, caller.roles) == ("default", ("customer",)), caller
    assert DEMO_KEY not in path.read_text(), "the key file holds a plaintext key"


def test_an_api_key_maps_to_its_tenant_user_and_roles() -> None:
    auth = authenticator(key_entry("s3cret", roles=("support_agent",), user_id="ann"))

    caller = auth.caller("Bearer s3cret")

    assert (caller.tenant_id, caller.user_id, caller.roles) == ("acme", "ann", ("support_agent",))
    assert caller.limit_scope == "acme", "a key without limits of its own counts with its tenant"


def test_a_key_with_its_own_limits_is_limited_on_its_own() -> None:
    limits = Limits(rate_per_s=1, burst=1, max_in_flight=1)
    caller = authenticator(key_entry("s3cret", name="batch", limits=limits)).caller("Bearer s3cret")

    assert (caller.limit_scope, caller.limits) == ("acme/key:batch", limits), caller


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Basic czNjcmV0", "Bearer wrong-key", "Bearer s3cret extra"]
)
def test_missing_or_unknown_credentials_are_unauthenticated(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        authenticator(key_entry("s3cret")).caller(header)


def test_a_disabled_key_is_forbidden_not_unknown() -> None:
    auth = authenticator(key_entry("s3cret", disabled=True))

    with pytest.raises(Forbidden, match="disabled"):
        auth.caller("Bearer s3cret")


def test_a_key_file_with_a_repeated_digest_names_file_and_field(tmp_path: Path) -> None:
    digest = api_key_digest("same")
    path = tmp_path / "api_keys.yaml"
    path.write_text(
        "keys:\n"
        f"  - {{name: a, sha256: {digest}, tenant: acme, roles: [customer]}}\n"
        f"  - {{name: b, sha256: {digest}, tenant: acme, roles: [customer]}}\n"
    )

    with pytest.raises(ConfigFileError, match=r"api_keys\.yaml.*\n.*keys: .*sha256 must be unique"):
        load_api_keys(path)


def test_a_valid_hs256_jwt_gives_its_tenant_user_and_roles() -> None:
    token = hs256(claims(roles=["customer", "support_agent"]))

    caller = authenticator().caller(f"Bearer {token}")

    assert caller.tenant_id == "acme", caller
    assert caller.user_id == "user-7", caller
    assert caller.roles == ("customer", "support_agent"), caller


def test_a_valid_rs256_jwt_is_checked_with_the_public_key() -> None:
    private = RSAKey.generate_key(2048)
    public_pem = private.as_pem(private=False).decode()
    verifier = JwtVerifier(audience=AUDIENCE, rs256_public_key=public_pem)
    token = jwt.encode({"alg": "RS256"}, claims(), private)

    assert authenticator(verifier=verifier).caller(f"Bearer {token}").tenant_id == "acme"


@pytest.mark.parametrize(
    ("token_claims", "reason"),
    [
        (claims(exp=int(time.time()) - 60), "expired"),
        (claims(aud="someone-else"), "aud"),
        ({k: v for k, v in claims().items() if k != "exp"}, "exp"),
        ({k: v for k, v in claims().items() if k != "tenant"}, "tenant"),
        (claims(tenant="Acme Corp!"), "tenant"),
        (claims(tenant=["acme", "globex"]), "tenant"),
        (claims(roles="admin"), "roles"),
    ],
    ids=["expired", "wrong-audience", "no-exp", "no-tenant", "bad-tenant", "tenant-list", "roles"],
)
def test_a_jwt_with_bad_claims_is_unauthenticated(
    token_claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        authenticator().caller(f"Bearer {hs256(token_claims)}")


def test_a_jwt_signed_with_another_secret_is_unauthenticated() -> None:
    token = hs256(claims(), secret="somebody else's long secret")

    with pytest.raises(Unauthenticated, match="signature"):
        authenticator().caller(f"Bearer {token}")


def test_jwts_are_refused_when_no_key_is_configured() -> None:
    auth = authenticator(verifier=JwtVerifier(audience=AUDIENCE))

    with pytest.raises(Unauthenticated, match="not accepted"):
        auth.caller(f"Bearer {hs256(claims())}")
