"""Document parsing: Markdown, plain text and HTML into titled sections, bad input rejected."""

import pytest

from services.retrieval.documents import decode_document
from services.retrieval.parsing import DocumentRejected, ParsedDocument, Section, parse_document
from shared.contracts import DocumentEvent


def _headings(document: ParsedDocument) -> list[str]:
    return [section.heading for section in document.sections]


def _paragraphs(document: ParsedDocument) -> list[str]:
    return [paragraph for section in document.sections for paragraph in section.paragraphs]


def test_markdown_headings_name_sections_by_their_heading_path() -> None:
    text = "intro\n\n# Policy\n\nall\n\n## Refunds\n\nback\n\n### Timing\n\nsoon\n\n## Fees\n\nnone"
    assert parse_document(text, "text/markdown").sections == (
        Section("", ("intro",)),
        Section("Policy", ("all",)),
        Section("Policy > Refunds", ("back",)),
        Section("Policy > Refunds > Timing", ("soon",)),
        Section("Policy > Fees", ("none",)),
    ), "a heading must close deeper ones and keep its enclosing ones"


def test_the_first_level_one_markdown_heading_is_the_title() -> None:
    document = parse_document("## Overview\n\ntext\n\n# Refund policy\n\nmore", "text/markdown")
    assert document.title == "Refund policy", document.title
    assert parse_document("## Only a subheading\n\ntext", "").title is None, "no h1, no title"


def test_a_heading_line_ends_the_paragraph_it_interrupts() -> None:
    document = parse_document("before\n# Heading\nafter", "text/markdown")
    assert document.sections == (Section("", ("before",)), Section("Heading", ("after",))), document


def test_closing_hashes_and_hashes_without_a_space_are_handled_like_commonmark() -> None:
    document = parse_document("# Title ##\n\n#hashtag and C#", "text/markdown")
    assert document.sections == (Section("Title", ("#hashtag and C#",)),), document


def test_setext_underlines_make_headings() -> None:
    document = parse_document("Policy\n======\n\nall\n\nRefunds\n-------\n\nback", "")
    assert document.title == "Policy", document.title
    assert _headings(document) == ["Policy", "Policy > Refunds"], _headings(document)


def test_a_hash_line_inside_a_code_fence_is_code_not_a_heading() -> None:
    fence = "```bash\n# install it\npip install conduit\n\n# run it\nconduit run\n```"
    document = parse_document(f"# Setup\n\n{fence}\n\nDone.", "text/markdown")
    assert _headings(document) == ["Setup"], f"a fenced '#' became a heading: {document}"
    assert _paragraphs(document) == [fence, "Done."], "the fence must stay one paragraph"


def test_an_unclosed_code_fence_runs_to_the_end_of_the_document() -> None:
    document = parse_document("~~~\n# still code\n", "text/markdown")
    assert _headings(document) == [""], document
    assert _paragraphs(document) == ["~~~\n# still code"], document


def test_list_items_stay_together_in_their_paragraph() -> None:
    text = (
        "We refund:\n- duplicate charges\n- cancelled orders\n\n- returns\n  within 30 days\n\nEnd."
    )
    assert _paragraphs(parse_document(text, "text/markdown")) == [
        "We refund:\n- duplicate charges\n- cancelled orders",
        "- returns\n  within 30 days",
        "End.",
    ], "a tight list stays with its lead-in line"
    loose = "- duplicate charges\n\n- cancelled orders\n\n  even after payment\n\nEnd."
    assert _paragraphs(parse_document(loose, "text/markdown")) == [
        "- duplicate charges\n\n- cancelled orders\n\n  even after payment",
        "End.",
    ], "blank lines between list items must not split the list"


def test_a_thematic_break_separates_paragraphs_and_is_dropped() -> None:
    document = parse_document("one\n\n***\n\ntwo", "text/markdown")
    assert _paragraphs(document) == ["one", "two"], document


def test_an_empty_content_type_is_read_as_markdown() -> None:
    assert _headings(parse_document("# Refunds\n\nback", "")) == ["Refunds"]


def test_content_type_parameters_and_case_are_ignored() -> None:
    document = parse_document("# Refunds\n\nback", "Text/Markdown; charset=utf-8")
    assert _headings(document) == ["Refunds"], document


def test_plain_text_is_split_on_blank_lines_and_has_no_headings() -> None:
    document = parse_document("# not a heading\nsame paragraph\n\r\n  second\n", "text/plain")
    assert document == ParsedDocument(
        title=None, sections=(Section("", ("# not a heading\nsame paragraph", "second")),)
    ), document


