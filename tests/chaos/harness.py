"""The chaos and soak harness: six service processes on a real broker, traffic, and checks.

`ChaosStack` starts the six services on a fresh topic prefix against a given broker, with
a business database holding thousands of refundable invoices (one per refund request).
`Traffic` publishes refund, order and product requests, records every response (and, on
request, every step event) from the moment it starts, and says which requests were lost,
answered twice or paid twice.

Example::

    stack = ChaosStack(kafka, data_dir)
    stack.start()
    async with Traffic(stack) as traffic:
        sent = [await traffic.send(kind) for kind in ("refund", "order", "product")]
        await traffic.wait_for(sent, timeout_s=90)
        traffic.delivery(sent).assert_exactly_once_effects()
    stack.stop()
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from benchmarks.refunds import create_business_db, invoice_id, refund_text, refunds_per_invoice
from benchmarks.targets import SCRIPTED_MODEL_ENV, load_knowledge
from conduit.stack import ServiceProcesses, process_key
from services.catalog import SERVICE_NAMES
from shared.bus import BusMessage, Topics
from shared.bus.base import Listener
from shared.bus.kafka import KafkaBus
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.contracts import Response, StepEvent, StepRecord, UserRequest, new_envelope
from shared.runtime.steps import headers_for
from shared.testing import KafkaServer

Kind = Literal["refund", "order", "product"]
KINDS: tuple[Kind, ...] = ("refund", "order", "product")

ORDERS = ("ORD-5001", "ORD-5002", "ORD-5003")
PRODUCT_QUESTION = "How long is the warranty and what does it cover?"
STARTUP_TIMEOUT_S = 180.0
# Generous: a killed service restarts and its group rebalances before requests move on.
REQUEST_TIMEOUT_S = 120.0
LOG_TAIL_CHARS = 2500
# A duplicate response follows its original within a redelivery; wait that long for it.
LINGER_S = 2.0


class ChaosStack:
    """Broker-side topics, six service processes and the company database of one run.

    Example: `stack = ChaosStack(kafka, tmp); stack.start(); ...; stack.stop()`.
    """

    def __init__(self, kafka: KafkaServer, data_dir: Path, *, invoices: int = 3000) -> None:
        self.kafka = kafka
        self.data_dir = data_dir
        self.topics = Topics(f"chaos{time.time_ns()}")
        self.business_db = data_dir / "business.sqlite3"
        self._invoices = invoices
        self._next_invoice = itertools.count()
        self.processes = ServiceProcesses(
            bootstrap=kafka.bootstrap_servers,
            data_dir=data_dir,
            env={
                **SCRIPTED_MODEL_ENV,
                "CONDUIT_TOPIC_PREFIX": self.topics.prefix,
                "CONDUIT_TOOL_EXECUTOR_DB": str(self.business_db),
            },
        )

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Create the database and topics, start the services and index the knowledge."""
        create_business_db(self.business_db, invoices=self._invoices)
        # Up front, so no process races the broker's auto-creation with its own partitions.
        self.kafka.create_topics(
            self.topics.all_for(list(SERVICE_NAMES)), ConduitSettings().kafka_partitions
        )
        self.processes.start_all()
        try:
            _run_blocking(self._load_knowledge(timeout_s))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.processes.stop_all()

    def take_invoice(self) -> str:
        """A refundable invoice no earlier request of this stack has used."""
        index = next(self._next_invoice)
        if index >= self._invoices:
            raise RuntimeError(f"all {self._invoices} refundable invoices are used up")
        return invoice_id(index)

    def payments_per_invoice(self) -> Counter[str]:
        return refunds_per_invoice(self.business_db)

    def rss_kib(self) -> dict[str, int]:
        """Resident memory of each running service process (VmRSS), in KiB."""
        sizes = {}
        for key, alive in self.processes.alive().items():
            if alive:
                sizes[key] = _vm_rss_kib(self.processes.pid(key))
        return sizes

    def assert_all_alive(self) -> None:
        dead = [key for key, alive in self.processes.alive().items() if not alive]
        assert not dead, f"service processes died: {dead}\n{self.describe(dead)}"

    def describe(self, keys: Iterable[str] | None = None) -> str:
        """The tail of each service's log, for assertion messages."""
        chosen = list(self.processes.alive()) if keys is None else list(keys)
        return "\n".join(
            f"--- {key}\n{self.processes.log(key)[-LOG_TAIL_CHARS:]}" for key in chosen
        )

    def start_replica(self, name: str, replica: int) -> tuple[str, int]:
        """Start another process of service `name`: its key and where its new log begins."""
        key = process_key(name, replica)
        log_start = len(self.processes.log(key))
        self.processes.start(name, replica)
        return key, log_start

    async def wait_for_log(
        self, key: str, text: str, *, after: int = 0, timeout_s: float = 60.0
    ) -> None:
        """Until `text` appears in the log of process `key` past character `after`."""
        deadline = time.monotonic() + timeout_s
        while text not in self.processes.log(key)[after:]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key} did not log {text!r} within {timeout_s} s")
            if not self.processes.alive().get(key, False):
                raise RuntimeError(f"{key} died:\n{self.describe([key])}")
            await asyncio.sleep(0.2)

    async def _load_knowledge(self, timeout_s: float) -> None:
        bus = KafkaBus(self.kafka.bootstrap_servers, client_id="chaos-knowledge")
        await bus.start()
        try:
            client = ConduitClient(bus, self.topics)
            await load_knowledge(client, self.processes, self.data_dir, timeout_s)
        finally:
            await bus.stop()


