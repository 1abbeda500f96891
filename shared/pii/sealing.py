"""Sealing a value so only the holder of one private key can read it (an X25519 sealed box).

The edge seals each piece of personal data it tokenises to the tool-executor's vault key;
topics carry only the sealed bytes. A seal is bound to its context (tenant and token), so
it cannot be replayed under another tenant or token:

    >>> keys = VaultKeys.generate()
    >>> sealed = seal(keys.public_key, "ann@example.com", context="acme/[EMAIL#1]")
    >>> keys.open(sealed, context="acme/[EMAIL#1]")
    'ann@example.com'

Layout: ephemeral public key (32 bytes) + nonce (12) + ChaCha20-Poly1305 ciphertext; the
key is HKDF-SHA256 over the X25519 shared secret and both public keys.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_KEY_BYTES = 32
_NONCE_BYTES = 12
_INFO = b"conduit pii seal v1"


class SealError(ValueError):
    """A seal that does not open: another key, another context, or damaged bytes."""


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def _cipher(shared_secret: bytes, ephemeral: bytes, recipient: bytes) -> ChaCha20Poly1305:
    key = HKDF(
        algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=ephemeral + recipient, info=_INFO
    ).derive(shared_secret)
    return ChaCha20Poly1305(key)


def decode_key(text: str, *, what: str) -> bytes:
    """A 32-byte key from its base64 text; `ValueError` naming `what` otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{what} is not base64: {exc}") from exc
    if len(raw) != _KEY_BYTES:
        raise ValueError(f"{what} must be {_KEY_BYTES} bytes, not {len(raw)}")
    return raw


def public_key_from_text(text: str) -> X25519PublicKey:
    """The public key of `CONDUIT_PII_VAULT_PUBLIC_KEY` (base64 of the raw 32 bytes)."""
    return X25519PublicKey.from_public_bytes(decode_key(text, what="the vault public key"))


def seal(public_key: X25519PublicKey, value: str, *, context: str) -> bytes:
    """`value` sealed to `public_key`, openable only with the same `context`."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = _raw(ephemeral.public_key())
    cipher = _cipher(ephemeral.exchange(public_key), ephemeral_raw, _raw(public_key))
    nonce = os.urandom(_NONCE_BYTES)
    return ephemeral_raw + nonce + cipher.encrypt(nonce, value.encode(), context.encode())


@dataclass(frozen=True)
class VaultKeys:
    """The vault's key pair; only the tool-executor holds the private half."""

    private_key: X25519PrivateKey

    @classmethod
    def generate(cls) -> VaultKeys:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> VaultKeys:
        """From `CONDUIT_PII_VAULT_PRIVATE_KEY` (base64 of the raw 32 bytes)."""
        raw = decode_key(text, what="the vault private key")
        return cls(X25519PrivateKey.from_private_bytes(raw))

    @property
    def public_key(self) -> X25519PublicKey:
        return self.private_key.public_key()

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes_raw()

    def private_text(self) -> str:
        return base64.b64encode(self.private_bytes()).decode()

    def public_text(self) -> str:
        return base64.b64encode(_raw(self.public_key)).decode()

    def open(self, sealed: bytes, *, context: str) -> str:
        """The sealed value; `SealError` when it was not sealed to this key in `context`."""
        header = _KEY_BYTES + _NONCE_BYTES
        if len(sealed) <= header:
            raise SealError(f"a seal is longer than {header} bytes, this one is {len(sealed)}")
        ephemeral_raw, nonce = sealed[:_KEY_BYTES], sealed[_KEY_BYTES:header]
        ephemeral = X25519PublicKey.from_public_bytes(ephemeral_raw)
        cipher = _cipher(self.private_key.exchange(ephemeral), ephemeral_raw, _raw(self.public_key))
        try:
            return cipher.decrypt(nonce, sealed[header:], context.encode()).decode()
        except InvalidTag as exc:
            raise SealError("the seal does not open with this key in this context") from exc
