"""Test infrastructure that is also product code (``conduit up`` reuses it)."""

from shared.testing.kafka_server import (
    KafkaServer,
    KafkaStartError,
    KafkaUnavailableError,
    install_kafka,
)

__all__ = ["KafkaServer", "KafkaStartError", "KafkaUnavailableError", "install_kafka"]
