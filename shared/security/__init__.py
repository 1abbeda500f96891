"""The trust boundary: principals vouched for by the gateway, checked by every service."""

from shared.security.principal import (
    sign_decision,
    sign_principal,
    verify_decision,
    verify_principal,
)

__all__ = ["sign_decision", "sign_principal", "verify_decision", "verify_principal"]
