"""The retrieval benchmark's corpus and labelled questions, built offline and deterministically.

The text is the Python standard library's own documentation, shipped with the interpreter
and licensed under the PSF License: the language-reference topics of `pydoc_data.topics`
(what `help("assert")` shows) plus the docstrings of the public classes, functions and
methods of a fixed, sorted list of standard-library modules written in Python (a few
re-export C accelerators, whose docstrings ship too). Long texts are cut into passages
of 60-150 words at paragraph, then sentence, boundaries; a docstring of 25-59 words is a
passage of its own. Each passage is one document holding exactly one chunk.

Questions follow the inverse cloze task (Lee et al., 2019): a sentence drawn at random from
a passage becomes the question and is removed from the passage before it is indexed, so the
passage it came from is the one relevant answer. Same interpreter, same seed: same corpus.

Example::

    corpus = build_corpus()
    corpus.documents[0].document_id, corpus.questions[0].relevant_source_id
"""

from __future__ import annotations

import importlib
import inspect
import platform
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pydoc_data.topics import topics as reference_topics

# A long text is cut into passages of PACK_WORDS..MAX_WORDS words; a short docstring of
# MIN_WORDS or more is a passage of its own (most docstrings are shorter than PACK_WORDS).
MIN_WORDS = 25
PACK_WORDS = 60
MAX_WORDS = 150
# Longer "sentences" are tables, grammar or lists run together; they would not fit a passage.
MAX_SENTENCE_WORDS = MAX_WORDS - PACK_WORDS
MIN_PROSE_LETTERS = 0.8
MIN_QUESTION_WORDS = 8
MIN_QUESTION_LETTERS = 0.9
MAX_QUESTION_WORDS = 40
MIN_PASSAGES = 2000
DEFAULT_QUESTIONS = 250
DEFAULT_SEED = 20190601

# Modules written in Python that import without side effects or deprecation warnings.
DOCSTRING_MODULES = (
    "abc", "argparse", "ast", "asyncio", "asyncio.base_events", "asyncio.events",
    "asyncio.futures", "asyncio.locks", "asyncio.protocols", "asyncio.queues",
    "asyncio.runners", "asyncio.streams", "asyncio.subprocess", "asyncio.taskgroups",
    "asyncio.tasks", "asyncio.timeouts", "asyncio.transports", "asyncio.unix_events", "base64",
    "bdb", "bisect", "bz2", "calendar", "cmd", "code", "codecs", "codeop", "collections",
    "collections.abc", "colorsys", "compileall", "concurrent.futures",
    "concurrent.futures.process", "concurrent.futures.thread", "configparser", "contextlib",
    "copy", "copyreg", "csv", "dataclasses", "datetime", "dbm.dumb", "decimal", "difflib",
    "dis", "doctest", "email.charset", "email.contentmanager", "email.feedparser",
    "email.generator", "email.header", "email.headerregistry", "email.message",
    "email.mime.base", "email.mime.multipart", "email.mime.text", "email.parser",
    "email.policy", "email.utils", "enum", "filecmp", "fileinput", "fnmatch", "fractions",
    "ftplib", "functools", "getopt", "getpass", "gettext", "glob", "graphlib", "gzip",
    "hashlib", "heapq", "hmac", "html", "html.parser", "http.client", "http.cookiejar",
    "http.cookies", "http.server", "imaplib", "importlib", "importlib.abc",
    "importlib.machinery", "importlib.metadata", "importlib.resources",
    "importlib.resources.abc", "importlib.util", "inspect", "io", "ipaddress", "json",
    "json.decoder", "json.encoder", "keyword", "linecache", "locale", "logging",
    "logging.config", "logging.handlers", "lzma", "mailbox", "mimetypes", "modulefinder",
    "multiprocessing.connection", "multiprocessing.context", "multiprocessing.managers",
    "multiprocessing.pool", "multiprocessing.process", "multiprocessing.queues",
    "multiprocessing.shared_memory", "multiprocessing.synchronize", "multiprocessing.util",
    "netrc", "numbers", "opcode", "operator", "optparse", "os", "pathlib", "pdb", "pickle",
    "pickletools", "pkgutil", "platform", "plistlib", "poplib", "posixpath", "pprint",
    "profile", "pstats", "pty", "py_compile", "pyclbr", "pydoc", "queue", "quopri", "random",
    "re", "reprlib", "rlcompleter", "runpy", "sched", "secrets", "selectors", "shelve", "shlex",
    "shutil", "signal", "site", "smtplib", "socket", "socketserver", "ssl", "stat",
    "statistics", "string", "stringprep", "subprocess", "symtable", "sysconfig", "tabnanny",
    "tarfile", "tempfile", "textwrap", "threading", "timeit", "token", "tokenize", "tomllib",
    "trace", "traceback", "tracemalloc", "tty", "types", "typing", "unittest.async_case",
    "unittest.case", "unittest.loader", "unittest.main", "unittest.mock", "unittest.result",
    "unittest.runner", "unittest.suite", "urllib.error", "urllib.parse", "urllib.request",
    "urllib.response", "urllib.robotparser", "uuid", "warnings", "wave", "weakref",
    "webbrowser", "wsgiref.handlers", "wsgiref.headers", "wsgiref.simple_server",
    "wsgiref.util", "wsgiref.validate", "xml.dom.expatbuilder", "xml.dom.minidom",
    "xml.dom.pulldom", "xml.dom.xmlbuilder", "xml.etree.ElementPath", "xml.etree.ElementTree",
    "xml.sax", "xml.sax.expatreader", "xml.sax.handler", "xml.sax.saxutils",
    "xml.sax.xmlreader", "xmlrpc.client", "xmlrpc.server", "zipapp", "zipfile", "zipimport",
    "zoneinfo",
)  # fmt: skip
# Deprecated namespaces that warn whenever their docstring is read.
SKIPPED_NAMES = frozenset({"typing.io", "typing.re"})

