"""Bytes to text for mail bodies and headers: one charset chain for both.

Declared charsets are read as their supersets (what the sending software really
emits: GB2312 labels on GBK text, ISO-2022-JP with NEC extensions, ks_c_5601 as CP949).
A declared charset that fails on a tiny share of bytes is decoded with replacement
rather than re-guessed; undeclared 8-bit text is tried as UTF-8, then as the message's
own charset, then guessed among CP1251, KOI8-R and Windows-1252.
"""

from __future__ import annotations

import binascii
import codecs
import re

# Labels as mail software writes them -> the codec that decodes what it really sends.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "big5": "cp950",
    "x-big5": "cp950",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "korean": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "x-user-defined": "cp1252",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
}
# Labels that name no charset at all: guess instead.
_MEANINGLESS = frozenset({"unknown-8bit", "x-unknown", "unknown", "default", "charset", "8bit"})
# Charsets that are pure 7-bit: ASCII bytes do not mean the text is ASCII.
_SEVEN_BIT = ("iso2022", "utf-7", "utf_7", "hz")
_SINGLE_BYTE = ("cp125", "iso8859", "koi8", "mac-", "mac_", "cp874", "cp866", "latin")
_CYRILLIC_WORD = re.compile(r"[а-яё]{2,}", re.IGNORECASE)
_MIXED_SCRIPT = re.compile(r"[a-z][а-яё]|[а-яё][a-z]", re.IGNORECASE)
_CYR_LOWER = re.compile(r"[а-яё]")
_CYR_UPPER = re.compile(r"[А-ЯЁ]")
_SAMPLE = 65_536
# A declared or UTF-8 reading is kept, with U+FFFD for bad bytes, while bad bytes are
# at most this share of the text: one stray byte must not turn a page into mojibake.
_TOLERATED_BAD_SHARE = 0.005


def codec_for(label: str | None) -> str | None:
    """The Python codec that decodes what a charset label means in mail, or None."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language tag: utf-8*en
    if not name or name in _MEANINGLESS:
        return None
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None = None, hint: str | None = None) -> str:
    """Text of `data`: the declared charset (as its superset), UTF-8, `hint`, then a guess."""
    codec = codec_for(declared)
    if data.isascii() and not (codec and codec.startswith(_SEVEN_BIT)):
        return data.decode("ascii")
    if codec:
        text = _tolerant(data, codec)
        if text is not None:
            return text
    text = _tolerant(data, "utf-8")
    if text is not None:
        return text
    hinted = codec_for(hint)
    if hinted and hinted != codec:
        text = _tolerant(data, hinted)
        if text is not None:
            return text
    return guess(data)


def _tolerant(data: bytes, codec: str) -> str | None:
    """`data` in `codec`, with replacement when only a tiny share is bad; else None."""
    if codec != "utf-8" and codec.startswith(_SINGLE_BYTE):
        # Valid UTF-8 with non-ASCII in it is almost never legacy text by chance, while
        # UTF-8 labelled Latin-1 or CP1251 is common.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except (LookupError, ValueError):
        return None
    if codec.startswith("iso2022_jp"):
        return _iso2022jp_via_cp932(data)
    text = data.decode(codec, errors="replace")
    bad = text.count("\ufffd")
    if bad <= len(data) * _TOLERATED_BAD_SHARE:
        return text
    return None


def guess(data: bytes) -> str:
    """Undeclared 8-bit text: Russian in CP1251 or KOI8-R, else Western European."""
    sample = data[:_SAMPLE]
    cp1251 = sample.decode("cp1251", errors="replace")
    koi8 = sample.decode("koi8-r", errors="replace")
    # Latin-1 accents read as CP1251 land inside Latin words ("Mьller"); Russian makes
    # whole Cyrillic words.
    if len(_MIXED_SCRIPT.findall(cp1251)) > len(_CYRILLIC_WORD.findall(cp1251)):
        return data.decode("cp1252", errors="replace")

    # KOI8-R lowercase letters are CP1251 capitals, and the other way round; Russian
    # prose is mostly lowercase, so the right reading has more lowercase letters.
    def russian(text: str) -> int:
        return len(_CYR_LOWER.findall(text)) - len(_CYR_UPPER.findall(text))

    codec = "cp1251" if russian(cp1251) >= russian(koi8) else "koi8-r"
    return data.decode(codec, errors="replace")


def _iso2022jp_via_cp932(data: bytes) -> str:
    """ISO-2022-JP with vendor extensions (NEC row 13, IBM), mapped to Shift_JIS/CP932.

    Python's ISO-2022-JP codecs refuse the extension rows that Japanese mail software
    routinely emits (circled digits, Roman numerals).
    """
    out = bytearray()
    mode = "ascii"
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x1B:
            seq = data[i + 1 : i + 3]
            if seq in (b"(B", b"(J"):
                mode, i = "ascii", i + 3
                continue
            if seq in (b"$@", b"$B"):
                mode, i = "jis", i + 3
                continue
            if seq == b"(I":
                mode, i = "kana", i + 3
                continue
            if data[i + 1 : i + 4] == b"$(D":
                mode, i = "other", i + 4
                continue
        if byte in (0x0A, 0x0D):
            out.append(byte)
            mode, i = "ascii", i + 1
            continue
        if mode == "jis" and i + 1 < n:
            c1, c2 = byte, data[i + 1]
            if 0x21 <= c1 <= 0x7E and 0x21 <= c2 <= 0x7E:
                s1 = ((c1 + 1) >> 1) + (0x70 if c1 <= 0x5E else 0xB0)
                s2 = c2 + ((0x1F if c2 <= 0x5F else 0x20) if c1 & 1 else 0x7E)
                out += bytes((s1, s2))
            else:
                out += b"?"
            i += 2
            continue
        if mode == "kana" and 0x21 <= byte <= 0x5F:
            out.append(byte + 0x80)
        elif mode == "other":
            out += b"?"
        else:
            out.append(byte)
        i += 1
    return out.decode("cp932", errors="replace")


def b64_or_none(text: bytes | memoryview) -> bytes | None:
    """Lenient base64 (missing padding, stray characters); None when hopeless."""
    try:
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        pass
    cleaned = bytes(text).translate(None, _NOT_B64)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
    try:
        return binascii.a2b_base64(cleaned)
    except (binascii.Error, ValueError):
        return None


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(c for c in range(256) if c not in _B64_ALPHABET)
