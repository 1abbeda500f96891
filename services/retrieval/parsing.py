"""Parsing Markdown, plain text and HTML documents into sections of paragraphs.

A section's heading is the path of headings enclosing it, outermost first, joined with
" > " ("Refund policy > Duplicate charges"), so a chunk cut from a deep section still says
what it is about; text before the first heading has the heading "". The document title is
the first level-1 heading, or for HTML without an `<h1>` its `<title>`; plain text has none.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

SUPPORTED_CONTENT_TYPES = ("text/markdown", "text/plain", "text/html")

# Above this share of control or U+FFFD characters the text is a binary file decoded as text.
_MAX_GARBLED_SHARE = 0.1
_GARBLED = re.compile(r"[\x01-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_HEADING_SEPARATOR = " > "


class DocumentRejected(ValueError):
    """The document cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Section:
    """The paragraphs under one heading path ("" before the first heading)."""

    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class ParsedDocument:
    """A document's title and its non-empty sections in document order. Example:

    >>> document = parse_document("# Refunds\\n\\nWithin 60 days.", "text/markdown")
    >>> document.title, document.sections[0]
    ('Refunds', Section(heading='Refunds', paragraphs=('Within 60 days.',)))
    """

    title: str | None
    sections: tuple[Section, ...]


def parse_document(text: str, content_type: str) -> ParsedDocument:
    """Sections of `text` read as `content_type` ("" means Markdown; parameters such as
    "; charset=utf-8" are ignored). Raises `DocumentRejected` for an unsupported content
    type and for text that is empty, has nothing visible or looks binary."""
    media_type = content_type.split(";", 1)[0].strip().lower() or "text/markdown"
    parse = _PARSERS.get(media_type)
    if parse is None:
        raise DocumentRejected(
            f"unsupported content type {content_type!r}; expected one of "
            + ", ".join(SUPPORTED_CONTENT_TYPES)
        )
    if not text.strip():
        raise DocumentRejected("document text is empty")
    _reject_binary(text)
    document = parse(text.replace("\r\n", "\n").replace("\r", "\n"))
    if not document.sections:
        raise DocumentRejected(f"{media_type} document has no visible text")
    return document


def _reject_binary(text: str) -> None:
    if "\x00" in text:
        raise DocumentRejected("document text contains NUL bytes; it looks binary")
    garbled = len(_GARBLED.findall(text))
    if garbled > _MAX_GARBLED_SHARE * len(text):
        raise DocumentRejected(
            f"document text looks binary: {garbled / len(text):.0%} of its characters are "
            "control or replacement characters"
        )


class _Outline:
    """Collects paragraphs into sections as headings open and close."""

    def __init__(self) -> None:
        self.title: str | None = None
        self._path: list[tuple[int, str]] = []
        self._sections: list[Section] = []
        self._paragraphs: list[str] = []

    def heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self._close_section()
        if level == 1 and self.title is None:
            self.title = text
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))

    def paragraph(self, text: str) -> None:
        if text.strip():
            self._paragraphs.append(text)

    def document(self, fallback_title: str | None = None) -> ParsedDocument:
        self._close_section()
        return ParsedDocument(self.title or fallback_title, tuple(self._sections))

    def _close_section(self) -> None:
        if self._paragraphs:
            heading = _HEADING_SEPARATOR.join(text for _, text in self._path)
            self._sections.append(Section(heading, tuple(self._paragraphs)))
            self._paragraphs = []


def _parse_plain(text: str) -> ParsedDocument:
    outline = _Outline()
    for block in re.split(r"\n[ \t]*\n", text):
        outline.paragraph(textwrap.dedent(block).strip())
    return outline.document()


_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")
_CONTINUATION = re.compile(r"^[ \t]{2,}\S")


