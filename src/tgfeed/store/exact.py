"""Search's exact-tone test — does a text contain the query as ``str.casefold``
compares them (``hội nghị`` is in ``HỘI NGHỊ tỉnh``, not in ``Hội Nghi``) — answered
on the text's UTF-8 bytes as SQLite stores them, without decoding and case-folding
every candidate's body: the same answer as ``needle in text.casefold()``, always."""

from __future__ import annotations

import re

ASCII_FOLDING = "ßİŉſǰẖẗẘẙẚẞ\u212aﬀﬁﬂﬃﬄﬅﬆ"  # \u212a: the Kelvin sign
"""Every character outside ASCII whose case folding holds an ASCII character
(``ß`` → ``ss``, the Kelvin sign → ``k``); tests/test_search_exact.py recomputes
it from the running Python's Unicode tables."""

_BY_RARITY = "ẵỵẹẻẳèẽỡĩỳõỷéẫỏằỗửỹặũýễùừúắòẩữồầìổởỉứợụãọíóấơểậờăớựốủềịôâếảạệêộưàáđ"
"""Vietnamese letters with a mark, the rarest first (as counted in the packaged
sample articles): a query is looked for around its rarest one."""

ANCHORS = frozenset(_BY_RARITY)
"""Letters that only they and their capital fold to, each to itself alone (checked
over every code point by tests/test_search_exact.py)."""

_MAX_UTF8 = 4  # bytes per character at most
_ASCII_RUN = re.compile("[\x00-\x7f]+")


def _overlaps(needle: str, folded: str) -> bool:
    """Whether ``folded`` (one character's case folding) could make up part of an
    occurrence of ``needle``: the two agree wherever they overlap, at some shift."""
    for shift in range(1 - len(folded), len(needle)):
        lo, hi = max(0, shift), min(len(needle), shift + len(folded))
        if all(needle[i] == folded[i - shift] for i in range(lo, hi)):
            return True
    return False


class Needle:
    """A query as search compares it (words joined by one space, case-folded),
    ready to be looked for in the UTF-8 bytes of many texts.

    Each occurrence of the query holds a piece of it that is found in the bytes as
    they are: its longest run of ASCII (three characters or more) after ASCII
    lower-casing, or else its rarest Vietnamese letter, lower or capital. Only
    around those places is the text decoded and case-folded. ASCII characters
    other characters fold into (``ß``, the Kelvin sign …) send a text that holds
    one to the whole comparison instead."""

    def __init__(self, query: str) -> None:
        self.text = " ".join(query.split()).casefold()
        self._whole = self.text.isascii()  # the piece is the query itself
        runs = [m.span() for m in _ASCII_RUN.finditer(self.text)]
        run = max(runs, key=lambda r: r[1] - r[0], default=(0, 0))
        letters = [i for i, c in enumerate(self.text) if c in ANCHORS]
        self._lower = self._whole or run[1] - run[0] >= 3 or (not letters and bool(runs))
        if self._lower:
            self._at, piece = run[0], self.text[run[0] : run[1]]
            self._pieces = [piece.encode()]
        elif letters:
            self._at = min(letters, key=lambda i: _BY_RARITY.index(self.text[i]))
            piece = self.text[self._at]
            self._pieces = [piece.encode(), piece.upper().encode()]
        else:
            self._at, piece, self._pieces = 0, "", []
        self._risky = [
            c.encode() for c in ASCII_FOLDING if self._lower and _overlaps(piece, c.casefold())
        ]

    def found_in(self, data: bytes) -> bool:
        """``self.text in data.decode().casefold()``."""
        if not self._pieces or any(c in data for c in self._risky):
            return self._in_all(data)
        hay = data.lower() if self._lower else data
        if self._whole:
            return self._pieces[0] in hay
        before = _MAX_UTF8 * self._at
        after = _MAX_UTF8 * (len(self.text) - self._at)
        for piece in self._pieces:
            at = hay.find(piece)
            while at >= 0:
                window = data[max(0, at - before) : at + after]
                # cut characters at the window's edges are outside any occurrence
                if self.text in window.decode("utf-8", "ignore").casefold():
                    return True
                at = hay.find(piece, at + 1)
        return False

    def _in_all(self, data: bytes) -> bool:
        return self.text in data.decode("utf-8", "replace").casefold()
