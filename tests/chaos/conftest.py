"""One six-process stack on a fresh topic prefix, shared by the chaos tests.

Starting six Python processes and indexing the knowledge base takes most of a minute on
a small machine, so the tests share one stack: each kills, restarts or scales services
and leaves all six running; each uses its own sessions and invoices.
"""

from collections.abc import Iterator

import pytest

from shared.testing import KafkaServer
from tests.chaos.harness import ChaosStack


@pytest.fixture(scope="package")
def chaos_stack(
    kafka_server: KafkaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosStack]:
    stack = ChaosStack(kafka_server, tmp_path_factory.mktemp("chaos-stack"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(chaos_stack: ChaosStack) -> Iterator[ChaosStack]:
    """The shared stack, checked to have all six services running before and after."""
    chaos_stack.assert_all_alive()
    yield chaos_stack
    chaos_stack.assert_all_alive()
