"""Legacy Vietnamese encodings (TCVN3/ABC and VNI-Windows) for imported DBFs.

No database: these tests only need pyogrio/GDAL.
"""

from __future__ import annotations

import struct
import unicodedata

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point

from importers.encodings import (
    LEGACY_ENCODINGS,
    VIETNAMESE_LETTERS,
    VIETNAMESE_LOWER,
    decode_legacy,
    encode_legacy,
    fix_text,
    guess_legacy,
    is_supported,
    normalize_encoding_name,
)

TONES = ("\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Written out by hand, independently of the module's own list.
ALL_LOWER = ("àảãáạ ăằẳẵắặ âầẩẫấậ èẻẽéẹ êềểễếệ ìỉĩíị òỏõóọ ôồổỗốộ ơờởỡớợ ùủũúụ ưừửữứự ỳỷỹýỵ đ").replace(" ", "")
ALL_UPPER = ("ÀẢÃÁẠ ĂẰẲẴẮẶ ÂẦẨẪẤẬ ÈẺẼÉẸ ÊỀỂỄẾỆ ÌỈĨÍỊ ÒỎÕÓỌ ÔỒỔỖỐỘ ƠỜỞỠỚỢ ÙỦŨÚỤ ƯỪỬỮỨỰ ỲỶỸÝỴ Đ").replace(" ", "")

PLACES = [
    "Đền Trần",
    "Phủ Dầy",
    "Hải Hậu",
    "Xuân Trường",
    "Nghĩa Hưng",
    "Ý Yên",
    "Giao Thủy",
    "Trực Ninh",
    "chùa Cổ Lễ",
    "làng nghề Vân Chàng",
    "Nam Định",
    "Mỹ Lộc",
    "Vụ Bản",
    "thành phố Nam Định",
    "Nghĩa Hưng, Nam Định",
]


def test_the_134_letters():
    assert len(ALL_LOWER) == 67 and len(ALL_UPPER) == 67
    assert set(ALL_LOWER) == set(VIETNAMESE_LOWER)
    assert set(ALL_LOWER + ALL_UPPER) == set(VIETNAMESE_LETTERS)
    assert len(set(VIETNAMESE_LETTERS)) == 134
    assert all(unicodedata.is_normalized("NFC", c) and len(c) == 1 for c in VIETNAMESE_LETTERS)
    assert ALL_UPPER == ALL_LOWER.upper()


# ---------------------------------------------------------------------------- TCVN3
def test_tcvn3_round_trips_every_letter_it_has():
    # All 67 lower-case letters, the 7 capitals with their own byte, ASCII.
    supported = ALL_LOWER + "ĂÂÊÔƠƯĐ" + ASCII_LETTERS
    for ch in supported:
        raw = encode_legacy(ch, "tcvn3")
        assert len(raw) == 1, ch
        assert decode_legacy(raw, "tcvn3") == ch
    raw = encode_legacy(supported, "tcvn3")
    assert len(raw) == len(supported)
    assert decode_legacy(raw, "tcvn3") == supported
    # One byte per letter, all distinct: a bijection on the letters.
    assert len({encode_legacy(c, "tcvn3") for c in supported}) == len(supported)
    for ch in ALL_LOWER + "ĂÂÊÔƠƯĐ":
        assert encode_legacy(ch, "tcvn3")[0] >= 0x80, ch


def test_tcvn3_capitals_with_tones_share_the_lower_case_byte():
    toned_caps = [c for c in ALL_UPPER if c not in "ĂÂÊÔƠƯĐ"]
    assert len(toned_caps) == 60
    for cap in toned_caps:
        with pytest.raises(UnicodeEncodeError):
            encode_legacy(cap, "tcvn3")
        lowered = encode_legacy(cap, "tcvn3", errors="lower")
        assert lowered == encode_legacy(cap.lower(), "tcvn3")
        assert decode_legacy(lowered, "tcvn3") == cap.lower()
    assert encode_legacy("Ủy ban", "tcvn3", errors="replace") == b"?y ban"


def test_tcvn3_known_bytes():
    # Expected bytes from glibc's iconv, `iconv -f UTF-8 -t TCVN5712-1` (glibc 2.x,
    # iconvdata/tcvn5712-1.c), which agrees with the TCVN3_TABLE of
    # khiemdoan/VBKey Modules/mdlCodeTable.bas and the TCVN3 table of
    # duydev/vietnamese-conversion src/charsets.ts.
    known = {
        "Nam Định": b"Nam \xa7\xdenh",
        "Việt Nam": b"Vi\xd6t Nam",
        "Hải Hậu": b"H\xb6i H\xcbu",
        "Xuân Trường": b"Xu\xa9n Tr\xad\xeang",
        "Nghĩa Hưng": b"Ngh\xdca H\xadng",
        "chùa Cổ Lễ": b"ch\xefa C\xe6 L\xd4",
        "làng nghề": b"l\xb5ng ngh\xd2",
    }
    for text, raw in known.items():
        assert encode_legacy(text, "tcvn3") == raw, text
        assert decode_legacy(raw, "tcvn3") == text
    # The 12 vowels with grave/hook/tilde/acute/dot, per the same sources.
    rows = {
        "a": "b5 b6 b7 b8 b9",
        "ă": "bb bc bd be c6",
        "â": "c7 c8 c9 ca cb",
        "e": "cc ce cf d0 d1",
        "ê": "d2 d3 d4 d5 d6",
        "i": "d7 d8 dc dd de",
        "o": "df e1 e2 e3 e4",
        "ô": "e5 e6 e7 e8 e9",
        "ơ": "ea eb ec ed ee",
        "u": "ef f1 f2 f3 f4",
        "ư": "f5 f6 f7 f8 f9",
        "y": "fa fb fc fd fe",
    }
    for vowel, hexes in rows.items():
        for tone, hx in zip(TONES, hexes.split(), strict=True):
            letter = unicodedata.normalize("NFC", vowel + tone)
            assert encode_legacy(letter, "tcvn3") == bytes.fromhex(hx), letter
    assert encode_legacy("ăâêôơưđĂÂÊÔƠƯĐ", "tcvn3") == bytes.fromhex("a8a9aaabacadaea1a2a3a4a5a6a7")


# What glibc's `iconv -f TCVN5712-1` gives for each byte 0x80-0xFF (TCVN 5712:1993
# VN1; its VN3 subset is the TCVN3/ABC in the files).
GLIBC_TCVN5712_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)


