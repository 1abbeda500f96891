"""Regular-expression literals that grammar-constrained decoders read as written.

JSON-schema patterns become decoding grammars (llama.cpp's GBNF, llguidance), whose
converters take `\\-` or `\\.` inside a literal for an invalid escape. A character class
says the same without one.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z0-9_ ]")
_NEEDS_ESCAPE_IN_CLASS = frozenset("\\]^")


def literal_pattern(value: str) -> str:
    """A pattern matching exactly `value`: `literal_pattern("a.b-c") == "a[.]b[-]c"`."""
    return "".join(
        char
        if _PLAIN.fullmatch(char)
        else f"[\\{char}]"
        if char in _NEEDS_ESCAPE_IN_CLASS
        else f"[{char}]"
        for char in value
    )
