"""The customer-facing text inside a structured model output, as it is being generated.

Answers come out as JSON (`{"action": "answer", "text": "...", "sources": [...]}`), token
by token. People should see the sentence, not the braces: this decoder follows the JSON as
it arrives and passes on only the characters of the top-level "text" string, unescaped.
"""

from __future__ import annotations

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class AnswerTextDecoder:
    """Feed JSON pieces; get back the new characters of the top-level "text" value.

    >>> decoder = AnswerTextDecoder()
    >>> [decoder.feed(p) for p in ['{"action": "answer", "te', 'xt": "Hel', 'lo\\\\n', 'wo"}']]
    ['', 'Hel', 'lo\\n', 'wo']
    """

    def __init__(self) -> None:
        self._depth = 0
        self._in_string = False
        self._escape: str | None = None  # "" after a backslash; hex digits after "\\u"
        self._string_is_key = False
        self._key = ""
        self._last_key = ""
        self._in_text = False
        self._high_surrogate: int | None = None

    def feed(self, piece: str) -> str:
        out: list[str] = []
        for char in piece:
            if self._in_string:
                self._string_char(char, out)
            else:
                self._structure_char(char)
        return "".join(out)

    def _structure_char(self, char: str) -> None:
        if char in "{[":
            self._depth += 1
            self._string_is_key = char == "{"
        elif char in "}]":
            self._depth -= 1
        elif char == ",":
            self._string_is_key = self._depth >= 1
        elif char == '"':
            self._in_string = True
            self._key = ""
            self._in_text = (
                not self._string_is_key and self._depth == 1 and self._last_key == "text"
            )
        elif char == ":":
            self._string_is_key = False

    def _string_char(self, char: str, out: list[str]) -> None:
        if self._escape is not None:
            self._escaped_char(char, out)
        elif char == "\\":
            self._escape = ""
        elif char == '"':
            self._in_string = False
            if self._string_is_key and self._depth == 1:
                self._last_key = self._key
            self._in_text = False
        else:
            self._emit(char, out)

    def _escaped_char(self, char: str, out: list[str]) -> None:
        assert self._escape is not None
        if self._escape == "":
            if char == "u":
                self._escape = "u"
                return
            self._escape = None
            self._emit(_ESCAPES.get(char, char), out)
            return
        self._escape += char
        if len(self._escape) < 5:  # "u" and four hex digits
            return
        code = int(self._escape[1:], 16)
        self._escape = None
        if 0xD800 <= code < 0xDC00:
            self._high_surrogate = code
            return
        if 0xDC00 <= code < 0xE000 and self._high_surrogate is not None:
            code = 0x10000 + ((self._high_surrogate - 0xD800) << 10) + (code - 0xDC00)
        self._high_surrogate = None
        self._emit(chr(code), out)

    def _emit(self, char: str, out: list[str]) -> None:
        if self._string_is_key:
            self._key += char
        elif self._in_text:
            out.append(char)