def test_tcvn3_decodes_every_byte_as_glibc_does():
    assert len(GLIBC_TCVN5712_HIGH) == 128
    # Bytes < 0x80 are ASCII (VN1's capitals in the C0 range are not used).
    assert decode_legacy(bytes(range(0x80)), "tcvn3") == bytes(range(0x80)).decode("ascii")
    for b in range(0x80, 0x100):
        assert decode_legacy(bytes([b]), "tcvn3") == GLIBC_TCVN5712_HIGH[b - 0x80], hex(b)
    # The 74 letters TCVN3 encodes all sit in this table at the bytes we write.
    for ch in ALL_LOWER + "ĂÂÊÔƠƯĐ":
        assert GLIBC_TCVN5712_HIGH[encode_legacy(ch, "tcvn3")[0] - 0x80] == ch
    # VN1's combining tone marks compose to NFC.
    assert decode_legacy(b"a\xb3", "tcvn3") == "á"


# ---------------------------------------------------------------------------- VNI
def test_vni_round_trips_all_134_letters():
    for ch in ALL_LOWER + ALL_UPPER + ASCII_LETTERS:
        raw = encode_legacy(ch, "vni")
        assert 1 <= len(raw) <= 2, ch
        assert decode_legacy(raw, "vni") == ch, (ch, raw)
    text = ALL_LOWER + ALL_UPPER + ASCII_LETTERS
    assert decode_legacy(encode_legacy(text, "vni"), "vni") == text
    assert len({encode_legacy(c, "vni") for c in ALL_LOWER + ALL_UPPER}) == 134
    # Capitals use the capital form of the base and of the modifier byte.
    for low, cap in zip(ALL_LOWER, ALL_UPPER, strict=True):
        assert encode_legacy(cap, "vni") == encode_legacy(low, "vni").decode("latin-1").upper().encode("latin-1")


