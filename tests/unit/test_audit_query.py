"""`conduit audit`: choosing and printing audit records (the Kafka read is tested end to end)."""

from __future__ import annotations

from conduit.audit import AuditFilter, AuditListing, render_listing, select
from shared.contracts import AuditRecord, Principal


def _record(
    audit_id: str,
    *,
    at: int = 1_700_000_000_000,
    kind: str = "tool_call",
    subject: str = "issue_refund",
    request_id: str = "r1",
    tenant_id: str = "acme",
    detail: str = "",
) -> AuditRecord:
    return AuditRecord(
        audit_id=audit_id,
        at_unix_ms=at,
        request_id=request_id,
        tenant_id=tenant_id,
        principal=Principal(user_id="u-7", roles=["customer"]),
        service="tool-executor",
        kind=kind,
        subject=subject,
        outcome="ok",
        detail=detail,
        idempotency_key=f"{request_id}:refund.act@6:c1",
    )


def _ids(listing: AuditListing) -> list[str]:
    return [record.audit_id for record in listing.records]


def _select(
    *records: AuditRecord, matching: AuditFilter | None = None, limit: int = 100
) -> AuditListing:
    values = [record.SerializeToString() for record in records]
    return select(values, matching or AuditFilter(), limit=limit)


def test_a_record_written_twice_is_listed_once_as_first_written() -> None:
    listing = _select(_record("a", detail="first"), _record("a", detail="replayed"))

    assert [r.detail for r in listing.records] == ["first"], "duplicates must collapse to the first"
    assert listing.matched == 1, f"a duplicate was counted: {listing.matched}"


def test_records_are_listed_in_time_order_whatever_the_partition_order() -> None:
    listing = _select(_record("late", at=3), _record("early", at=1), _record("middle", at=2))

    assert _ids(listing) == ["early", "middle", "late"], _ids(listing)


def test_the_limit_keeps_the_newest_and_counts_every_match() -> None:
    listing = _select(*(_record(f"r{n}", at=n) for n in range(5)), limit=2)

    assert _ids(listing) == ["r3", "r4"], _ids(listing)
    assert listing.matched == 5, "the total must count what the limit left out"


def test_a_tool_query_finds_calls_and_refusals_of_that_tool_only() -> None:
    records = [
        _record("call", subject="issue_refund"),
        _record("refusal", kind="authorization", subject="issue_refund"),
        _record("other", subject="lookup_invoice"),
        _record("check", kind="guardrail", subject="issue_refund"),
    ]

    listing = _select(*records, matching=AuditFilter(tool="issue_refund"))

    assert _ids(listing) == ["call", "refusal"], _ids(listing)


def test_request_tenant_and_kind_filters_combine() -> None:
    records = [
        _record("match", request_id="r1", tenant_id="acme", kind="guardrail"),
        _record("other request", request_id="r2", tenant_id="acme", kind="guardrail"),
        _record("other tenant", request_id="r1", tenant_id="globex", kind="guardrail"),
        _record("other kind", request_id="r1", tenant_id="acme"),
    ]

    listing = _select(
        *records, matching=AuditFilter(request_id="r1", tenant_id="acme", kind="guardrail")
    )

    assert _ids(listing) == ["match"], _ids(listing)


def test_bytes_that_are_no_audit_record_are_skipped_and_counted() -> None:
    values = [b"\xff\x00 not protobuf", b"", _record("a").SerializeToString()]

    listing = select(values, AuditFilter(), limit=10)

    assert _ids(listing) == ["a"], _ids(listing)
    assert listing.unreadable == 2, f"unreadable records miscounted: {listing.unreadable}"


def test_the_table_shows_who_what_and_outcome_with_the_detail_cut_to_one_line() -> None:
    listing = _select(_record("a", detail="line one\nline two \x1b[31m" + "y" * 200))

    table = render_listing(listing)

    header, row, footer = table.splitlines()
    for column in ("TIME", "TENANT", "USER", "KIND", "SUBJECT", "OUTCOME", "IDEMPOTENCY KEY"):
        assert column in header, f"column {column} missing: {header}"
    for value in ("2023-11-14T22:13:20+00:00", "acme", "u-7", "issue_refund", "r1:refund.act@6:c1"):
        assert value in row, f"{value} missing from the row: {row}"
    assert "\x1b" not in row, "control characters from the topic reached the terminal"
    assert row.endswith("…"), "a long detail must be cut"
    assert footer == "1 of 1 audit records (newest last)", footer


def test_an_empty_listing_prints_only_the_count() -> None:
    assert (
        render_listing(AuditListing(records=[], matched=0)) == "0 of 0 audit records (newest last)"
    )