_UNDERLINE = re.compile(r"^\s*([*=\-~^])\1{2,}\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(`*])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

Paragraph = tuple[str, ...]


@dataclass(frozen=True)
class CorpusDocument:
    """One passage, indexed as one document of one chunk (`source_id(document_id)`)."""

    document_id: str
    title: str
    text: str


@dataclass(frozen=True)
class LabelledQuestion:
    """A question and the source id of the one chunk that answers it."""

    text: str
    relevant_source_id: str


@dataclass(frozen=True)
class RetrievalCorpus:
    """The passages to index and the questions to ask of them.

    Example: `corpus = build_corpus(); len(corpus.documents), len(corpus.questions)`.
    """

    documents: tuple[CorpusDocument, ...]
    questions: tuple[LabelledQuestion, ...]

    @property
    def description(self) -> str:
        return (
            f"Python {platform.python_version()} standard-library documentation shipped "
            "with the interpreter (PSF License): pydoc_data.topics language-reference topics "
            f"+ docstrings of {len(DOCSTRING_MODULES)} stdlib modules written in Python"
        )


@dataclass(frozen=True)
class _Passage:
    document_id: str
    title: str
    paragraphs: tuple[Paragraph, ...]

    @property
    def sentences(self) -> tuple[str, ...]:
        return tuple(s for paragraph in self.paragraphs for s in paragraph)

    @property
    def text(self) -> str:
        return "\n\n".join(" ".join(paragraph) for paragraph in self.paragraphs)

    def without(self, sentence: str) -> _Passage:
        kept = (tuple(s for s in p if s != sentence) for p in self.paragraphs)
        return _Passage(self.document_id, self.title, tuple(p for p in kept if p))

    def document(self) -> CorpusDocument:
        return CorpusDocument(self.document_id, self.title, self.text)


def source_id(document_id: str) -> str:
    """The source id of a corpus document's only chunk."""
    return f"{document_id}#0"


def word_count(text: str) -> int:
    return len(text.split())


def build_corpus(
    *, question_count: int = DEFAULT_QUESTIONS, seed: int = DEFAULT_SEED
) -> RetrievalCorpus:
    """Every passage, with each question's sentence taken out of the passage it labels."""
    passages = _deduplicated(list(_topic_passages()) + list(_docstring_passages()))
    if len(passages) < MIN_PASSAGES:
        raise RuntimeError(f"only {len(passages)} passages, the benchmark needs {MIN_PASSAGES}")
    sentence_counts = Counter(s for passage in passages for s in passage.sentences)
    rng = random.Random(seed)
    questions: list[LabelledQuestion] = []
    for index in rng.sample(range(len(passages)), len(passages)):
        if len(questions) == question_count:
            break
        passage = passages[index]
        candidates = [s for s in passage.sentences[1:] if _askable(s, passage, sentence_counts)]
        if not candidates:
            continue
        sentence = rng.choice(candidates)
        passages[index] = passage.without(sentence)
        questions.append(LabelledQuestion(sentence, source_id(passage.document_id)))
    if len(questions) < question_count:
        raise RuntimeError(f"only {len(questions)} askable passages, wanted {question_count}")
    return RetrievalCorpus(tuple(p.document() for p in passages), tuple(questions))


def _askable(sentence: str, passage: _Passage, sentence_counts: Counter[str]) -> bool:
    """A prose sentence found nowhere else, whose passage stays long enough without it."""
    words = word_count(sentence)
    if not MIN_QUESTION_WORDS <= words <= MAX_QUESTION_WORDS or sentence_counts[sentence] > 1:
        return False
    if _letter_share(sentence) < MIN_QUESTION_LETTERS:
        return False  # mostly code or symbols
    remaining = passage.without(sentence).text
    return sentence not in remaining and word_count(remaining) >= MIN_WORDS


def _topic_passages() -> Iterator[_Passage]:
    for key in sorted(reference_topics):
        text = reference_topics[key]
        title = text.strip().splitlines()[0].strip()
        yield from _passages(f"topic-{_slug(key)}", title, text)


def _docstring_passages() -> Iterator[_Passage]:
    for name, docstring in _public_docstrings():
        if word_count(docstring) >= MIN_WORDS:
            yield from _passages(f"doc-{_slug(name)}", name, docstring)


def _public_docstrings() -> Iterator[tuple[str, str]]:
    """(qualified name, docstring) of each module and its public classes, functions, methods."""
    for module_name in DOCSTRING_MODULES:
        module = importlib.import_module(module_name)
        yield module_name, inspect.getdoc(module) or ""
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
                continue
            if f"{module_name}.{name}" in SKIPPED_NAMES:
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            yield f"{module_name}.{name}", inspect.getdoc(obj) or ""
            if inspect.isclass(obj):
                for member_name, member in sorted(vars(obj).items()):
                    if not member_name.startswith("_"):
                        doc = member.__doc__ if inspect.isroutine(member) else None
                        if isinstance(doc, str):
                            yield f"{module_name}.{name}.{member_name}", inspect.cleandoc(doc)


def _passages(document_prefix: str, title: str, text: str) -> Iterator[_Passage]:
    """Passages of PACK..MAX words, ended at a paragraph boundary where one comes in time."""
    passages: list[list[list[str]]] = [[]]

    def size(passage: Sequence[Sequence[str]]) -> int:
        return sum(word_count(s) for paragraph in passage for s in paragraph)

    for paragraph in _prose_paragraphs(text):
        if size(passages[-1]) >= PACK_WORDS:
            passages.append([])
        passages[-1].append([])
        for sentence in paragraph:
            # Below PACK_WORDS any sentence still fits: MAX_SENTENCE_WORDS sees to that.
            if size(passages[-1]) + word_count(sentence) > MAX_WORDS:
                passages.append([[]])
            passages[-1][-1].append(sentence)
    if len(passages) > 1 and size(passages[-1]) + size(passages[-2]) <= MAX_WORDS:
        passages[-2].extend(passages.pop())
    for number, passage in enumerate(p for p in passages if size(p) >= MIN_WORDS):
        paragraphs = tuple(tuple(paragraph) for paragraph in passage if paragraph)
        yield _Passage(f"{document_prefix}-{number}", title, paragraphs)


def _prose_paragraphs(text: str) -> Iterator[Paragraph]:
    """Paragraphs as sentences, without headings, code, grammar, tables or doctest blocks."""
    for block in _PARAGRAPH_BREAK.split(text.strip()):
        if not _is_prose(block):
            continue
        sentences = tuple(s for s in _SENTENCE_END.split(" ".join(block.split())) if s)
        if all(word_count(s) <= MAX_SENTENCE_WORDS for s in sentences):
            yield sentences


def _is_prose(block: str) -> bool:
    lines = [line for line in block.splitlines() if line.strip()]
    flat = " ".join(block.split())
    # Code nests its lines; an indented reference-topic paragraph is indented as a whole.
    indents = {len(line) - len(line.lstrip()) for line in lines}
    return (
        (len(indents) == 1 or not lines[0][:1].isspace())
        and not flat.startswith(">>>")
        and "::=" not in flat
        and _letter_share(flat) >= MIN_PROSE_LETTERS
        and not any(_UNDERLINE.match(line) for line in lines)
    )


def _letter_share(text: str) -> float:
    return sum(c.isalpha() or c.isspace() for c in text) / len(text)


def _deduplicated(passages: Sequence[_Passage]) -> list[_Passage]:
    seen: set[str] = set()
    unique = []
    for passage in passages:
        if passage.text not in seen:
            seen.add(passage.text)
            unique.append(passage)
    return unique


def _slug(name: str) -> str:
    return _ID_UNSAFE.sub("-", name).strip("-")
