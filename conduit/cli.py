"""The `conduit` command line."""

from __future__ import annotations

import argparse
import asyncio
import runpy
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from conduit import approvals, audit, deadletters, demo, handoffs, route_eval
from conduit.dry_run import route_message
from conduit.embedded import EmbeddedConduit
from conduit.replay import command as replay
from conduit.report import render_response
from conduit.stack import ServiceProcesses
from conduit.streaming import StreamPrinter
from conduit.validate import validate_config
from conduit.waterfall import render, request_spans, spans_from_file, spans_from_jaeger
from services.catalog import APPROVALS, GATEWAY, SERVICE_NAMES, factory, module_for
from services.retrieval.knowledge import document_events_from_dir
from shared.bus import Topics
from shared.client import ConduitClient
from shared.config import ConduitSettings
from shared.contracts import Response
from shared.pii.sealing import VaultKeys
from shared.runtime import make_bus, run_service
from shared.testing import KafkaServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conduit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="three sample conversations, embedded, on the local model")
    ask = commands.add_parser("ask", help="ask one question and wait for the response")
    ask.add_argument("text")
    ask.add_argument("--session", default=None, help="conversation id (default: a new one)")
    ask.add_argument("--tenant", default="default")
    ask.add_argument("--user", default="cli-user")
    ask.add_argument("--role", action="append", dest="roles", help="repeatable; default customer")
    ask.add_argument("--timeout", type=float, default=120.0)
    up = commands.add_parser("up", help="run a service, the Kafka broker, or the whole stack")
    up.add_argument("target", choices=[*SERVICE_NAMES, GATEWAY, APPROVALS, "kafka", "all"])
    ingest = commands.add_parser("ingest", help="publish a folder of documents for retrieval")
    ingest.add_argument("directory", type=Path)
    ingest.add_argument("--tenant", default="default")
    commands.add_parser("validate", help="load and cross-check every declarative file")
    route = commands.add_parser(
        "route", help="dry run: the route a message would take (no model, no tool runs)"
    )
    route.add_argument("text")
    route.add_argument("--tenant", default="default")
    route.add_argument("--role", dest="roles", action="append", help="repeatable; customer")
    commands.add_parser(
        "pii-vault-keys", help="a new PII vault key pair, as the settings that take it"
    )
    trace = commands.add_parser("trace", help="one request's spans as a waterfall")
    trace.add_argument("request_id")
    trace.add_argument("--jaeger", metavar="URL", help="Jaeger query API, e.g. http://host:16686")
    trace.add_argument(
        "--file", type=Path, help="local trace file (default <data_dir>/traces.jsonl)"
    )
    dlq = commands.add_parser("dlq", help="list, inspect and re-publish dead letters (Kafka)")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="the newest dead letters, as a table")
    dlq_list.add_argument("--limit", type=int, default=50)
    dlq_list.add_argument("--service", default=None, help="only those this service rejected")
    dlq_list.add_argument("--since-offset", type=int, default=0, help="skip lower offsets")
    dlq_show = dlq_commands.add_parser("show", help="one dead letter: headers and payload")
    dlq_show.add_argument("id", help="<partition>:<offset>, as `dlq list` shows it")
    dlq_republish = dlq_commands.add_parser(
        "republish", help="publish the original bytes back to their origin topic"
    )
    selection = dlq_republish.add_mutually_exclusive_group(required=True)
    selection.add_argument("id", nargs="?", help="<partition>:<offset>, as `dlq list` shows it")
    selection.add_argument("--all", action="store_true", help="every one matching the filters")
    dlq_republish.add_argument("--service", default=None, help="with --all: rejected by it")
    dlq_republish.add_argument("--reason-contains", default=None, help="with --all")
    dlq_republish.add_argument("--dry-run", action="store_true", help="report, publish nothing")
    dlq_republish.add_argument("--force", action="store_true", help="even if done before")
    for dlq_command in (dlq_list, dlq_show, dlq_republish):
        dlq_command.add_argument("--json", action="store_true", help="JSON for scripts")
    for command_module in (approvals, handoffs, replay, route_eval):
        command_module.add_parser(commands)
    audit_query = commands.add_parser("audit", help="query the audit trail (Kafka), as a table")
    audit_query.add_argument("--request", default=None, help="only this request id")
    audit_query.add_argument("--tenant", default=None, help="only this tenant")
    audit_query.add_argument("--tool", default=None, help="only calls and refusals of this tool")
    audit_query.add_argument("--kind", choices=audit.KINDS, default=None)
    audit_query.add_argument("--limit", type=int, default=100, help="the newest N (default 100)")
    return parser