def test_vni_known_bytes():
    # duydev/vietnamese-conversion README: "Xin chào các bạn" -> "Xin chaøo caùc baïn".
    assert encode_legacy("Xin chào các bạn", "vni") == "Xin chaøo caùc baïn".encode("latin-1")
    assert decode_legacy("Xin chaøo caùc baïn".encode("latin-1"), "vni") == "Xin chào các bạn"
    # Per-letter values from khiemdoan/VBKey Modules/mdlCodeTable.bas (VNI_WINDOWS_TABLE,
    # stored there as Mac Roman text, read back to bytes) and duydev/vietnamese-conversion
    # src/charsets.ts (VNI), which agree on all 134 letters.
    known = {
        "Việt Nam": b"Vie\xe4t Nam",
        "Nam Định": b"Nam \xd1\xf2nh",
        "Xuân Trường": b"Xua\xe2n Tr\xf6\xf4\xf8ng",
        "Nghĩa Hưng": b"Ngh\xf3a H\xf6ng",
        "Ý Yên": b"Y\xd9 Ye\xe2n",
        "Ỵ ỵ Ỉ ỉ Ì í": b"\xce \xee \xc6 \xe6 \xcc \xed",
        "ặ Ặ ẵ Ẵ": b"a\xeb A\xcb a\xfc A\xdc",
        "Đ đ Ơ ơ Ư ư": b"\xd1 \xf1 \xd4 \xf4 \xd6 \xf6",
    }
    for text, raw in known.items():
        assert encode_legacy(text, "vni") == raw, text
        assert decode_legacy(raw, "vni") == text
    # Every lower-case vowel with grave/hook/tilde/acute/dot, same two sources.
    rows = {
        "a": "61f8 61fb 61f5 61f9 61ef",
        "ă": "61e8 61fa 61fc 61e9 61eb",
        "â": "61e0 61e5 61e3 61e1 61e4",
        "e": "65f8 65fb 65f5 65f9 65ef",
        "ê": "65e0 65e5 65e3 65e1 65e4",
        "i": "ec e6 f3 ed f2",
        "o": "6ff8 6ffb 6ff5 6ff9 6fef",
        "ô": "6fe0 6fe5 6fe3 6fe1 6fe4",
        "ơ": "f4f8 f4fb f4f5 f4f9 f4ef",
        "u": "75f8 75fb 75f5 75f9 75ef",
        "ư": "f6f8 f6fb f6f5 f6f9 f6ef",
        "y": "79f8 79fb 79f5 79f9 ee",
    }
    for vowel, hexes in rows.items():
        for tone, hx in zip(TONES, hexes.split(), strict=True):
            letter = unicodedata.normalize("NFC", vowel + tone)
            assert encode_legacy(letter, "vni") == bytes.fromhex(hx), letter
            assert decode_legacy(bytes.fromhex(hx), "vni") == letter
    assert encode_legacy("ăâêôơưđ", "vni") == bytes.fromhex("61ea 61e2 65e2 6fe2 f4 f6 f1")


def test_vni_tolerates_mixed_case_modifiers_and_stray_marks():
    # Capital base with a lower-case modifier (text typed across fonts).
    assert decode_legacy("Aù Vieät".encode("latin-1"), "vni") == "Á Việt"
    # i and y with the ordinary tone bytes.
    assert decode_legacy(b"i\xf9 y\xef I\xd8", "vni") == "í ỵ Ì"
    # A modifier with no base decodes to combining marks, never raises.
    assert decode_legacy(b"\xf9", "vni") == "\u0301"
    assert decode_legacy(b"A\xe2 o\xc2 A\xe9 u\xd9", "vni") == "Â ô Ắ ú"
    assert decode_legacy(b"\xe1", "vni") == "\u0302\u0301"


# ---------------------------------------------------------------------------- both
@pytest.mark.parametrize("encoding", LEGACY_ENCODINGS)
def test_place_names_round_trip(encoding):
    errors = "lower" if encoding == "tcvn3" else "strict"
    for name in PLACES:
        raw = encode_legacy(name, encoding, errors=errors)
        assert raw != name.encode("utf-8")
        back = decode_legacy(raw, encoding)
        expected = (
            name
            if encoding == "vni"
            else "".join(c.lower() if c in ALL_UPPER and c not in "ĂÂÊÔƠƯĐ" else c for c in name)
        )
        assert back == expected
        assert unicodedata.is_normalized("NFC", back)


def test_tcvn3_place_names_lose_only_toned_capitals():
    assert decode_legacy(encode_legacy("Ý Yên", "tcvn3", errors="lower"), "tcvn3") == "ý Yên"
    for name in PLACES:
        if not any(c in ALL_UPPER and c not in "ĂÂÊÔƠƯĐ" for c in name):
            assert decode_legacy(encode_legacy(name, "tcvn3"), "tcvn3") == name