HTML_PAGE = """<!doctype html>
<html>
<head>
  <title>Store &amp; help</title>
  <style>p { color: red }</style>
  <script>var hidden = "<p>not text</p>";</script>
</head>
<body>
  <h1>Refund   policy</h1>
  <p>Refunds take
     5&ndash;7 days.</p>
  <script>track("visit");</script>
  <h2>Returns</h2>
  <ul><li>Unused items</li><li>Original packaging</li></ul>
  <table><tr><td>Gift cards</td><td>never</td></tr></table>
  <blockquote>Ask us first.</blockquote>
  <div>Contact <a href="/help">support</a>.</div>
  <pre>  code  line
    indented</pre>
</body>
</html>"""


def test_html_headings_open_sections_and_block_elements_become_paragraphs() -> None:
    document = parse_document(HTML_PAGE, "text/html")
    assert document.sections == (
        Section("Refund policy", ("Refunds take 5\u20137 days.",)),
        Section(
            "Refund policy > Returns",
            (
                "Unused items",
                "Original packaging",
                "Gift cards",
                "never",
                "Ask us first.",
                "Contact support.",
                "code  line\n  indented",
            ),
        ),
    ), document


def test_html_script_style_and_head_text_is_dropped() -> None:
    text = "\n".join(_paragraphs(parse_document(HTML_PAGE, "text/html")))
    for hidden in ("color: red", "not text", "track(", "Store"):
        assert hidden not in text, f"{hidden!r} must not be indexed: {text}"


def test_the_html_h1_is_the_title_and_the_title_tag_stands_in_without_one() -> None:
    assert parse_document(HTML_PAGE, "text/html").title == "Refund policy"
    without_h1 = HTML_PAGE.replace("<h1>Refund   policy</h1>", "")
    assert parse_document(without_h1, "text/html").title == "Store & help", "from <title>"


def test_a_br_is_a_line_break_and_an_unclosed_head_ends_at_the_body() -> None:
    page = "<html><head><title>T</title><p>First<br>second</p>"
    document = parse_document(page, "text/html")
    assert _paragraphs(document) == ["First\nsecond"], document
    assert document.title == "T", document.title


def test_an_unsupported_content_type_is_rejected_with_the_type_named() -> None:
    with pytest.raises(DocumentRejected, match="unsupported content type 'application/pdf'"):
        parse_document("%PDF-1.7", "application/pdf")


@pytest.mark.parametrize("text", ["", "   \n\t\n  "])
def test_empty_or_whitespace_only_text_is_rejected(text: str) -> None:
    with pytest.raises(DocumentRejected, match="empty"):
        parse_document(text, "text/plain")


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        (
            "<html><head><title>T</title></head><body><script>x()</script></body></html>",
            "text/html",
        ),
        ("# Only\n\n## Headings", "text/markdown"),
    ],
)
def test_a_document_without_visible_body_text_is_rejected(text: str, content_type: str) -> None:
    with pytest.raises(DocumentRejected, match="no visible text"):
        parse_document(text, content_type)


def test_text_with_nul_bytes_is_rejected_as_binary() -> None:
    with pytest.raises(DocumentRejected, match="NUL bytes"):
        parse_document("PK\x03\x04\x00\x00 archive", "text/plain")


@pytest.mark.parametrize("garble", ["\ufffd", "\x01\x02\x1b"])
def test_text_mostly_control_or_replacement_characters_is_rejected_as_binary(garble: str) -> None:
    with pytest.raises(DocumentRejected, match="looks binary"):
        parse_document(f"ab{garble * 10}cd" * 20, "text/plain")


def test_a_few_replacement_characters_are_tolerated() -> None:
    text = "Caf\ufffd prices are listed on the menu board near the entrance of the store."
    assert _paragraphs(parse_document(text, "text/plain")) == [text], "one stray char is fine"


def test_a_rejected_document_is_a_value_error_so_the_runtime_dead_letters_it() -> None:
    assert issubclass(DocumentRejected, ValueError), "decode failures must be ValueErrors"


def test_decoding_rejects_an_empty_document_and_accepts_html() -> None:
    empty = DocumentEvent(tenant_id="acme", document_id="faq", text="  ")
    with pytest.raises(DocumentRejected, match="empty"):
        decode_document(empty.SerializeToString())
    page = DocumentEvent(
        tenant_id="acme", document_id="faq", text="<p>Hi</p>", content_type="text/html"
    )
    decoded = decode_document(page.SerializeToString())
    assert decoded.parsed is not None, "html is accepted and parsed"
    assert _paragraphs(decoded.parsed) == ["Hi"], decoded.parsed


def test_decoding_accepts_a_deletion_without_text() -> None:
    deletion = DocumentEvent(tenant_id="acme", document_id="faq", deleted=True)
    decoded = decode_document(deletion.SerializeToString())
    assert decoded.event.deleted, "a deletion carries no text"
    assert decoded.parsed is None, "a deletion has nothing to parse"
