"""Who is asking: API keys (stored hashed) and signed JWTs, mapped to a tenant and roles.

The tenant, user and roles that travel in the envelope come only from here, never from a
request body. A credential is sent as `authorization: Bearer <token>`: a token with two
dots is a JWT, anything else an API key.

`config/api_keys.yaml`:

    keys:
      - name: demo                  # shown in logs, never the key
        sha256: 5e2b…               # hex SHA-256 of the key: `api_key_digest(key)`
        tenant: default
        roles: [customer]
        user_id: demo-user          # optional; default key:<name>
        disabled: false             # optional; a disabled key is refused with 403
        limits: {rate_per_s: 1, burst: 2, max_in_flight: 1}   # optional, its own limits
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import GuestProtocol, Key, OctKey, RSAKey
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.gateway.errors import Forbidden, Unauthenticated
from services.gateway.limits import Limits
from shared.config import load_yaml_model

TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


def api_key_digest(key: str) -> str:
    """What the key file stores for `key`: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME_PATTERN)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tenant: str = Field(pattern=TENANT_PATTERN.pattern)
    roles: tuple[str, ...] = Field(min_length=1)
    user_id: str | None = None
    disabled: bool = False
    limits: Limits | None = None


class ApiKeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: tuple[ApiKey, ...] = ()

    @field_validator("keys")
    @classmethod
    def _unique(cls, keys: tuple[ApiKey, ...]) -> tuple[ApiKey, ...]:
        for attribute in ("name", "sha256"):
            values = [getattr(key, attribute) for key in keys]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{attribute} must be unique; repeated: {', '.join(repeated)}")
        return keys


def load_api_keys(path: Path) -> ApiKeyFile:
    """The key file at `path`; `ConfigFileError` names file and field."""
    return load_yaml_model(path, ApiKeyFile)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller. `limit_scope` is what its limits count against: its tenant,
    or its key when the key has limits of its own (`limits`; None: the defaults)."""

    tenant_id: str
    user_id: str
    roles: tuple[str, ...]
    limit_scope: str
    limits: Limits | None = None


class JwtVerifier:
    """Checks a JWT's signature (HS256 and/or RS256), `exp`, `aud` and the claims that make
    a caller: `sub` (user), `tenant`, `roles`.

    >>> verifier = JwtVerifier(audience="conduit", hs256_secret="a long shared secret")
    >>> verifier.caller(token)  # doctest: +SKIP
    Caller(tenant_id='acme', user_id='u-1', roles=('customer',), limit_scope='acme')
    """

    def __init__(
        self, *, audience: str, hs256_secret: str | None = None, rs256_public_key: str | None = None
    ) -> None:
        self._keys: dict[str, Key] = {}
        if hs256_secret:
            self._keys["HS256"] = OctKey.import_key(hs256_secret)
        if rs256_public_key:
            self._keys["RS256"] = RSAKey.import_key(rs256_public_key)
        self._claims = jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
            tenant={"essential": True},
            roles={"essential": True},
        )

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def caller(self, token: str) -> Caller:
        if not self._keys:
            raise Unauthenticated("JWTs are not accepted here; use an API key")
        try:
            claims = jwt.decode(token, self._key_for, algorithms=list(self._keys)).claims
            self._claims.validate(claims)
        except JoseError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        return _caller_from_claims(claims)

    def _key_for(self, token: GuestProtocol) -> Key:
        return self._keys[token.headers()["alg"]]


def _caller_from_claims(claims: dict[str, Any]) -> Caller:
    tenant, user, roles = claims["tenant"], claims["sub"], claims["roles"]
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise Unauthenticated("invalid token: the tenant claim is not a tenant id")
    if not isinstance(user, str):
        raise Unauthenticated("invalid token: the sub claim is not a string")
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise Unauthenticated("invalid token: the roles claim is not a list of role names")
    return Caller(tenant_id=tenant, user_id=user, roles=tuple(roles), limit_scope=tenant)


class Authenticator:
    """Turns an `authorization` header value into a `Caller`, or raises `Unauthenticated`
    (401) or `Forbidden` (403: a disabled key).

    >>> auth = Authenticator(ApiKeyFile(keys=[...]), JwtVerifier(audience="conduit"))
    >>> auth.caller("Bearer demo-key-default-customer").tenant_id  # doctest: +SKIP
    'default'
    """

    def __init__(self, keys: ApiKeyFile, jwt_verifier: JwtVerifier) -> None:
        self._keys = {key.sha256: key for key in keys.keys}
        self._jwt = jwt_verifier

    def caller(self, authorization: str | None) -> Caller:
        if not authorization:
            raise Unauthenticated("no credentials: send `authorization: Bearer <key or JWT>`")
        match = _BEARER.match(authorization)
        if match is None:
            raise Unauthenticated("credentials must be `Bearer <key or JWT>`")
        token = match.group(1)
        if token.count(".") == 2:
            return self._jwt.caller(token)
        return self._key_caller(token)

    def _key_caller(self, token: str) -> Caller:
        key = self._keys.get(api_key_digest(token))
        if key is None:
            raise Unauthenticated("unknown API key")
        if key.disabled:
            raise Forbidden(f"API key {key.name!r} is disabled")
        return Caller(
            tenant_id=key.tenant,
            user_id=key.user_id or f"key:{key.name}",
            roles=key.roles,
            limit_scope=f"{key.tenant}/key:{key.name}" if key.limits else key.tenant,
            limits=key.limits,
        )