# Commands that report how it went as the exit status.
_STATUS_COMMANDS: dict[str, Callable[[ConduitSettings, argparse.Namespace], int]] = {
    "eval": route_eval.run_command,
    "dlq": deadletters.run_command,
    "approvals": approvals.run_command,
    "handoff": handoffs.run_command,
    "audit": audit.run_command,
    "replay": replay.run_command,
}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = ConduitSettings()
    if args.command in _STATUS_COMMANDS:
        status = _STATUS_COMMANDS[args.command](settings, args)
        if status:
            sys.exit(status)
    elif args.command == "demo":
        demo.main()
    elif args.command == "ask":
        response = asyncio.run(_ask(settings, args))
        print(render_response(response))
        sys.exit(0 if response.HasField("answer") else 1)
    elif args.command == "up":
        _up(settings, args.target)
    elif args.command == "ingest":
        print(f"published {asyncio.run(_ingest(settings, args.directory, args.tenant))} documents")
    elif args.command == "trace":
        print(_trace(settings, args))
    elif args.command == "validate":
        print(validate_config(settings.config_dir))
    elif args.command == "route":
        roles = args.roles or ["customer"]
        print(route_message(settings, args.text, tenant_id=args.tenant, roles=roles))
    elif args.command == "pii-vault-keys":
        _print_vault_keys()


def _print_vault_keys() -> None:
    keys = VaultKeys.generate()
    print("# the edge (gateway, CLI) and every service:")
    print(f"CONDUIT_PII_VAULT_PUBLIC_KEY={keys.public_text()}")
    print("# the tool-executor only, as a secret:")
    print(f"CONDUIT_TOOL_EXECUTOR_PII_VAULT_PRIVATE_KEY={keys.private_text()}")


def _trace(settings: ConduitSettings, args: argparse.Namespace) -> str:
    if args.jaeger:
        spans = spans_from_jaeger(args.jaeger, args.request_id)
    else:
        path = args.file or settings.trace_file or settings.data_dir / "traces.jsonl"
        spans = spans_from_file(path)
    return render(request_spans(spans, args.request_id), args.request_id)


async def _ask(settings: ConduitSettings, args: argparse.Namespace) -> Response:
    session = args.session or f"cli-{int(time.time() * 1000)}"
    printer = StreamPrinter(sys.stdout)
    options = {
        "session_id": session,
        "tenant_id": args.tenant,
        "user_id": args.user,
        "roles": args.roles or ["customer"],
        "timeout_s": args.timeout,
        "on_chunk": printer.show,
    }
    if settings.bus == "memory":
        with tempfile.TemporaryDirectory(prefix="conduit-ask-") as data_dir:
            embedded = settings.model_copy(update={"data_dir": Path(data_dir)})
            async with EmbeddedConduit(embedded) as conduit:
                await conduit.load_knowledge(settings.config_dir / "knowledge", args.tenant)
                response = await conduit.client.ask(args.text, **options)
                printer.finish()
                return response
    bus = make_bus(settings, client_id="conduit-cli")
    # An operator holding the principal key vouches for the CLI's questions, as the
    # gateway does for its callers.
    client = ConduitClient.from_settings(bus, settings)
    await bus.start()
    await client.start()
    try:
        response = await client.ask(args.text, **options)
        printer.finish()
        return response
    finally:
        await client.close()
        await bus.stop()


async def _ingest(settings: ConduitSettings, directory: Path, tenant: str) -> int:
    bus = make_bus(settings, client_id="conduit-ingest")
    client = ConduitClient(bus, Topics(settings.topic_prefix))
    await bus.start()
    try:
        documents = document_events_from_dir(directory, tenant)
        for document in documents:
            await client.publish_document(document)
        return len(documents)
    finally:
        await bus.stop()


def _up(settings: ConduitSettings, target: str) -> None:
    if target in SERVICE_NAMES:
        run_service(factory(target))
        return
    if target in (GATEWAY, APPROVALS):
        runpy.run_module(module_for(target), run_name="__main__")
        return
    with KafkaServer() as kafka:
        print(
            f"kafka listening: export CONDUIT_BUS=kafka "
            f"CONDUIT_KAFKA_BOOTSTRAP={kafka.bootstrap_servers}",
            flush=True,
        )
        stack = None
        if target == "all":
            stack = ServiceProcesses(
                bootstrap=kafka.bootstrap_servers, data_dir=settings.data_dir / "stack"
            )
            stack.start_all()
            stack.start(GATEWAY)
            stack.start(APPROVALS)
            print(
                f"services started: {', '.join(SERVICE_NAMES)}, {GATEWAY}, {APPROVALS}; logs in "
                f"{settings.data_dir / 'stack' / 'logs'}",
                flush=True,
            )
        try:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            if stack is not None:
                stack.stop_all()
