"""`conduit dlq`: listing, inspecting and re-publishing dead letters on the real broker."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from conduit.cli import main
from conduit.deadletters import (
    DeadLetterFilter,
    DeadLetterSummary,
    RepublishLedger,
    list_dead_letters,
    republish,
    show_dead_letter,
)
from shared.bus import BusMessage, Topics
from shared.bus.kafka import KafkaBus
from shared.contracts import StepEvent, WorkflowPosition, new_envelope
from shared.runtime.deadletter import REPLAYED_FROM, dead_letter
from shared.testing import KafkaServer

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

BINARY_PAYLOAD = b"\xff\x00\x13not a document"


@dataclass(frozen=True)
class Seeded:
    """Two dead letters on a fresh topic prefix: a StepEvent from intent, bytes from retrieval."""

    bootstrap: str
    topics: Topics
    step_event: StepEvent
    ledger: RepublishLedger

    @property
    def step_origin(self) -> str:
        return self.topics.step("intent")


@pytest.fixture
async def seeded(kafka_server: KafkaServer, tmp_path: Path) -> Seeded:
    topics = Topics(f"dlq{time.time_ns()}")
    event = StepEvent(envelope=new_envelope(session_id="s-1", request_id="req-42"))
    event.envelope.workflow.CopyFrom(WorkflowPosition(name="support", step="classify"))
    event.request.text = "where is my refund?"
    # Created up front (leaders elected) so the first publish is not retried noisily.
    await asyncio.to_thread(
        kafka_server.create_topics, [topics.deadletter, topics.step("intent"), topics.documents]
    )
    bus = KafkaBus(kafka_server.bootstrap_servers, client_id="dlq-test")
    await bus.start()
    try:
        await dead_letter(
            bus,
            topics,
            BusMessage(
                topic=topics.step("intent"),
                value=event.SerializeToString(),
                key=b"s-1",
                headers={"traceparent": "00-trace-01"},
                partition=1,
                offset=7,
            ),
            service="intent",
            reason="handler failed: classifier timed out",
            attempts=3,
        )
        await asyncio.sleep(0.01)  # distinct timestamps, so "newest" is well defined
        await dead_letter(
            bus,
            topics,
            BusMessage(topic=topics.documents, value=BINARY_PAYLOAD, partition=0, offset=2),
            service="retrieval",
            reason="undecodable record: DecodeError: truncated message",
            attempts=1,
        )
    finally:
        await bus.stop()
    ledger = RepublishLedger.for_topic(tmp_path, topics.deadletter)
    return Seeded(kafka_server.bootstrap_servers, topics, event, ledger)


async def _listed(seeded: Seeded) -> dict[str, DeadLetterSummary]:
    listing = await list_dead_letters(seeded.bootstrap, seeded.topics)
    return {letter.service: letter for letter in listing.dead_letters}


async def _id_of(seeded: Seeded, service: str) -> str:
    return (await _listed(seeded))[service].id


async def _records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything in `topic` right now, from every partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for partition, start in (await consumer.beginning_offsets(partitions)).items():
            consumer.seek(partition, start)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_list_shows_each_dead_letter_with_reason_service_and_origin(
    seeded: Seeded,
) -> None:
    listed = await _listed(seeded)

    assert set(listed) == {"intent", "retrieval"}, f"expected both dead letters, got {listed}"
    intent = listed["intent"]
    assert intent.reason == "handler failed: classifier timed out", intent
    assert intent.origin == f"{seeded.step_origin}/1@7", intent
    assert intent.attempts == 3, intent
    assert (intent.request_id, intent.workflow, intent.step) == ("req-42", "support", "classify")
    retrieval = listed["retrieval"]
    assert retrieval.origin == f"{seeded.topics.documents}/0@2", retrieval
    assert retrieval.request_id is None, "raw bytes must not be read as a StepEvent"
    assert retrieval.size == len(BINARY_PAYLOAD), retrieval


async def test_list_keeps_only_the_newest_within_the_limit_and_counts_all_matches(
    seeded: Seeded,
) -> None:
    listing = await list_dead_letters(seeded.bootstrap, seeded.topics, limit=1)

    assert [letter.service for letter in listing.dead_letters] == ["retrieval"], listing
    assert listing.matched == 2, f"the total should count every dead letter: {listing}"


async def test_list_filters_by_the_service_that_rejected_the_record(seeded: Seeded) -> None:
    listing = await list_dead_letters(
        seeded.bootstrap, seeded.topics, matching=DeadLetterFilter(service="retrieval")
    )

    assert [letter.service for letter in listing.dead_letters] == ["retrieval"], listing


async def test_show_decodes_a_step_event_payload_as_protobuf_text(seeded: Seeded) -> None:
    detail = await show_dead_letter(seeded.bootstrap, seeded.topics, await _id_of(seeded, "intent"))

    assert detail.preview_format == "protobuf-text", detail
    assert 'request_id: "req-42"' in detail.preview, detail.preview
    assert 'text: "where is my refund?"' in detail.preview, detail.preview
    assert detail.headers["traceparent"] == "00-trace-01", detail.headers
    assert detail.headers["conduit-dlq-service"] == "intent", detail.headers


async def test_show_previews_a_binary_payload_as_hex(seeded: Seeded) -> None:
    detail = await show_dead_letter(
        seeded.bootstrap, seeded.topics, await _id_of(seeded, "retrieval")
    )

    assert detail.preview_format == "hex", detail
    assert detail.preview.startswith("ff 00 13"), detail.preview


async def test_republish_sends_the_original_bytes_and_key_with_a_replay_marker_not_dlq_headers(
    seeded: Seeded,
) -> None:
    letter_id = await _id_of(seeded, "intent")

    outcomes = await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id)

    assert [outcome.action for outcome in outcomes] == ["published"], outcomes
    [record] = await _records(seeded.bootstrap, seeded.step_origin)
    assert record.value == seeded.step_event.SerializeToString(), "payload bytes changed"
    assert record.key == b"s-1", f"original key lost: {record.key!r}"
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["traceparent"] == "00-trace-01", f"original header lost: {headers}"
    assert headers[REPLAYED_FROM] == letter_id, f"no replay marker: {headers}"
    leaked = [name for name in headers if name.startswith("conduit-dlq-")]
    assert not leaked, f"dead-letter headers were re-published: {leaked}"


async def test_a_second_republish_of_the_same_dead_letter_is_refused_without_force(
    seeded: Seeded,
) -> None:
    letter_id = await _id_of(seeded, "intent")
    await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id)

    again = await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id)

    assert [outcome.action for outcome in again] == ["refused"], again
    assert "already re-published" in again[0].detail, again
    published = await _records(seeded.bootstrap, seeded.step_origin)
    assert len(published) == 1, f"the refused re-publish still wrote: {published}"


async def test_force_republishes_a_dead_letter_again(seeded: Seeded) -> None:
    letter_id = await _id_of(seeded, "intent")
    await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id)

    forced = await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id, force=True)

    assert [outcome.action for outcome in forced] == ["published"], forced
    assert len(await _records(seeded.bootstrap, seeded.step_origin)) == 2


async def test_dry_run_publishes_nothing_and_leaves_a_later_republish_allowed(
    seeded: Seeded,
) -> None:
    letter_id = await _id_of(seeded, "intent")

    dry = await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id, dry_run=True)

    assert [outcome.action for outcome in dry] == ["would-publish"], dry
    assert await _records(seeded.bootstrap, seeded.step_origin) == [], "dry run published"
    real = await republish(seeded.bootstrap, seeded.topics, seeded.ledger, letter_id)
    assert [outcome.action for outcome in real] == ["published"], "dry run marked it as done"


async def test_republish_all_takes_only_dead_letters_matching_service_and_reason(
    seeded: Seeded,
) -> None:
    matching = DeadLetterFilter(service="retrieval", reason_contains="undecodable")

    outcomes = await republish(seeded.bootstrap, seeded.topics, seeded.ledger, matching)

    assert [(o.origin_topic, o.action) for o in outcomes] == [
        (seeded.topics.documents, "published")
    ], outcomes
    [record] = await _records(seeded.bootstrap, seeded.topics.documents)
    assert record.value == BINARY_PAYLOAD, record
    assert await _records(seeded.bootstrap, seeded.step_origin) == [], "filter ignored"


@pytest.fixture
def cli_env(seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_BUS", "kafka")
    monkeypatch.setenv("CONDUIT_KAFKA_BOOTSTRAP", seeded.bootstrap)
    monkeypatch.setenv("CONDUIT_TOPIC_PREFIX", seeded.topics.prefix)
    monkeypatch.setenv("CONDUIT_DATA_DIR", str(tmp_path))


@pytest.mark.usefixtures("cli_env")
async def test_cli_dlq_list_json_prints_every_dead_letter(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.to_thread(main, ["dlq", "list", "--json"])

    printed = json.loads(capsys.readouterr().out)
    services = sorted(letter["service"] for letter in printed["dead_letters"])
    assert services == ["intent", "retrieval"], printed
    assert printed["matched"] == 2, printed


@pytest.mark.usefixtures("cli_env")
async def test_cli_list_prints_a_table_with_the_reason(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.to_thread(main, ["dlq", "list"])

    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["ID", "TIME", "SERVICE"], table
    assert "handler failed: classifier timed out" in table, table


@pytest.mark.usefixtures("cli_env")
async def test_cli_exits_with_status_1_when_a_second_republish_is_refused(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    letter_id = await _id_of(seeded, "intent")
    await asyncio.to_thread(main, ["dlq", "republish", letter_id])
    capsys.readouterr()

    with pytest.raises(SystemExit) as exit_info:
        await asyncio.to_thread(main, ["dlq", "republish", letter_id, "--json"])

    assert exit_info.value.code == 1, "a refused re-publish must fail the command"
    [outcome] = json.loads(capsys.readouterr().out)
    assert outcome["action"] == "refused", outcome
