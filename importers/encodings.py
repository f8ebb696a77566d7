"""Legacy Vietnamese text encodings: TCVN3 (ABC) and VNI-Windows.

Shapefiles from the 1990s and 2000s carry Vietnamese text in encodings that
Python has no codec for:

* **TCVN3** (ABC, TCVN 5712:1993 "VN3"): single-byte.  Every lower-case letter
  with its tone has its own byte; of the capitals only Ă Â Ê Ô Ơ Ư Đ do.  A
  capital with a tone was typed with the separate all-capitals "ABC" fonts
  (``.VnTimeH``) using the *lower-case* byte, so the case is lost in the data.
  Decoding therefore yields lower case for those letters; encoding them needs
  ``errors="lower"``.  The byte positions that VN3 leaves free but the full
  standard (VN1) uses for capitals (0x80-0x9F, 0xAF, 0xBA, 0xBF-0xC5, ...) and
  for the five combining tone marks (0xB0-0xB4) are decoded as VN1 does, so
  files written by converters in VN1 mode come out right too.  Bytes below
  0x80 are always ASCII.
* **VNI** (VNI-Windows): a base letter followed by one modifier byte for the
  tone, or for circumflex/breve with or without a tone (``"Vieät Nam"``).
  ơ ư đ and the i/ỵ letters are single bytes; a horned letter with a tone is
  two bytes (``"ôø"`` = ờ), so a letter takes at most two bytes.  Capitals use
  the upper-case forms of the modifier bytes (``"AÙ"`` = Á).

Both tables are stated once below in compact form (a base letter, a vowel
modifier, a tone) and every mapping is derived from them.  They were
cross-checked against glibc's ``TCVN5712-1`` iconv converter, the
``TCVN3_TABLE``/``VNI_WINDOWS_TABLE`` of khiemdoan/VBKey
(``Modules/mdlCodeTable.bas``) and the ``TCVN3``/``VNI`` tables of
duydev/vietnamese-conversion (``src/charsets.ts``).

The importer reads DBFs with ``encoding="latin1"`` (one code point per byte)
and repairs each string with :func:`fix_text`.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

__all__ = [
    "LEGACY_ENCODINGS",
    "decode_legacy",
    "encode_legacy",
    "fix_text",
    "guess_legacy",
    "is_supported",
    "normalize_encoding_name",
]

LEGACY_ENCODINGS = ("tcvn3", "vni")

_ALIASES = {
    "tcvn3": "tcvn3",
    "tcvn": "tcvn3",
    "abc": "tcvn3",
    "vn3": "tcvn3",
    "tcvn5712": "tcvn3",
    "tcvn57121993": "tcvn3",
    "tcvn5712vn3": "tcvn3",
    "vni": "vni",
    "vniwin": "vni",
    "vniwindows": "vni",
}

# Tone marks in the order both legacy tables list them: huyền, hỏi, ngã, sắc, nặng.
_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT = "\u0300", "\u0309", "\u0303", "\u0301", "\u0323"
_TONES = (_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT)
_CIRCUMFLEX, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# All Vietnamese letters outside ASCII, lower case: the 12 vowels, each bare and
# with the five tones, the 6 modified vowels bare, and đ (67; 134 with capitals).
_VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
VIETNAMESE_LOWER = tuple(
    [_nfc(v + t) for v in _VOWELS for t in _TONES] + [v for v in _VOWELS if not v.isascii()] + ["đ"]
)
VIETNAMESE_LETTERS = VIETNAMESE_LOWER + tuple(c.upper() for c in VIETNAMESE_LOWER)


# --------------------------------------------------------------------------- TCVN3
# vowel: (byte of the bare vowel, bytes with grave, hook, tilde, acute, dot)
_TCVN3_VOWELS = {
    "a": (0x61, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xA8, 0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xA9, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0x65, 0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xAA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0x69, 0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0x6F, 0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xAB, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xAC, 0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0x75, 0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xAD, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0x79, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_OTHER = {"đ": 0xAE, "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7}

# Positions VN3 leaves free and TCVN 5712 VN1 gives to capitals with tones or to
# the combining tone marks (decode only; as glibc's TCVN5712-1 decodes them).
# Capitals VN1 puts in the C0 control range are not decoded: bytes < 0x80 stay ASCII.
_VN1_EXTRA = dict(
    zip(
        range(0x80, 0xA0),
        "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ",
        strict=True,
    )
)
_VN1_EXTRA.update({0xAF: "Ằ", 0xBA: "Ẳ", 0xBF: "Ẵ", 0xC0: "Ắ", 0xC1: "Ầ", 0xC2: "Ẩ", 0xC3: "Ẫ", 0xC4: "Ấ", 0xC5: "Ề"})
_VN1_EXTRA.update({0xCD: "Ể", 0xD9: "Ễ", 0xDA: "Ế", 0xDB: "Ồ", 0xE0: "Ổ", 0xF0: "Ỗ", 0xFF: "Ố"})
_VN1_EXTRA.update(dict(zip(range(0xB0, 0xB5), (_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT), strict=True)))

_TCVN3_ENCODE: dict[str, int] = dict(_TCVN3_OTHER)
for _vowel, (_bare, *_toned) in _TCVN3_VOWELS.items():
    _TCVN3_ENCODE[_vowel] = _bare
    for _tone, _byte in zip(_TONES, _toned, strict=True):
        _TCVN3_ENCODE[_nfc(_vowel + _tone)] = _byte

_TCVN3_DECODE: list[str] = [chr(b) for b in range(256)]
for _b, _ch in _VN1_EXTRA.items():
    _TCVN3_DECODE[_b] = _ch
for _ch, _b in _TCVN3_ENCODE.items():
    _TCVN3_DECODE[_b] = _ch
# Upper-case vowels with a tone share the lower-case byte (the ABC capital fonts).
_TCVN3_LOWERED = {
    ch.upper(): b for ch, b in _TCVN3_ENCODE.items() if ch.islower() and ch.upper() not in _TCVN3_ENCODE and b >= 0x80
}


def _decode_tcvn3(raw: bytes) -> str:
    return "".join(_TCVN3_DECODE[b] for b in raw)


# --------------------------------------------------------------------------- VNI
# Modifier bytes (lower-case form; the capital form is the byte - 0x20).
_VNI_TONE = {_GRAVE: 0xF8, _HOOK: 0xFB, _TILDE: 0xF5, _ACUTE: 0xF9, _DOT: 0xEF}
_VNI_CIRCUMFLEX = {"": 0xE2, _GRAVE: 0xE0, _HOOK: 0xE5, _TILDE: 0xE3, _ACUTE: 0xE1, _DOT: 0xE4}
_VNI_BREVE = {"": 0xEA, _GRAVE: 0xE8, _HOOK: 0xFA, _TILDE: 0xFC, _ACUTE: 0xE9, _DOT: 0xEB}
# Letters that are one byte on their own (lower case; capital = byte - 0x20).
_VNI_SINGLE = {
    "đ": 0xF1,
    "ơ": 0xF4,
    "ư": 0xF6,
    "ì": 0xEC,
    "í": 0xED,
    "ỉ": 0xE6,
    "ĩ": 0xF3,
    "ị": 0xF2,
    "ỵ": 0xEE,
}


def _build_vni() -> tuple[dict[str, bytes], dict[bytes, str]]:
    encode: dict[str, bytes] = {}
    for letter in VIETNAMESE_LOWER:
        if letter in _VNI_SINGLE:
            encode[letter] = bytes([_VNI_SINGLE[letter]])
            continue
        parts = unicodedata.normalize("NFD", letter)
        base, marks = parts[0], parts[1:]
        tone = next((m for m in marks if m in _TONES), "")
        if _CIRCUMFLEX in marks:
            seq = bytes([ord(base), _VNI_CIRCUMFLEX[tone]])
        elif _BREVE in marks:
            seq = bytes([ord(base), _VNI_BREVE[tone]])
        else:
            lead = _VNI_SINGLE["ơ" if base == "o" else "ư"] if _HORN in marks else ord(base)
            seq = bytes([lead]) + (bytes([_VNI_TONE[tone]]) if tone else b"")
        encode[letter] = seq
    for letter, seq in list(encode.items()):
        # Capitals: ASCII base upper-cased, every byte >= 0xE0 moved down by 0x20.
        encode[letter.upper()] = bytes(b - 0x20 if b >= 0xE0 or 0x61 <= b <= 0x7A else b for b in seq)

    decode = {seq: letter for letter, seq in encode.items() if len(seq) > 1 or seq[0] >= 0x80}
    return encode, decode


_VNI_ENCODE, _VNI_DECODE = _build_vni()
# A modifier byte that does not complete a letter of the table decodes to its
# combining marks, which NFC then composes with what precedes when Unicode has
# that letter: a capital base with a lower-case modifier (text typed across
# fonts, "Aù" = Á), i/y with the ordinary tone bytes ("iù" = í), stray marks.
_VNI_LONE: dict[int, str] = {}
for _tone, _byte in _VNI_TONE.items():
    _VNI_LONE[_byte] = _VNI_LONE[_byte - 0x20] = _tone
for _mark, _table in ((_CIRCUMFLEX, _VNI_CIRCUMFLEX), (_BREVE, _VNI_BREVE)):
    for _tone, _byte in _table.items():
        _VNI_LONE[_byte] = _VNI_LONE[_byte - 0x20] = _mark + _tone


def _decode_vni(raw: bytes) -> str:
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        pair = raw[i : i + 2]
        if len(pair) == 2 and pair in _VNI_DECODE:
            out.append(_VNI_DECODE[pair])
            i += 2
            continue
        b = raw[i]
        single = _VNI_DECODE.get(bytes([b]))
        if single is not None:
            out.append(single)
        elif b in _VNI_LONE:
            out.append(_VNI_LONE[b])
        else:
            out.append(chr(b))
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- API
def normalize_encoding_name(name: str) -> str:
    """``"TCVN-3"`` → ``"tcvn3"``, ``"VNI-Windows"`` → ``"vni"``; other names
    become Python's canonical codec name (``"UTF8"`` → ``"utf-8"``).
    Raises LookupError for an unknown name."""
    key = re.sub(r"[\s_\-:.]", "", name.strip().lower())
    if key in _ALIASES:
        return _ALIASES[key]
    return codecs.lookup(name.strip()).name


def is_supported(name: str) -> bool:
    try:
        normalize_encoding_name(name)
    except (LookupError, TypeError, AttributeError):
        return False
    return True


def decode_legacy(raw: bytes, encoding: str) -> str:
    """Decode ``raw`` from ``encoding`` (``"tcvn3"``, ``"vni"`` or any Python
    codec) to NFC Unicode.  TCVN3 and VNI never fail: every byte has a meaning."""
    enc = normalize_encoding_name(encoding)
    if enc == "tcvn3":
        text = _decode_tcvn3(bytes(raw))
    elif enc == "vni":
        text = _decode_vni(bytes(raw))
    else:
        # cp1258 (and UTF-8 written by some tools) carries tones as combining marks.
        text = bytes(raw).decode(enc)
    return _nfc(text)


def _encode_error(text: str, encoding: str, pos: int, reason: str) -> UnicodeEncodeError:
    return UnicodeEncodeError(encoding, text, pos, pos + 1, reason)


def encode_legacy(text: str, encoding: str, errors: str = "strict") -> bytes:
    """Encode NFC or NFD text to ``encoding``.

    ``errors``: ``"strict"`` raises UnicodeEncodeError for a character with no
    mapping, ``"replace"`` writes ``?`` instead, and ``"lower"`` (TCVN3 only,
    otherwise like strict) writes a capital with a tone as its lower-case byte,
    as the ABC capital fonts did.
    """
    if errors not in ("strict", "replace", "lower"):
        raise ValueError(f"unknown errors mode {errors!r}")
    enc = normalize_encoding_name(encoding)
    text = _nfc(text)
    if enc not in LEGACY_ENCODINGS:
        return _encode_codec(text, enc, errors)
    out = bytearray()
    for pos, ch in enumerate(text):
        if ch.isascii():
            out.append(ord(ch))
            continue
        if enc == "tcvn3":
            byte = _TCVN3_ENCODE.get(ch)
            if byte is None and errors == "lower":
                byte = _TCVN3_LOWERED.get(ch)
            if byte is not None:
                out.append(byte)
                continue
            reason = "capital with a tone: TCVN3 has no byte for it" if ch in _TCVN3_LOWERED else "not in TCVN3"
        else:
            seq = _VNI_ENCODE.get(ch)
            if seq is not None:
                out += seq
                continue
            reason = "not in VNI"
        if errors == "replace":
            out.append(0x3F)
        else:
            raise _encode_error(text, enc, pos, reason)
    return bytes(out)


def _encode_codec(text: str, enc: str, errors: str) -> bytes:
    py_errors = "replace" if errors == "replace" else "strict"
    try:
        return text.encode(enc)
    except UnicodeEncodeError:
        if enc != "cp1258":
            return text.encode(enc, py_errors)
    # cp1258 has precomposed letters for some vowels and combining tones for the
    # rest: encode letter by letter, splitting off the tone where needed.
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode(enc)
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        tone = "".join(m for m in parts if m in _TONES)
        base = _nfc("".join(m for m in parts if m not in _TONES))
        out += base.encode(enc, py_errors) + tone.encode(enc, py_errors)
    return bytes(out)


def _to_bytes(text: str) -> bytes:
    """Bytes behind a string that was decoded one byte per code point.  latin-1
    is exact; characters outside it are taken as cp1252 (a reader that used
    cp1252 instead of latin-1 turns 0x80-0x9F into “smart quotes” and such)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for pos, ch in enumerate(text):
        if ord(ch) < 0x100:
            out.append(ord(ch))
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            raise ValueError(
                f"character {ch!r} at {pos} was not produced by a one-byte-per-character (latin-1) "
                "decoding: read the file with encoding='latin1' before fixing it"
            ) from None
    return bytes(out)


