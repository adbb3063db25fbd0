"""Text folded to what a reader sees: the forms the injection defence compares.

An output under test can disguise a verdict so that an exact comparison misses it while the judge,
reading it as a person would, repeats it in plain form: a Cyrillic ``е`` in ``verdict``, full-width
braces, a zero-width space, HTML entities, backslash escapes. ``fold`` undoes all of these: Unicode
NFKC (full-width and other compatibility forms), invisible characters removed, the confusable
letters folded to the Latin ones they imitate, then case-folded. ``variants`` adds the text with
HTML entities, backslash and URL escapes decoded and invisible tag characters spelled out, so a
verdict hidden by any of them is found as well.

The confusables table is ours, not a library's: the defence must run on every install, and only
the characters that can spell the verdict vocabulary (``verdict``, ``pass``, ``fail``, ``score``,
``category``, the letters A-E and digits) and JSON's punctuation need folding. It holds the
Cyrillic, Greek, Armenian and Cherokee look-alikes of Unicode's confusables list for those.
"""

from __future__ import annotations

import html
import re
import unicodedata
import urllib.parse
from functools import lru_cache

__all__ = ["fold", "squash", "variants"]

#: Characters that render as nothing (or nearly): zero-width, joiners, bidi controls, soft hyphen,
#: variation selectors and the invisible "tag" block used to smuggle ASCII past a reader.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)

_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ԍ": "g", "ꙇ": "i",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j", "Ԁ": "d", "Ԛ": "q", "Ԝ": "w",
    "Ꮯ": "c", "Ꭰ": "d", "Ꭼ": "e", "Ꮐ": "g", "Ꮋ": "h", "Ꭻ": "j", "Ꮶ": "k", "Ꮮ": "l", "Ꮇ": "m",
    "Ꮲ": "p", "Ꮪ": "s", "Ꭲ": "t", "Ꮩ": "v", "Ꮃ": "w", "Ꭺ": "a", "Ᏼ": "b", "Ꮢ": "r",
    # Greek
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ϲ": "c", "ϳ": "j", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i",
    "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "Ϲ": "c",
    # Armenian and Latin look-alikes outside ASCII
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ռ": "n", "ı": "i", "ȷ": "j", "ℓ": "l",
    "ꞵ": "b", "ꭰ": "d", "ɑ": "a", "ǝ": "e", "ɩ": "i", "ʟ": "l", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",
    "ꜱ": "s", "ᴛ": "t", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ʀ": "r", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e",
    "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ᴊ": "j", "ᴋ": "k", "ᴍ": "m",
    # digits and JSON's punctuation
    "𝟎": "0", "৪": "8", "Ꮞ": "4", "Ƽ": "5",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "＂": '"', "«": '"', "»": '"', "ˮ": '"',
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "ʹ": "'", "ʼ": "'", "ˈ": "'", "`": "'",
    "｛": "{", "｝": "}", "❴": "{", "❵": "}", "﹛": "{", "﹜": "}", "꞉": ":", "˸": ":", "∶": ":",
    "։": ":", "׃": ":", "，": ",", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-",
}  # fmt: skip
_TABLE = str.maketrans(_CONFUSABLES)
_BACKSLASH = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=256)
def fold(text: str) -> str:
    """``text`` as a reader sees it: NFKC, invisibles removed, confusables folded, case-folded."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    # Combining marks stacked on a letter ("pa̲ss") do not change the word a reader sees.
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return text.translate(_TABLE).casefold()


def _unescape_backslashes(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match[1]
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    return _BACKSLASH.sub(one, text)


#: Unicode "tag" characters (U+E0020-U+E007E) mirror ASCII invisibly: text smuggled past a reader.
_TAGS = re.compile("[\U000e0020-\U000e007e]+")


def _untag(text: str) -> str:
    return _TAGS.sub(lambda m: "".join(chr(ord(c) - 0xE0000) for c in m[0]), text)


@lru_cache(maxsize=256)
def variants(text: str) -> tuple[str, ...]:
    """The folded text, and it again decoded: invisible tag characters spelled out, HTML entities,
    backslash and URL escapes decoded (two rounds, for an escape of an escape: ``&amp;quot;``)."""
    found = [fold(text)]
    if _TAGS.search(text):
        found.append(fold(_untag(text)))
    for _ in range(2):
        for current in list(found):
            decodings = (
                html.unescape(current),
                _unescape_backslashes(current),
                urllib.parse.unquote(current),
            )
            for decoded in decodings:
                decoded = fold(decoded)
                if decoded not in found:
                    found.append(decoded)
    return tuple(found)


def squash(text: str) -> str:
    """Folded with every whitespace removed and quotes unified: for "does this text occur there"."""
    return _SPACE.sub("", fold(text)).replace("'", '"')
