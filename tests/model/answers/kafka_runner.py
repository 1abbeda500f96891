"""Running conversations over Kafka with the real local model: six service processes against a
real loopback broker (`benchmarks.targets.kafka_stack`), the knowledge base indexed, the
IT-ops example API started first as a real process and named to every service process
(ITOPS_API_URL, ITOPS_API_TOKEN). The model is the default inference backend, read by each
process from the environment as the embedded runner reads it. Each run is judged at once.

One stack serves the whole run (starting six processes and a broker per conversation would
take longer than the conversations), so what one conversation leaves behind is undone before
the next:

- Payments are reset: before each conversation every payment the run created is deleted
  from the stack's business database (`<data dir>/tool-executor/business.sqlite3`; the
  payments present when the stack came up, none with the demo seed, are kept). Each
  conversation therefore starts from the company data a fresh data dir has, as in the
  embedded runner: a refund of INV-1001 is refundable in every refund conversation, not
  "already refunded" after the first, and the truth (`build_truth`, read from that same
  database after the conversation) holds exactly the payments this conversation made.
  A payment that is not this request's (its idempotency key names another request: a
  late side effect of an earlier conversation that timed out) is reported as a problem.
- Tickets are counted as the embedded runner counts them: the IT-ops API's list before and
  after an alert's conversation; the API keeps its tickets for the whole run.
- Every conversation has a session of its own (`answers-<id>-<random>`), so no history of an
  earlier conversation, or an earlier run of the same one, reaches the model.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import replace
from pathlib import Path

from benchmarks.targets import KafkaStack, kafka_stack
from conduit.stack import ServiceProcesses
from shared.contracts import Response
from tests.fixtures.itops import API_TOKEN, ItopsProcess
from tests.model.answers.dataset import Conversation
from tests.model.answers.judge import Judgement, Problem
from tests.model.answers.runner import (
    DEFAULT_TIMEOUT_S,
    ITOPS_TOKEN_ENV,
    ITOPS_URL_ENV,
    ConversationRunner,
    judge_response,
    read_tickets,
    timed_ask,
)
from tests.model.answers.truth import build_truth, business_db_path

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT_S",
    "KafkaConversationRunner",
    "delete_payments_except",
    "foreign_payments",
    "payment_ids",
]

# A broker, six processes (the model, MiniLM and spaCy among them) and the knowledge base
# indexed, on two shared CPUs.
DEFAULT_STARTUP_TIMEOUT_S = 600.0
_LOG_TAIL_CHARS = 2000


class KafkaConversationRunner:
    """Example:

    >>> async with KafkaConversationRunner.started() as runner:  # doctest: +SKIP
    ...     judgement = await runner.run(conversation)
    """

    def __init__(
        self,
        stack: KafkaStack,
        data_dir: Path,
        itops: ItopsProcess,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """`data_dir`: the stack's; its payments now are the ones kept by every reset."""
        self._stack = stack
        self._data_dir = data_dir
        self._itops = itops
        self._timeout_s = timeout_s
        self._seeded = payment_ids(business_db_path(data_dir))

    @classmethod
    @asynccontextmanager
    async def started(
        cls,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
        data_dir: Path | None = None,
    ) -> AsyncIterator[KafkaConversationRunner]:
        """The IT-ops API, then the broker and the six service processes on `data_dir` (a
        temporary directory when None), every process started; all stopped on exit."""
        ConversationRunner.require_real_model()
        async with AsyncExitStack() as cleanup:
            itops = ItopsProcess("examples.itops.http_api")
            cleanup.callback(itops.close)
            await asyncio.to_thread(itops.start)
            if data_dir is None:
                data_dir = Path(
                    cleanup.enter_context(
                        tempfile.TemporaryDirectory(prefix="conduit-answers-kafka-")
                    )
                )
            env = {ITOPS_URL_ENV: itops.url, ITOPS_TOKEN_ENV: API_TOKEN}
            stack = await cleanup.enter_async_context(
                kafka_stack(data_dir, startup_timeout_s, env=env)
            )
            await _all_started(stack.processes, startup_timeout_s)
            yield cls(stack, data_dir, itops, timeout_s=timeout_s)

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    async def run(self, conversation: Conversation) -> Judgement:
        """Run `conversation` once on the running stack, its payments reset, and judge it."""
        database = business_db_path(self._data_dir)
        await asyncio.to_thread(delete_payments_except, database, self._seeded)
        itops = self._itops if conversation.service else None
        before = await read_tickets(itops)
        response, failure, seconds = await self._ask(conversation)
        opened = [t for t in await read_tickets(itops) if t not in before]
        truth = build_truth(conversation, data_dir=self._data_dir, opened_tickets=opened)
        judgement = judge_response(conversation, response, truth, failure=failure, seconds=seconds)
        if response is None:
            return judgement
        strangers = foreign_payments(database, response.envelope.request_id, keep=self._seeded)
        if not strangers:
            return judgement
        late = Problem(
            "side_effect",
            f"{len(strangers)} payment(s) made during this conversation by another request "
            "(a late side effect of an earlier conversation): " + ", ".join(sorted(strangers)),
        )
        return replace(judgement, problems=(*judgement.problems, late))

    async def _ask(self, conversation: Conversation) -> tuple[Response | None, str, float]:
        """The response (None when none came), why none came, and the seconds it took."""
        return await timed_ask(
            self._stack.client,
            conversation,
            session_id=f"answers-{conversation.id}-{uuid.uuid4().hex[:8]}",
            timeout_s=self._timeout_s,
        )


