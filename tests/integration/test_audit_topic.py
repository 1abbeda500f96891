"""The audit topic on the real broker: created to keep its records forever."""

from __future__ import annotations

import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.bus import Topics
from shared.bus.kafka import ensure_topics
from shared.testing import KafkaServer

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]


async def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    # DescribeConfigs v0: resources of (error_code, error_message, type, name, entries),
    # entries of (name, value, read_only, is_default, is_sensitive).
    [(_, _, _, _, entries)] = response.resources
    return {entry[0]: entry[1] for entry in entries}


async def test_the_audit_topic_is_created_to_keep_records_forever(
    kafka_server: KafkaServer,
) -> None:
    topics = Topics(f"audit{time.time_ns()}")

    await ensure_topics(kafka_server.bootstrap_servers, [topics.audit, topics.responses], 1)

    audit = await _topic_config(kafka_server.bootstrap_servers, topics.audit)
    others = await _topic_config(kafka_server.bootstrap_servers, topics.responses)
    assert (audit["retention.ms"], audit["retention.bytes"]) == ("-1", "-1"), (
        f"the audit topic would expire records: {audit}"
    )
    assert audit["cleanup.policy"] == "delete", "a compacted audit topic would drop records"
    assert others["retention.ms"] != "-1", "only the audit topic is kept forever"
