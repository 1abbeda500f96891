"""Operator tools for the dead-letter topic: list, inspect and re-publish dead letters.

Reads use a plain consumer (no group, nothing committed) bounded by the end offsets seen
when the read starts, so every command terminates even while services keep dead-lettering.
A dead letter's id is `<partition>:<offset>` in the dead-letter topic.

Example::

    listing = await list_dead_letters("127.0.0.1:9092", Topics("conduit"), limit=20)
    detail = await show_dead_letter("127.0.0.1:9092", Topics("conduit"), "0:12")
    ledger = RepublishLedger.for_topic(settings.data_dir, Topics("conduit").deadletter)
    outcomes = await republish("127.0.0.1:9092", Topics("conduit"), ledger, "0:12")
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from google.protobuf import text_format
from google.protobuf.message import DecodeError, Message

from shared.bus import Topics
from shared.config import ConduitSettings
from shared.contracts import StepEvent
from shared.runtime.deadletter import ATTEMPTS, ORIGIN, REASON, REPLAYED_FROM, SERVICE
from shared.runtime.retry import ATTEMPT

DLQ_HEADER_PREFIX = "conduit-dlq-"
RETRY_HEADER_PREFIX = "conduit-retry-"
PREVIEW_MAX_CHARS = 4000
PREVIEW_MAX_BYTES = 1024
READ_TIMEOUT_S = 30.0
REASON_COLUMN_CHARS = 60

_T = TypeVar("_T")


class DeadLetterNotFound(LookupError):
    """No record with that id in the dead-letter topic (never written, or expired)."""


@dataclass(frozen=True)
class DeadLetterSummary:
    """One row of `conduit dlq list`; the StepEvent fields are None for other payloads."""

    id: str
    partition: int
    offset: int
    timestamp: str
    reason: str
    service: str
    attempts: int | None
    origin: str
    size: int
    key: str | None
    request_id: str | None
    workflow: str | None
    step: str | None


@dataclass(frozen=True)
class DeadLetterDetail(DeadLetterSummary):
    """`conduit dlq show`: the summary plus every header and a terminal-safe payload preview."""

    headers: dict[str, str]
    preview_format: Literal["protobuf-text", "utf-8", "hex"]
    preview: str
    preview_truncated: bool


@dataclass(frozen=True)
class DeadLetter:
    """A dead-letter record as read from the topic: original bytes plus dlq headers."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    headers: Mapping[str, str]
    value: bytes

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def origin_topic(self) -> str | None:
        """The topic the record was consumed from, out of `<topic>/<partition>@<offset>`."""
        topic, separator, _ = self.headers.get(ORIGIN, "").rpartition("/")
        return topic if separator and topic else None

    def step_event(self) -> StepEvent | None:
        # Protobuf parses many byte strings without error; a request id makes it ours.
        event = StepEvent()
        try:
            event.ParseFromString(self.value)
        except DecodeError:
            return None
        return event if event.envelope.request_id else None

    def summary(self) -> DeadLetterSummary:
        return DeadLetterSummary(**self._summary_fields(self.step_event()))

    def detail(self) -> DeadLetterDetail:
        event = self.step_event()
        preview_format, preview, truncated = _preview(self.value, event)
        return DeadLetterDetail(
            **self._summary_fields(event),
            headers=dict(self.headers),
            preview_format=preview_format,
            preview=preview,
            preview_truncated=truncated,
        )

    def _summary_fields(self, event: StepEvent | None) -> dict[str, Any]:
        attempts = self.headers.get(ATTEMPTS, "")
        position = event.envelope.workflow if event is not None else None
        return {
            "id": self.id,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(
                timespec="seconds"
            ),
            "reason": self.headers.get(REASON, ""),
            "service": self.headers.get(SERVICE, ""),
            "attempts": int(attempts) if attempts.isdigit() else None,
            "origin": self.headers.get(ORIGIN, ""),
            "size": len(self.value),
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "request_id": event.envelope.request_id if event is not None else None,
            "workflow": position.name if position is not None else None,
            "step": position.step if position is not None else None,
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters `republish` takes when given no id; None matches everything."""

    service: str | None = None
    reason_contains: str | None = None

    def matches(self, dead_letter: DeadLetter) -> bool:
        headers = dead_letter.headers
        if self.service is not None and headers.get(SERVICE) != self.service:
            return False
        return self.reason_contains is None or self.reason_contains in headers.get(REASON, "")


@dataclass(frozen=True)
class DeadLetterListing:
    """The newest `limit` matching dead letters, oldest first, and how many matched in all."""

    dead_letters: list[DeadLetterSummary]
    matched: int


@dataclass(frozen=True)
class RepublishOutcome:
    """What `republish` did with one dead letter; `detail` says where to, or why not."""

    id: str
    origin_topic: str | None
    action: Literal["published", "would-publish", "refused"]
    detail: str


class RepublishLedger:
    """A JSON file of re-published dead letters, so one is not silently replayed twice.

    An entry is written as `pending` before publishing and `published` after the broker
    acknowledged, so a crash in between is refused too instead of doubling unseen. Entries
    also hold the record's timestamp: a recreated topic reusing an id is not a match.

    Example: `RepublishLedger.for_topic(settings.data_dir, topics.deadletter).previous(letter)`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_topic(cls, data_dir: Path, deadletter_topic: str) -> RepublishLedger:
        return cls(data_dir / "deadletters" / f"{deadletter_topic}.republished.json")

    def previous(self, dead_letter: DeadLetter) -> dict[str, Any] | None:
        entry = self._load().get(dead_letter.id)
        if entry is None or entry.get("timestamp_ms") != dead_letter.timestamp_ms:
            return None
        return entry

    def record(
        self, dead_letter: DeadLetter, *, status: Literal["pending", "published"], target: str
    ) -> None:
        entries = self._load()
        entries[dead_letter.id] = {
            "timestamp_ms": dead_letter.timestamp_ms,
            "status": status,
            "target": target,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: an interrupted write must not lose the whole ledger.
        with tempfile.NamedTemporaryFile(
            "w", dir=self.path.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(entries, handle, indent=2, sort_keys=True)
        os.replace(handle.name, self.path)

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        loaded: dict[str, dict[str, Any]] = json.loads(self.path.read_text(encoding="utf-8"))
        return loaded


async def list_dead_letters(
    bootstrap: str,
    topics: Topics,
    *,
    limit: int = 50,
    since_offset: int = 0,
    matching: DeadLetterFilter | None = None,
) -> DeadLetterListing:
    """The newest `limit` dead letters matching the filter, skipping offsets below
    `since_offset` on every partition."""
    matching = matching or DeadLetterFilter()
    found: list[tuple[int, int, int, DeadLetterSummary]] = []
    async with aclosing(_scan(bootstrap, topics.deadletter, since_offset)) as records:
        async for letter in records:
            if matching.matches(letter):
                found.append(
                    (letter.timestamp_ms, letter.partition, letter.offset, letter.summary())
                )
    found.sort(key=lambda entry: entry[:3])
    newest = found[-limit:] if limit > 0 else []
    return DeadLetterListing(dead_letters=[entry[3] for entry in newest], matched=len(found))


async def show_dead_letter(bootstrap: str, topics: Topics, dead_letter_id: str) -> DeadLetterDetail:
    return (await _fetch(bootstrap, topics.deadletter, dead_letter_id)).detail()


async def republish(
    bootstrap: str,
    topics: Topics,
    ledger: RepublishLedger,
    target: str | DeadLetterFilter,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> list[RepublishOutcome]:
    """Publish the original bytes of one dead letter (an id) or of all matching a filter back
    to their origin topic, with the original key and headers minus the dlq ones plus
    `conduit-replayed-from`. One already re-published is refused unless `force`."""
    if isinstance(target, str):
        selected = [await _fetch(bootstrap, topics.deadletter, target)]
    else:
        async with aclosing(_scan(bootstrap, topics.deadletter, 0)) as records:
            selected = [letter async for letter in records if target.matches(letter)]
    outcomes: list[RepublishOutcome] = []
    publishable: list[tuple[DeadLetter, str]] = []
    for letter in selected:
        origin_topic = letter.origin_topic
        if origin_topic is None:
            outcomes.append(
                RepublishOutcome(letter.id, None, "refused", f"no usable {ORIGIN} header")
            )
            continue
        refusal = None if force else _refusal(ledger.previous(letter))
        if refusal is not None:
            outcomes.append(RepublishOutcome(letter.id, origin_topic, "refused", refusal))
        elif dry_run:
            outcomes.append(RepublishOutcome(letter.id, origin_topic, "would-publish", "dry run"))
        else:
            publishable.append((letter, origin_topic))
    if publishable:
        async with _producer(bootstrap) as producer:
            for letter, origin_topic in publishable:
                written = await _publish(producer, ledger, letter, origin_topic)
                outcomes.append(RepublishOutcome(letter.id, origin_topic, "published", written))
    return sorted(outcomes, key=lambda outcome: _parse_id(outcome.id))


def replay_headers(dead_letter: DeadLetter) -> dict[str, str]:
    """The original headers, without the dead-letter and retry bookkeeping: a replay starts
    again at the first attempt on the original topic."""
    headers = {
        name: value
        for name, value in dead_letter.headers.items()
        if not name.startswith((DLQ_HEADER_PREFIX, RETRY_HEADER_PREFIX)) and name != ATTEMPT
    }
    headers[REPLAYED_FROM] = dead_letter.id
    return headers


def _refusal(previous: dict[str, Any] | None) -> str | None:
    if previous is None:
        return None
    if previous["status"] == "pending":
        return (
            f"a re-publish started at {previous['at']} was never confirmed; check "
            f"{previous['target']} and use --force to publish anyway"
        )
    return f"already re-published at {previous['at']} to {previous['target']}; use --force"


async def _publish(
    producer: AIOKafkaProducer, ledger: RepublishLedger, dead_letter: DeadLetter, topic: str
) -> str:
    ledger.record(dead_letter, status="pending", target=topic)
    headers = [(name, value.encode()) for name, value in replay_headers(dead_letter).items()]
    metadata = await producer.send_and_wait(
        topic, dead_letter.value, key=dead_letter.key, headers=headers
    )
    written = f"{topic}/{metadata.partition}@{metadata.offset}"
    ledger.record(dead_letter, status="published", target=written)
    return written


@asynccontextmanager
async def _producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def _consumer(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions, or none when it does not exist (nothing dead-lettered yet).

    Listing before describing: asking a broker about a missing topic may create it.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def _scan(bootstrap: str, topic: str, since_offset: int) -> AsyncGenerator[DeadLetter, None]:
    async with aclosing(read_topic(bootstrap, topic, since_offset=since_offset)) as records:
        async for record in records:
            yield _from_record(record)


async def read_topic(
    bootstrap: str, topic: str, *, since_offset: int = 0, since_unix_ms: int | None = None
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """Every record of `topic` up to the end offsets seen when the read starts, partition by
    partition in offset order; nothing when the topic does not exist. With `since_unix_ms`,
    from each partition's first record stamped at or after it."""
    partitions = await _partitions(bootstrap, topic)
    if not partitions:
        return
    async with _consumer(bootstrap) as consumer:
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        if since_unix_ms is not None:
            found = await consumer.offsets_for_times({p: since_unix_ms for p in partitions})
            starts = {p: ends[p] if found[p] is None else found[p].offset for p in partitions}
        pending: set[TopicPartition] = set()
        for partition in partitions:
            start = max(starts[partition], since_offset)
            if start < ends[partition]:
                consumer.seek(partition, start)
                pending.add(partition)
        clock = asyncio.get_running_loop().time
        deadline = clock() + READ_TIMEOUT_S
        while pending:
            if clock() > deadline:
                raise TimeoutError(f"no progress reading {topic} for {READ_TIMEOUT_S} s")
            batches = await consumer.getmany(*pending, timeout_ms=500)
            if batches:
                deadline = clock() + READ_TIMEOUT_S
            for partition, records in batches.items():
                for record in records:
                    if record.offset < ends[partition]:
                        yield record
            for partition in list(pending):
                if await consumer.position(partition) >= ends[partition]:
                    pending.discard(partition)


Opened = TypeVar("Opened")


async def still_open(
    bootstrap: str,
    *,
    opened_on: str,
    closed_on: str,
    opening: Callable[[bytes | None], tuple[str, Opened] | None],
    closing: Callable[[bytes | None], str | None],
) -> list[Opened]:
    """The first record of each key on `opened_on` (as `opening` reads it) whose key no
    record on `closed_on` carries (as `closing` reads it), in the order first seen."""
    closed: set[str] = set()
    async with aclosing(read_topic(bootstrap, closed_on)) as records:
        async for record in records:
            key = closing(record.value)
            if key:
                closed.add(key)
    found: dict[str, Opened] = {}
    async with aclosing(read_topic(bootstrap, opened_on)) as records:
        async for record in records:
            opened = opening(record.value)
            if opened is not None and opened[0] and opened[0] not in closed:
                found.setdefault(*opened)
    return list(found.values())


async def _fetch(bootstrap: str, topic: str, dead_letter_id: str) -> DeadLetter:
    partition_number, offset = _parse_id(dead_letter_id)
    partition = TopicPartition(topic, partition_number)
    if partition not in await _partitions(bootstrap, topic):
        raise DeadLetterNotFound(f"{topic} has no partition {partition_number}")
    async with _consumer(bootstrap) as consumer:
        consumer.assign([partition])
        start = (await consumer.beginning_offsets([partition]))[partition]
        end = (await consumer.end_offsets([partition]))[partition]
        if not start <= offset < end:
            held = f"offsets {start} to {end - 1}" if start < end else "nothing"
            raise DeadLetterNotFound(
                f"no dead letter {dead_letter_id}: partition {partition_number} holds {held}"
            )
        consumer.seek(partition, offset)
        batches = await consumer.getmany(partition, timeout_ms=int(READ_TIMEOUT_S * 1000))
    records = batches.get(partition, [])
    if not records or records[0].offset != offset:
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id} in {topic}")
    return _from_record(records[0])


def _parse_id(dead_letter_id: str) -> tuple[int, int]:
    partition, separator, offset = dead_letter_id.partition(":")
    if not (separator and partition.isdigit() and offset.isdigit()):
        raise ValueError(f"dead letter id {dead_letter_id!r} is not <partition>:<offset>")
    return int(partition), int(offset)


def _from_record(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        headers={name: value.decode("utf-8", "replace") for name, value in record.headers},
        value=record.value or b"",
    )


def _preview(
    value: bytes, event: StepEvent | None
) -> tuple[Literal["protobuf-text", "utf-8", "hex"], str, bool]:
    """Text that cannot move a terminal's cursor or change its colours, cut to a screenful."""
    if event is not None:
        text = text_format.MessageToString(event, as_utf8=True)  # escapes control characters
        return "protobuf-text", text[:PREVIEW_MAX_CHARS], len(text) > PREVIEW_MAX_CHARS
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(char.isprintable() or char in "\n\t" for char in text):
        return "utf-8", text[:PREVIEW_MAX_CHARS], len(text) > PREVIEW_MAX_CHARS
    return "hex", value[:PREVIEW_MAX_BYTES].hex(" "), len(value) > PREVIEW_MAX_BYTES


# --- `conduit dlq ...` --------------------------------------------------------------------


def run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    """Run a parsed `conduit dlq` command; returns the process exit status."""
    if settings.bus != "kafka":
        print(
            "dead letters live in Kafka: set CONDUIT_BUS=kafka and CONDUIT_KAFKA_BOOTSTRAP",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_run_command(settings, args))
    except (DeadLetterNotFound, ValueError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KafkaError as exc:
        print(f"error: Kafka at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
    return 1


async def _run_command(settings: ConduitSettings, args: argparse.Namespace) -> int:
    bootstrap, topics = settings.kafka_bootstrap, Topics(settings.topic_prefix)
    if args.dlq_command == "list":
        listing = await list_dead_letters(
            bootstrap,
            topics,
            limit=args.limit,
            since_offset=args.since_offset,
            matching=DeadLetterFilter(service=args.service),
        )
        _emit(args.json, listing, _render_listing)
        return 0
    if args.dlq_command == "show":
        _emit(args.json, await show_dead_letter(bootstrap, topics, args.id), _render_detail)
        return 0
    ledger = RepublishLedger.for_topic(settings.data_dir, topics.deadletter)
    target = args.id or DeadLetterFilter(service=args.service, reason_contains=args.reason_contains)
    outcomes = await republish(
        bootstrap, topics, ledger, target, dry_run=args.dry_run, force=args.force
    )
    _emit(args.json, outcomes, _render_outcomes)
    # A named dead letter that was refused is a failure; `--all` skipping some is not.
    return 1 if args.id and outcomes[0].action == "refused" else 0


def _emit(as_json: bool, result: _T, render: Callable[[_T], str]) -> None:
    print(json.dumps(result, indent=2, default=_as_json) if as_json else render(result))


def _as_json(value: object) -> dict[str, Any]:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _render_listing(listing: DeadLetterListing) -> str:
    # Headers and event fields come from whoever published: flatten them before printing.
    rows = [
        [
            letter.id,
            letter.timestamp,
            one_line(letter.service, 40),
            "" if letter.attempts is None else str(letter.attempts),
            one_line(letter.origin, 200),
            str(letter.size),
            one_line(letter.request_id or "", 64),
            one_line(f"{letter.workflow}.{letter.step}" if letter.workflow else "", 64),
            one_line(letter.reason, REASON_COLUMN_CHARS),
        ]
        for letter in listing.dead_letters
    ]
    header = ["ID", "TIME", "SERVICE", "TRIES", "ORIGIN", "BYTES", "REQUEST", "STEP", "REASON"]
    footer = f"{len(rows)} of {listing.matched} dead letters (newest last)"
    return f"{render_table(header, rows)}\n{footer}" if rows else footer


def _render_detail(detail: DeadLetterDetail) -> str:
    summary = {field.name: getattr(detail, field.name) for field in fields(DeadLetterSummary)}
    width = max(len(name) for name in summary)
    lines = [
        f"{name:<{width}}  {'' if value is None else one_line(str(value), 1000)}".rstrip()
        for name, value in summary.items()
    ]
    lines.append("headers:")
    lines += [
        f"  {one_line(name, 200)}: {one_line(value, 1000)}"
        for name, value in sorted(detail.headers.items())
    ]
    truncated = ", truncated" if detail.preview_truncated else ""
    lines.append(f"payload ({detail.preview_format}, {detail.size} bytes{truncated}):")
    lines.append(detail.preview)
    return "\n".join(lines)


def _render_outcomes(outcomes: list[RepublishOutcome]) -> str:
    if not outcomes:
        return "no dead letters matched"
    return "\n".join(
        f"{outcome.id} -> {outcome.origin_topic or '?'}: {outcome.action} ({outcome.detail})"
        for outcome in outcomes
    )


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under a header, each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def one_line(text: str, limit: int) -> str:
    """`text` on one line of printable characters, cut to `limit` characters."""
    flat = " ".join(text.split())
    flat = "".join(char if char.isprintable() else "?" for char in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


ProtoMessage = TypeVar("ProtoMessage", bound=Message)


def parsed_or_none(empty: ProtoMessage, value: bytes | None) -> ProtoMessage | None:
    """`value` parsed into `empty`, or None when it is not that message."""
    try:
        empty.ParseFromString(value or b"")
    except DecodeError:
        return None
    return empty


def kafka_command(settings: ConduitSettings, what: str, run: Callable[[], int]) -> int:
    """`run()`'s exit status, or 2 without Kafka configured and 1 when Kafka fails."""
    if settings.bus != "kafka":
        print(f"{what} live in Kafka: set CONDUIT_BUS=kafka", file=sys.stderr)
        return 2
    try:
        return run()
    except (KafkaError, TimeoutError) as exc:
        print(f"error: Kafka at {settings.kafka_bootstrap}: {exc!r}", file=sys.stderr)
        return 1