def payment_ids(database: Path) -> frozenset[str]:
    """The ids of every payment in `database` (none when it does not exist yet)."""
    if not database.exists():
        return frozenset()
    with closing(_connect(database)) as db:
        return frozenset(row[0] for row in db.execute("SELECT payment_id FROM payments"))


def delete_payments_except(database: Path, keep: Collection[str]) -> int:
    """Delete every payment of `database` but those of `keep`; returns how many went."""
    if not database.exists():
        return 0
    with closing(_connect(database)) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            doomed = [
                (row[0],)
                for row in db.execute("SELECT payment_id FROM payments")
                if row[0] not in keep
            ]
            db.executemany("DELETE FROM payments WHERE payment_id = ?", doomed)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return len(doomed)


def foreign_payments(database: Path, request_id: str, *, keep: Collection[str]) -> set[str]:
    """Payments in `database`, beyond `keep`, that request `request_id` did not make: the
    tool-executor's idempotency key of a call begins with its request's id
    (`services.tool_executor.service.idempotency_key`)."""
    if not database.exists():
        return set()
    with closing(_connect(database)) as db:
        rows = db.execute("SELECT payment_id, idempotency_key FROM payments").fetchall()
    return {
        str(payment)
        for payment, key in rows
        if payment not in keep and not str(key).startswith(f"{request_id}:")
    }


def _connect(database: Path) -> sqlite3.Connection:
    """Autocommit, waiting for the tool-executor's write transactions (WAL mode)."""
    return sqlite3.connect(database, isolation_level=None, timeout=30.0)


async def _all_started(processes: ServiceProcesses, timeout_s: float) -> None:
    """Wait until every service process has logged `started <name>`: its model loaded and
    its consumers subscribed, so the first conversation's time is the conversation's."""
    deadline = time.monotonic() + timeout_s
    while waiting := [
        key for key in processes.alive() if f"started {key}" not in processes.log(key)
    ]:
        dead = [key for key in waiting if not processes.alive()[key]]
        if dead:
            tails = "\n".join(f"--- {key}\n{processes.log(key)[-_LOG_TAIL_CHARS:]}" for key in dead)
            raise RuntimeError(f"service processes died during start-up: {dead}\n{tails}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"service processes not started within {timeout_s} s: {waiting}")
        await asyncio.sleep(0.5)