def fix_text(text: str, encoding: str) -> str:
    """Repair a string read with ``encoding="latin1"`` that is really in
    ``encoding`` (``"tcvn3"``, ``"vni"``, ``"cp1258"``, ``"utf-8"``...)."""
    return decode_legacy(_to_bytes(text), encoding)


# --------------------------------------------------------------------------- guessing
_ONSETS = (
    "",
    "b",
    "c",
    "ch",
    "d",
    "đ",
    "g",
    "gh",
    "gi",
    "h",
    "k",
    "kh",
    "l",
    "m",
    "n",
    "ng",
    "ngh",
    "nh",
    "p",
    "ph",
    "q",
    "qu",
    "r",
    "s",
    "t",
    "th",
    "tr",
    "v",
    "x",
)
# Vowel groups, with a final semivowel where it is part of the rhyme (toneless).
_NUCLEI = (
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui uô uơ uy "
    "ưa ưi ưu ươ yê iêu yêu oai oao oay oeo uây uôi ươi ươu uya uyê uyu"
).split()
_CODAS = ("", "c", "ch", "m", "n", "ng", "nh", "p", "t")


def _alternation(items) -> str:
    return "|".join(re.escape(x) for x in sorted(items, key=len, reverse=True))


_SYLLABLE = re.compile(f"(?:{_alternation(_ONSETS)})(?:{_alternation(_NUCLEI)})(?:{_alternation(_CODAS)})")
_WORD = re.compile(r"[^\W\d_]+")


