"""Knowledge documents on disk as `DocumentEvent`s, ready to publish to the document topic."""

from __future__ import annotations

import hashlib
from pathlib import Path

from services.retrieval.parsing import DocumentRejected, parse_document
from shared.contracts import DocumentEvent

CONTENT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
}


def document_events_from_dir(path: Path, tenant_id: str) -> list[DocumentEvent]:
    """One event per Markdown, text or HTML file, in name order. Example:

    >>> events = document_events_from_dir(Path("config/knowledge"), "default")  # doctest: +SKIP
    >>> events[0].document_id, events[0].title  # doctest: +SKIP
    ('refund-policy', 'Refund policy')

    The document id is the file stem, the title the one `parse_document` finds (else the
    stem), and the version a hash of the content, so republishing an unchanged file is
    recognisably a no-op.
    A file the index would reject (empty, binary-looking) raises `DocumentRejected`.
    """
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: knowledge directory not found")
    events = []
    for file in sorted(path.iterdir()):
        content_type = CONTENT_TYPES.get(file.suffix.lower())
        if content_type is None or not file.is_file():
            continue
        text = file.read_text(encoding="utf-8")
        try:
            title = parse_document(text, content_type).title
        except DocumentRejected as error:
            raise DocumentRejected(f"{file}: {error}") from error
        events.append(
            DocumentEvent(
                tenant_id=tenant_id,
                document_id=file.stem,
                title=title or file.stem,
                text=text,
                content_type=content_type,
                version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
            )
        )
    return events
