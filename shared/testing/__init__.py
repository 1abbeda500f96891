"""Test infrastructure that is also product code (``conduit up`` reuses it)."""

from shared.testing.jaeger_server import (
    JaegerServer,
    JaegerStartError,
    JaegerUnavailableError,
    install_jaeger,
)
from shared.testing.kafka_server import (
    KafkaServer,
    KafkaStartError,
    KafkaUnavailableError,
    install_kafka,
)
from shared.testing.llama_server import (
    LlamaServer,
    LlamaServerStartError,
    LlamaServerUnavailableError,
)
from shared.testing.postgres_server import (
    PostgresServer,
    PostgresStartError,
    PostgresUnavailableError,
    install_postgres,
)
from shared.testing.redis_server import (
    RedisServer,
    RedisStartError,
    RedisUnavailableError,
    install_redis,
)
from shared.testing.triton_server import (
    TritonServer,
    TritonStartError,
    TritonUnavailableError,
)
from shared.testing.weaviate_server import (
    WeaviateServer,
    WeaviateStartError,
    WeaviateUnavailableError,
    install_weaviate,
)

__all__ = [
    "JaegerServer",
    "JaegerStartError",
    "JaegerUnavailableError",
    "KafkaServer",
    "KafkaStartError",
    "KafkaUnavailableError",
    "LlamaServer",
    "LlamaServerStartError",
    "LlamaServerUnavailableError",
    "PostgresServer",
    "PostgresStartError",
    "PostgresUnavailableError",
    "RedisServer",
    "RedisStartError",
    "RedisUnavailableError",
    "TritonServer",
    "TritonStartError",
    "TritonUnavailableError",
    "WeaviateServer",
    "WeaviateStartError",
    "WeaviateUnavailableError",
    "install_jaeger",
    "install_kafka",
    "install_postgres",
    "install_redis",
    "install_weaviate",
]