@pytest.mark.parametrize("encoding", LEGACY_ENCODINGS)
def test_encoding_accepts_nfd_input(encoding):
    nfd = unicodedata.normalize("NFD", "Nghĩa Hưng")
    assert encode_legacy(nfd, encoding) == encode_legacy("Nghĩa Hưng", encoding)


@pytest.mark.parametrize("encoding", LEGACY_ENCODINGS)
def test_unmappable_characters(encoding):
    with pytest.raises(UnicodeEncodeError):
        encode_legacy("Hà Nội – 2024 €", encoding)
    assert encode_legacy("ß", encoding, errors="replace") == b"?"
    with pytest.raises(ValueError):
        encode_legacy("a", encoding, errors="ignore")


def test_python_codecs_decode_to_nfc():
    assert decode_legacy("Nam Định".encode(), "utf-8") == "Nam Định"
    nfd_utf8 = unicodedata.normalize("NFD", "Nam Định").encode("utf-8")
    assert decode_legacy(nfd_utf8, "UTF8") == "Nam Định"
    # cp1258: Đ is 0xD0, the dot below is the combining byte 0xF2 after a plain i.
    raw = b"Nam \xd0i\xf2nh"
    assert raw.decode("cp1258") != "Nam Định"  # combining form: why NFC is needed
    assert decode_legacy(raw, "cp1258") == "Nam Định"
    assert decode_legacy(encode_legacy("Xuân Trường, Ý Yên", "cp1258"), "cp1258") == "Xuân Trường, Ý Yên"
    for ch in ALL_LOWER + ALL_UPPER:
        assert decode_legacy(encode_legacy(ch, "cp1258"), "cp1258") == ch
    assert decode_legacy(b"caf\xe9", "latin-1") == "café"


def test_names_and_support():
    assert LEGACY_ENCODINGS == ("tcvn3", "vni")
    for name in ("tcvn3", "TCVN3", "TCVN-3", "abc", "ABC", "tcvn5712", "TCVN 5712:1993"):
        assert normalize_encoding_name(name) == "tcvn3", name
        assert is_supported(name)
    for name in ("vni", "VNI", "VNI-Windows", "vni_win"):
        assert normalize_encoding_name(name) == "vni", name
    for name in ("utf-8", "UTF8", "cp1258", "windows-1258", "latin-1", "latin1"):
        assert is_supported(name), name
    assert normalize_encoding_name("UTF8") == "utf-8"
    assert not is_supported("vni2")
    assert not is_supported("no-such-codec")
    assert not is_supported("")
    with pytest.raises(LookupError):
        decode_legacy(b"x", "klingon")


# ---------------------------------------------------------------------------- fix_text
@pytest.mark.parametrize("encoding", LEGACY_ENCODINGS)
def test_fix_text_on_latin1_decoded_strings(encoding):
    for name in PLACES:
        raw = encode_legacy(name, encoding, errors="lower")
        as_read = raw.decode("latin-1")  # what GDAL hands back with encoding="latin1"
        assert fix_text(as_read, encoding) == decode_legacy(raw, encoding)
    assert fix_text("Nam §Þnh", "tcvn3") == "Nam Định"
    assert fix_text("Vieät Nam", "vni") == "Việt Nam"
    assert fix_text("ASCII only 123", encoding) == "ASCII only 123"
    assert fix_text("", encoding) == ""


def test_fix_text_accepts_cp1252_reads_and_refuses_real_unicode():
    # A reader that used cp1252 turns byte 0x80 into "€": still the same byte.
    assert fix_text("\u20ac", "tcvn3") == decode_legacy(b"\x80", "tcvn3") == "À"
    with pytest.raises(ValueError, match="latin1"):
        fix_text("Nam Định", "tcvn3")
    # UTF-8 read as latin-1 is fixed with the utf-8 codec.
    assert fix_text("Nam Định".encode().decode("latin-1"), "utf-8") == "Nam Định"


# ---------------------------------------------------------------------------- guessing
def _as_read(names, encoding):
    return [encode_legacy(n, encoding, errors="lower").decode("latin-1") for n in names]


def test_syllable_check_behind_the_guess():
    from importers.encodings import _plausible

    for word in ("Định", "nghề", "Trường", "khuya", "NGHĨA", "Xuân", "quốc", "gì", "ươi"):
        assert _plausible(word), word
    for word in ("Vieọt", "ẹũnh", "ViƯt", "Trửụứng", "Mỹller", "Cafộ", "ááá", "xyz", "ngừới", "hoàá", "b\u0301a"):
        assert not _plausible(word), word