@dataclass(frozen=True)
class Sent:
    """One published request."""

    request_id: str
    session_id: str
    kind: Kind
    invoice_id: str | None
    sent_at: float


@dataclass(frozen=True)
class Received:
    response: Response
    received_at: float

    @property
    def outcome(self) -> str:
        return self.response.WhichOneof("outcome") or "none"


@dataclass
class Delivery:
    """What happened to a set of sent requests. Example:
    `traffic.delivery(sent).assert_exactly_once_effects()`."""

    sent: Sequence[Sent]
    responses: dict[str, list[Received]]
    payments: Counter[str]
    context: Callable[[], str] = field(repr=False, default=lambda: "")

    @property
    def lost(self) -> list[Sent]:
        """Requests with no final response at all."""
        return [s for s in self.sent if not self.responses.get(s.request_id)]

    @property
    def answered_more_than_once(self) -> list[Sent]:
        """Requests with two different final responses. A re-run step re-emits its response
        with the same derived event id, which a consumer recognises as one response."""
        return [
            s
            for s in self.sent
            if len({r.response.envelope.event_id for r in self.responses.get(s.request_id, [])}) > 1
        ]

    @property
    def errors(self) -> list[Response]:
        """First responses that are errors: chaos must delay requests, not fail them."""
        return [
            received[0].response
            for s in self.sent
            if (received := self.responses.get(s.request_id)) and received[0].outcome == "error"
        ]

    @property
    def double_paid(self) -> dict[str, int]:
        return {
            s.invoice_id: self.payments[s.invoice_id]
            for s in self.sent
            if s.invoice_id is not None and self.payments[s.invoice_id] > 1
        }

    @property
    def refunds_answered_unpaid(self) -> list[str]:
        """Refunds whose first response is an answer, yet no payment exists."""
        return [
            s.invoice_id
            for s in self.sent
            if s.invoice_id is not None
            and (received := self.responses.get(s.request_id))
            and received[0].outcome == "answer"
            and self.payments[s.invoice_id] == 0
        ]

    def outcomes(self) -> Counter[str]:
        return Counter(
            received[0].outcome if (received := self.responses.get(s.request_id)) else "lost"
            for s in self.sent
        )

    def latencies_s(self) -> list[float]:
        """Publish to first response, per answered request."""
        return [
            received[0].received_at - s.sent_at
            for s in self.sent
            if (received := self.responses.get(s.request_id))
        ]

    def summary(self) -> str:
        return (
            f"{len(self.sent)} sent, outcomes {dict(self.outcomes())}, "
            f"{len(self.answered_more_than_once)} answered more than once, "
            f"{sum(self.payments[s.invoice_id] for s in self.sent if s.invoice_id)} payments "
            f"for {sum(1 for s in self.sent if s.invoice_id)} refunds"
        )

    def assert_exactly_once_effects(self) -> None:
        """Nothing lost, nothing failed, no invoice paid twice, every answered refund paid."""
        lost = [s.request_id for s in self.lost]
        assert not lost, f"{len(lost)} requests got no response: {lost}\n{self.context()}"
        errors = [f"{e.envelope.request_id}: {e.error}" for e in self.errors]
        assert not errors, f"requests failed instead of completing: {errors}\n{self.context()}"
        assert not self.double_paid, (
            f"invoices refunded more than once: {self.double_paid}\n{self.context()}"
        )
        twice = [s.request_id for s in self.answered_more_than_once]
        assert not twice, f"requests with two different final responses: {twice}\n{self.context()}"
        assert not self.refunds_answered_unpaid, (
            f"refunds answered without a payment: {self.refunds_answered_unpaid}"
        )


