"""The trust boundary: principals vouched for by the gateway, checked by every service."""

from shared.security.principal import sign_principal, verify_principal

__all__ = ["sign_principal", "verify_principal"]