def _strip_tone(word: str) -> tuple[str, int]:
    parts = unicodedata.normalize("NFD", word)
    tones = sum(1 for c in parts if c in _TONES)
    return _nfc("".join(c for c in parts if c not in _TONES)), tones


def _plausible(word: str) -> bool:
    """Is ``word`` (NFC) a Vietnamese syllable in a sensible case?"""
    if not (word.islower() or word.isupper() or (word[0].isupper() and word[1:].islower())):
        return False
    if any(unicodedata.combining(c) for c in word):
        return False
    bare, tones = _strip_tone(word.lower())
    return tones <= 1 and _SYLLABLE.fullmatch(bare) is not None


def _score(samples: list[str], encoding: str) -> float | None:
    good = total = 0
    for text in samples:
        # Only words that had a byte >= 0x80 tell the encodings apart.
        for source_word in re.split(r"\s+", text):
            if source_word.isascii():
                continue
            words = _WORD.findall(fix_text(source_word, encoding))
            total += 1
            good += bool(words) and all(_plausible(w) for w in words)
    return good / total if total else None


ASCII, UTF8, OTHER = "ascii", "utf-8", "other"


def byte_text_kind(samples: list[str]) -> str:
    """What latin-1-decoded ``samples`` hold: only ASCII, text beyond it that is all valid UTF-8 (text in
    a code page or in TCVN3/VNI almost never is), or other bytes."""
    try:
        raw = [_to_bytes(s) for s in samples if isinstance(s, str) and s]
    except ValueError:  # letters beyond one byte: text decoded already, not bytes
        return UTF8
    high = [r for r in raw if any(b >= 0x80 for b in r)]
    if not high:
        return ASCII
    try:
        for r in high:
            r.decode("utf-8")
    except UnicodeDecodeError:
        return OTHER
    return UTF8


def guess_legacy(samples: list[str]) -> str | None:
    """Say whether latin-1-decoded ``samples`` look like TCVN3 or VNI.

    Each word with a byte >= 0x80 is decoded both ways and checked against
    the shape of a Vietnamese syllable (onset, vowel group, final, at most one
    tone, sensible case).  Returns the encoding in which clearly more such words
    make sense (at least 80 %, and 20 points ahead of the other), else None.
    Text that is valid UTF-8 or plain ASCII gives None.
    """
    texts = [s for s in samples if isinstance(s, str) and s]
    if byte_text_kind(texts) != OTHER:
        return None
    scores = {enc: _score(texts, enc) or 0.0 for enc in LEGACY_ENCODINGS}
    best = max(scores, key=scores.__getitem__)
    other = min(scores, key=scores.__getitem__)
    if best == other or scores[best] < 0.8 or scores[best] - scores[other] < 0.2:
        return None
    return best
