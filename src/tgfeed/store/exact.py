"""Search's exact-tone test — does a text contain the query as ``str.casefold``
compares them (``hội nghị`` is in ``HỘI NGHỊ tỉnh``, not in ``Hội Nghi``) — answered
on the text's UTF-8 bytes as SQLite stores them, without decoding and case-folding
every candidate's body: the same answer as ``needle in text.casefold()``, always."""

from __future__ import annotations

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
    ready to be looked for in the UTF-8 bytes of many texts."""

    def __init__(self, query: str) -> None:
        self.text = " ".join(query.split()).casefold()
        self._bytes = self.text.encode()
        # an ASCII query: ASCII bytes compare after ASCII lower-casing, unless the
        # text holds one of the few other characters that fold into the query
        self._risky = [
            c.encode()
            for c in ASCII_FOLDING
            if self.text.isascii() and _overlaps(self.text, c.casefold())
        ]
        # otherwise one Vietnamese letter of the query, where each occurrence is
        # one of its two spellings: look around those only
        letters = [i for i, c in enumerate(self.text) if c in ANCHORS]
        self._at = min(letters, key=lambda i: _BY_RARITY.index(self.text[i])) if letters else -1
        anchor = self.text[self._at] if letters else ""
        self._spellings = [anchor.encode(), anchor.upper().encode()] if anchor else []

    def found_in(self, data: bytes) -> bool:
        """``self.text in data.decode().casefold()``."""
        if self.text.isascii():
            if self._bytes in data.lower():
                return True
            return any(c in data for c in self._risky) and self._in_all(data)
        if self._at < 0:
            return self._in_all(data)
        before = _MAX_UTF8 * self._at
        after = _MAX_UTF8 * (len(self.text) - self._at)
        for spelling in self._spellings:
            at = data.find(spelling)
            while at >= 0:
                window = data[max(0, at - before) : at + after]
                # cut characters at the window's edges are outside any occurrence
                if self.text in window.decode("utf-8", "ignore").casefold():
                    return True
                at = data.find(spelling, at + 1)
        return False

    def _in_all(self, data: bytes) -> bool:
        return self.text in data.decode("utf-8", "replace").casefold()
