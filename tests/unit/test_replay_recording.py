"""Recordings: grouped by request from what the topics hold, selected, kept in JSONL."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduit.replay import Recording, Selection, assemble, read_recordings, write_recordings
from shared.contracts import Response, StepEvent
from tests.fixtures.replay.runs import recorded_run


def _assembled_from_topics(*runs: Recording) -> list[Recording]:
    """The runs' messages mixed together as the topics would hold them, assembled."""
    return assemble(
        [run.request for run in runs],
        responses=[run.response for run in runs if run.response is not None],
        step_events=[event for run in runs for event in run.step_events],
        audit=[record for run in runs for record in run.audit],
    )


def test_assembling_groups_each_requests_messages_oldest_first() -> None:
    later = recorded_run(request_id="b", created_ms=20)
    earlier = recorded_run(request_id="a", created_ms=5)

    assert _assembled_from_topics(later, earlier) == [earlier, later]


def test_a_redelivered_event_or_audit_record_counts_once() -> None:
    run = recorded_run()

    [recording] = _assembled_from_topics(run, run)

    assert len(recording.step_events) == 1, recording.step_events
    assert len(recording.audit) == len(run.audit), recording.audit


def test_the_outcome_is_the_first_response_past_a_pending_one() -> None:
    run = recorded_run()
    assert run.response is not None
    pending = Response(envelope=run.response.envelope)
    pending.pending.approval_id = "approval-1"

    [recording] = assemble([run.request], responses=[pending, run.response])

    assert recording.response == run.response, "the pending response hid the outcome"


def test_a_persons_later_reply_is_no_outcome_of_the_pipeline() -> None:
    handed_over = recorded_run(answer=None)
    assert handed_over.response is not None
    reply = Response(envelope=handed_over.response.envelope)
    reply.answer.text = "A person answered."

    [recording] = assemble([handed_over.request], responses=[handed_over.response, reply])

    assert recording.response == handed_over.response, "the handoff was replaced by a reply"


@pytest.mark.parametrize(
    ("selection", "chosen"),
    [
        (Selection(request_ids=frozenset({"b"})), ["b"]),
        (Selection(tenant_id="acme"), ["c"]),
        (Selection(since_ms=20), ["b", "c"]),
        (Selection(since_ms=10, until_ms=30), ["b"]),
        (Selection(), ["a", "b", "c"]),
    ],
    ids=["request-id", "tenant", "since", "time-range", "everything"],
)
def test_a_selection_picks_requests_by_id_tenant_and_creation_time(
    selection: Selection, chosen: list[str]
) -> None:
    runs = [
        recorded_run(request_id="a", created_ms=5),
        recorded_run(request_id="b", created_ms=20),
        recorded_run(request_id="c", created_ms=30, tenant_id="acme"),
    ]

    recordings = assemble([run.request for run in runs], selection=selection)

    assert [r.request_id for r in recordings] == chosen


def test_recordings_survive_a_round_trip_through_the_export_file(tmp_path: Path) -> None:
    runs = [recorded_run(request_id="a"), recorded_run(request_id="b", answer=None)]
    path = tmp_path / "export.jsonl"

    write_recordings(path, runs)

    assert read_recordings(path) == runs
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2, "one line per request"


def test_a_broken_export_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    write_recordings(path, [recorded_run()])
    path.write_text(path.read_text(encoding="utf-8") + '{"request": 7}\n', encoding="utf-8")

    with pytest.raises(ValueError, match=r"export.jsonl:2: not a recording"):
        read_recordings(path)


def test_a_recording_without_response_takes_its_tool_calls_from_the_latest_step() -> None:
    run = recorded_run()
    assert run.response is not None
    last_step = StepEvent(envelope=run.request.envelope)
    last_step.tool_exchanges.extend(run.response.tool_exchanges)

    recording = Recording(request=run.request, step_events=(*run.step_events, last_step))

    assert recording.tool_exchanges() == list(run.response.tool_exchanges)