class _MarkdownReader:
    """Line by line: ATX and setext headings, fenced code kept whole as one paragraph
    (a `#` line inside it is code), and a list kept in one paragraph even when blank
    lines separate its items."""

    def __init__(self) -> None:
        self.outline = _Outline()
        self._lines: list[str] = []
        self._fence: str | None = None
        self._blank_in_list = False

    def read(self, text: str) -> ParsedDocument:
        for line in text.split("\n"):
            self._read_line(line.rstrip())
        self._flush()
        return self.outline.document()

    def _read_line(self, line: str) -> None:
        if self._fence is not None:
            self._read_code_line(line)
        elif opening := _FENCE.match(line):
            self._flush()
            self._fence = opening[1]
            self._lines.append(line)
        elif heading := _ATX_HEADING.match(line):
            self._flush()
            self.outline.heading(len(heading[1]), heading[2] or "")
        elif not line.strip():
            if self._in_list():
                self._blank_in_list = True
            else:
                self._flush()
        elif self._lines and not self._in_list() and _SETEXT_UNDERLINE.match(line):
            level = 1 if "=" in line else 2
            self.outline.heading(level, " ".join(self._lines))
            self._lines = []
        elif _THEMATIC_BREAK.match(line):
            self._flush()
        else:
            self._read_text_line(line)

    def _read_code_line(self, line: str) -> None:
        self._lines.append(line)
        opening, closing = self._fence or "", _FENCE.match(line)
        if (
            closing
            and line.strip() == closing[1]
            and closing[1][0] == opening[0]
            and len(closing[1]) >= len(opening)
        ):
            self._flush()

    def _read_text_line(self, line: str) -> None:
        if self._blank_in_list:
            if _LIST_ITEM.match(line) or _CONTINUATION.match(line):
                self._lines.append("")
            else:
                self._flush()
            self._blank_in_list = False
        self._lines.append(line)

    def _in_list(self) -> bool:
        return bool(self._lines) and _LIST_ITEM.match(self._lines[0]) is not None

    def _flush(self) -> None:
        if self._lines:
            self.outline.paragraph(textwrap.dedent("\n".join(self._lines)).strip("\n"))
        self._lines = []
        self._fence = None
        self._blank_in_list = False


def _parse_markdown(text: str) -> ParsedDocument:
    return _MarkdownReader().read(text)


_HTML_HIDDEN = frozenset({"script", "style", "noscript", "template"})
_HTML_HEAD_ONLY = frozenset({"title", "meta", "link", "base", "style", "script", "noscript"})
_HTML_BLOCKS = frozenset(
    {
        *("p", "li", "pre", "td", "th", "blockquote", "div", "hr", "ul", "ol", "dl", "dt", "dd"),
        *("table", "tr", "caption", "section", "article", "header", "footer", "main", "aside"),
        *("nav", "figure", "figcaption", "address", "form", "body"),
    }
)
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}


class _HtmlReader(HTMLParser):
    """h1-h6 open sections; every block element ends the paragraph before it; text in
    `<head>`, `<script>` and `<style>` is dropped except the `<title>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = _Outline()
        self.page_title: str | None = None
        self._text: list[str] = []
        self._heading_level: int | None = None
        self._hidden_depth = 0
        self._pre_depth = 0
        self._in_head = False
        self._title_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_HIDDEN:
            self._hidden_depth += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "title":
            self._title_text = []
        else:
            # An unclosed <head> ends at the first element that only a body can hold.
            self._in_head = self._in_head and tag in _HTML_HEAD_ONLY
            if tag == "br":
                self._text.append("\n")
            elif tag in _HTML_HEADINGS:
                self._flush()
                self._heading_level = _HTML_HEADINGS[tag]
            elif tag in _HTML_BLOCKS:
                self._flush()
                if tag == "pre":
                    self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            if self._title_text is not None and self.page_title is None:
                self.page_title = " ".join("".join(self._title_text).split()) or None
            self._title_text = None
        elif tag in _HTML_HEADINGS or tag in _HTML_BLOCKS:
            self._flush()
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._title_text is not None:
            self._title_text.append(data)
        elif not self._in_head:
            self._text.append(data if self._pre_depth else re.sub(r"\s+", " ", data))

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        """Ends the heading or paragraph being read; a block element inside a heading
        ends it too, so an unclosed `<h1>` does not swallow the page."""
        text = "".join(self._text)
        self._text = []
        if self._heading_level is not None:
            self.outline.heading(self._heading_level, text)
            self._heading_level = None
        elif self._pre_depth:
            self.outline.paragraph(textwrap.dedent(text).strip("\n").rstrip())
        else:
            lines = (" ".join(line.split()) for line in text.split("\n"))
            self.outline.paragraph("\n".join(line for line in lines if line))


def _parse_html(text: str) -> ParsedDocument:
    reader = _HtmlReader()
    reader.feed(text)
    reader.close()
    return reader.outline.document(fallback_title=reader.page_title)


_PARSERS: dict[str, Callable[[str], ParsedDocument]] = {
    "text/markdown": _parse_markdown,
    "text/plain": _parse_plain,
    "text/html": _parse_html,
}