class Traffic:
    """A client of one `ChaosStack` that records everything from the moment it starts.

    `record_steps=True` also taps every service's step topic, for ordering checks.
    """

    def __init__(self, stack: ChaosStack, *, record_steps: bool = False) -> None:
        self.stack = stack
        self._topics = stack.topics
        self._record_steps = record_steps
        self._bus = KafkaBus(stack.kafka.bootstrap_servers, client_id="chaos-traffic")
        self._listeners: list[Listener] = []
        self.responses: dict[str, list[Received]] = {}
        self.dead_letters: list[BusMessage] = []
        self.sent: list[Sent] = []
        self._step_records: dict[str, list[StepRecord]] = {}
        self._waiting: dict[str, asyncio.Future[Response]] = {}
        self._session_numbers = itertools.count()

    async def __aenter__(self) -> Self:
        await self._bus.start()
        try:
            await self._listen(self._topics.responses, self._on_response)
            await self._listen(self._topics.deadletter, self._on_dead_letter)
            if self._record_steps:
                for service in SERVICE_NAMES:
                    await self._listen(self._topics.step(service), self._on_step)
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    def new_session(self, label: str = "s") -> str:
        return f"{self._topics.prefix}-{label}-{next(self._session_numbers)}"

    async def send(self, kind: Kind, *, session_id: str | None = None) -> Sent:
        """Publish one request (its own session unless given); returns once it is stored."""
        invoice = self.stack.take_invoice() if kind == "refund" else None
        session = session_id or self.new_session(kind)
        text = _message(kind, invoice, len(self.sent))
        event = StepEvent(
            envelope=new_envelope(session_id=session, timeout_s=REQUEST_TIMEOUT_S),
            request=UserRequest(text=text),
        )
        sent = Sent(event.envelope.request_id, session, kind, invoice, time.monotonic())
        await self._bus.publish(
            self._topics.ingest,
            event.SerializeToString(),
            key=session,
            headers=headers_for(event),
        )
        self.sent.append(sent)
        return sent

    def in_flight(self) -> int:
        """Requests sent so far that have no response yet."""
        return sum(1 for s in self.sent if not self.responses.get(s.request_id))

    async def publish_raw(self, value: bytes, *, key: str) -> None:
        await self._bus.publish(self._topics.ingest, value, key=key, headers={})

    async def ask(self, kind: Kind, timeout_s: float = REQUEST_TIMEOUT_S) -> Sent:
        """Send and wait for the first response (closed-loop load); TimeoutError if none."""
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        sent = await self.send(kind)
        if self.responses.get(sent.request_id):
            return sent
        self._waiting[sent.request_id] = future
        try:
            await asyncio.wait_for(future, timeout_s)
        finally:
            self._waiting.pop(sent.request_id, None)
        return sent

    async def wait_for(
        self,
        sent: Sequence[Sent],
        timeout_s: float = REQUEST_TIMEOUT_S,
        *,
        linger_s: float = LINGER_S,
    ) -> None:
        """Until every request has a response, or `timeout_s` (then the checks report it);
        then `linger_s` more, so late duplicate responses are counted too."""
        deadline = time.monotonic() + timeout_s
        while any(not self.responses.get(s.request_id) for s in sent):
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)
        await asyncio.sleep(linger_s)

    def delivery(self, sent: Sequence[Sent]) -> Delivery:
        return Delivery(
            sent=list(sent),
            responses={s.request_id: list(self.responses.get(s.request_id, [])) for s in sent},
            payments=self.stack.payments_per_invoice(),
            context=self.stack.describe,
        )

    def session_order_violations(self, sent: Sequence[Sent]) -> list[str]:
        """Steps that first ran the requests of a session in another order than sent.

        Built from the step records of every tapped step event and response (so it needs
        `record_steps=True`): a step run twice (a redelivery) counts at its first run.
        """
        first_run: dict[tuple[str, str], dict[str, int]] = {}
        for s in sent:
            for record in self._step_records.get(s.request_id, []):
                runs = first_run.setdefault((record.service, record.step), {})
                earliest = runs.get(s.request_id, record.started_unix_us)
                runs[s.request_id] = min(earliest, record.started_unix_us)
        violations = []
        for session in dict.fromkeys(s.session_id for s in sent):
            in_send_order = [s.request_id for s in sent if s.session_id == session]
            for (service, step), runs in sorted(first_run.items()):
                expected = [r for r in in_send_order if r in runs]
                actual = sorted(expected, key=runs.__getitem__)
                if actual != expected:
                    violations.append(
                        f"{service}.{step} ran session {session} as {actual}, sent {expected}"
                    )
        return violations

    async def _listen(self, topic: str, handler: Callable[[BusMessage], Awaitable[None]]) -> None:
        self._listeners.append(await self._bus.listen(topic, handler))

    async def _on_response(self, message: BusMessage) -> None:
        response = Response.FromString(message.value)
        request_id = response.envelope.request_id
        self.responses.setdefault(request_id, []).append(Received(response, time.monotonic()))
        self._keep_steps(request_id, response.steps)
        waiting = self._waiting.get(request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(response)

    async def _on_dead_letter(self, message: BusMessage) -> None:
        self.dead_letters.append(message)

    async def _on_step(self, message: BusMessage) -> None:
        event = StepEvent.FromString(message.value)
        self._keep_steps(event.envelope.request_id, event.steps)

    def _keep_steps(self, request_id: str, records: Iterable[StepRecord]) -> None:
        if self._record_steps:
            self._step_records.setdefault(request_id, []).extend(records)

    async def _close(self) -> None:
        for listener in self._listeners:
            await listener.close()
        await self._bus.stop()


async def drive(
    traffic: Traffic,
    *,
    count: int,
    pace_s: float,
    kinds: Sequence[Kind] = KINDS,
    sessions: Sequence[str] = (),
) -> list[Sent]:
    """Publish `count` requests one every `pace_s`, cycling through `kinds`; with `sessions`,
    request i goes to session i mod len(sessions), else each to its own session."""
    sent = []
    for index in range(count):
        session = sessions[index % len(sessions)] if sessions else None
        sent.append(await traffic.send(kinds[index % len(kinds)], session_id=session))
        await asyncio.sleep(pace_s)
    return sent


@dataclass
class LoadRun:
    """A closed-loop run: what was sent, how long it took, and service RSS at checkpoints."""

    sent: list[Sent]
    wall_s: float
    timeouts: int
    # Completed requests when measured -> resident KiB per service process.
    rss_kib: dict[int, dict[str, int]]


async def run_load(
    traffic: Traffic,
    *,
    requests: int,
    concurrency: int,
    rss_every: int = 0,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> LoadRun:
    """`requests` requests cycling through the kinds, each worker waiting for its response
    before the next; RSS is sampled before, after every `rss_every` completions and at
    the end."""
    indexes = iter(range(requests))
    first = len(traffic.sent)
    rss = {0: traffic.stack.rss_kib()}
    finished = timeouts = 0

    async def worker() -> None:
        nonlocal finished, timeouts
        for index in indexes:
            try:
                await traffic.ask(KINDS[index % len(KINDS)], timeout_s)
            except TimeoutError:
                timeouts += 1
            finished += 1
            if rss_every and finished % rss_every == 0:
                rss[finished] = traffic.stack.rss_kib()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall_s = time.perf_counter() - started
    rss[finished] = traffic.stack.rss_kib()
    return LoadRun(sent=traffic.sent[first:], wall_s=wall_s, timeouts=timeouts, rss_kib=rss)


def _message(kind: Kind, invoice: str | None, number: int) -> str:
    if invoice is not None:
        return refund_text(invoice)
    if kind == "order":
        return f"Hi, where is my order {ORDERS[number % len(ORDERS)]}? It has been a week."
    return PRODUCT_QUESTION


def _vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def _run_blocking(coroutine: Awaitable[None]) -> None:
    """Run a coroutine to completion from sync code, even inside a running event loop."""

    async def main() -> None:
        await coroutine

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaos-stack") as pool:
        pool.submit(asyncio.run, main()).result()
