"""Knowledge documents on disk as `DocumentEvent`s, ready to publish to the document topic."""

from __future__ import annotations

import hashlib
from pathlib import Path

from services.retrieval.chunking import first_heading
from shared.contracts import DocumentEvent

CONTENT_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain"}


def document_events_from_dir(path: Path, tenant_id: str) -> list[DocumentEvent]:
    """One event per Markdown or text file, in name order. Example:

    >>> events = document_events_from_dir(Path("config/knowledge"), "default")  # doctest: +SKIP
    >>> events[0].document_id, events[0].title  # doctest: +SKIP
    ('refund-policy', 'Refund policy')

    The document id is the file stem, the title its first heading (else the stem), and the
    version a hash of the content, so republishing an unchanged file is recognisably a no-op.
    """
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: knowledge directory not found")
    events = []
    for file in sorted(path.iterdir()):
        content_type = CONTENT_TYPES.get(file.suffix.lower())
        if content_type is None or not file.is_file():
            continue
        text = file.read_text(encoding="utf-8")
        title = first_heading(text) if content_type == "text/markdown" else None
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
