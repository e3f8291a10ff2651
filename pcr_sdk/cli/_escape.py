"""Job output made safe for a terminal: control characters shown, never obeyed.

A job's log line can hold escape sequences that move the cursor, rewrite earlier lines, set the
window title or (on some terminals) answer back into the shell's input. Every CLI line that
repeats job output goes through `terminal_safe`, which writes each control or format character
(C0, DEL, C1, bidirectional overrides) as a visible `\\x1b` or `\\u202e`; tabs stay tabs.
"""

from __future__ import annotations

import unicodedata
from typing import Final

_KEPT: Final = frozenset("\t")
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf"})


def _shown(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """`text` with every control and format character (but tab) written as an escape."""
    if text.isprintable():
        return text
    return "".join(
        _shown(char)
        if char not in _KEPT and unicodedata.category(char) in _UNSAFE_CATEGORIES
        else char
        for char in text
    )