def test_guess_legacy():
    assert guess_legacy(_as_read(PLACES, "tcvn3")) == "tcvn3"
    assert guess_legacy(_as_read(PLACES, "vni")) == "vni"
    for name in PLACES:
        assert guess_legacy(_as_read([name], "tcvn3")) in ("tcvn3", None), name
        assert guess_legacy(_as_read([name], "vni")) in ("vni", None), name
    assert guess_legacy(_as_read(["Nam Định"], "tcvn3")) == "tcvn3"
    assert guess_legacy(_as_read(["Việt Nam"], "vni")) == "vni"
    # Unsure or not legacy: ASCII only, UTF-8 read as latin-1, nothing at all.
    assert guess_legacy(["Nam Dinh", "Hai Hau"]) is None
    assert guess_legacy([n.encode("utf-8").decode("latin-1") for n in PLACES]) is None
    assert guess_legacy([]) is None
    assert guess_legacy(["Nam Định"]) is None  # not a latin-1 reading at all
    # Western European text is neither.
    assert guess_legacy(["Café Müller", "Größe", "São Paulo", "Ærøskøbing"]) is None


# ---------------------------------------------------------------------------- DBF files
def _dbf_fields(path) -> dict[str, tuple[str, int]]:
    """Field name -> (type, width) from a DBF header."""
    raw = path.read_bytes()
    header_len = struct.unpack("<H", raw[8:10])[0]
    fields = {}
    for off in range(32, header_len - 1, 32):
        desc = raw[off : off + 32]
        if desc[0] == 0x0D:
            break
        fields[desc[:11].rstrip(b"\0").decode("ascii")] = (chr(desc[11]), desc[16])
    return fields


def _write_legacy_shapefile(path, names, encoding):
    encoded = [encode_legacy(n, encoding, errors="lower") for n in names]
    gdf = gpd.GeoDataFrame(
        {"ten": [r.decode("latin-1") for r in encoded], "ma": list(range(1, len(names) + 1))},
        geometry=[Point(106.17 + i * 0.01, 20.42) for i in range(len(names))],
        crs="EPSG:4326",
    )
    # RESIZE=YES: GDAL sizes the field to the longest value, in bytes.
    pyogrio.write_dataframe(gdf, path, encoding="latin1", layer_options={"RESIZE": "YES"})
    # Legacy files come without a .cpg; the importer names the encoding instead.
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return encoded


@pytest.mark.parametrize("encoding", LEGACY_ENCODINGS)
def test_dbf_round_trip(tmp_path, encoding):
    names = PLACES + [ALL_LOWER[:60], ALL_LOWER[60:] + ALL_UPPER[60:] + " " + ALL_UPPER[:40]]
    path = tmp_path / f"{encoding}.shp"
    encoded = _write_legacy_shapefile(path, names, encoding)

    # The bytes in the DBF are the legacy bytes themselves.
    dbf = path.with_suffix(".dbf").read_bytes()
    for raw in encoded:
        assert raw in dbf
    assert "Nam Định".encode() not in dbf

    # The declared width holds the longest value in bytes, which for VNI is
    # more than its length in characters: a field sized in characters would cut.
    longest = max(len(r) for r in encoded)
    ftype, width = _dbf_fields(path.with_suffix(".dbf"))["ten"]
    assert ftype == "C"
    assert width == longest <= 254
    if encoding == "vni":
        assert longest > max(len(n) for n in names)

    df = pyogrio.read_dataframe(path, encoding="latin1")
    assert list(df["ma"]) == list(range(1, len(names) + 1))
    read = list(df["ten"])
    assert read == [r.decode("latin-1") for r in encoded]  # nothing truncated
    fixed = [fix_text(v, encoding) for v in read]
    expected = [decode_legacy(r, encoding) for r in encoded]
    assert fixed == expected
    assert "Nam Định" in fixed and "làng nghề Vân Chàng" in fixed and "Xuân Trường" in fixed
    if encoding == "vni":
        assert fixed == names
    else:
        assert "ý Yên" in fixed  # the capital with a tone comes back lower-case
    assert guess_legacy(read) == encoding
    other = "vni" if encoding == "tcvn3" else "tcvn3"
    assert [fix_text(v, other) for v in read] != names
