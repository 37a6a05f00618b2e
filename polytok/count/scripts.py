"""Unicode script classes of characters and the per-text features the token approximation uses.

Every code point falls in one *class*: a Unicode script (by block ranges, e.g. Cyrillic
U+0400..U+052F), split further where tokenizers behave differently (ASCII Latin letters vs accented
Latin letters; digits, whitespace and punctuation apart from letters). A text's features are, per
class, the number of characters and the number of *runs* (maximal stretches of one class, roughly
"words" for alphabetic scripts). BPE tokenizers spend about one token per word plus a script
dependent rate per character, so ``tokens ~= sum_c a_c * chars_c + b_c * runs_c`` (a linear model
fitted per target tokenizer, see `polytok.count.approx`).

Classification is vectorised: code points come from ``str.encode("utf-32-le")`` and a 64K-entry
lookup table (the Basic Multilingual Plane) plus a few astral ranges, so a 4 KB text takes tens of
microseconds.
"""

from __future__ import annotations

import numpy as np

# Class names, in feature order. "other" holds every script polytok has no calibration data for.
SCRIPT_CLASSES: tuple[str, ...] = (
    "latin_ascii",
    "latin_ext",
    "digit",
    "space",
    "punct",
    "mark",
    "greek",
    "cyrillic",
    "armenian",
    "hebrew",
    "arabic",
    "devanagari",
    "bengali",
    "gurmukhi",
    "gujarati",
    "oriya",
    "tamil",
    "telugu",
    "kannada",
    "malayalam",
    "sinhala",
    "thai",
    "lao",
    "georgian",
    "hangul",
    "hiragana",
    "katakana",
    "han",
    "cjk_punct",
    "emoji",
    "other",
)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(SCRIPT_CLASSES)}
NUM_CLASSES = len(SCRIPT_CLASSES)

# (first, last, class) ranges of the Basic Multilingual Plane, inclusive; later entries win.
_BMP_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0000, 0x007F, "punct"),
    (0x00A0, 0x00BF, "punct"),
    (0x00C0, 0x024F, "latin_ext"),
    (0x00D7, 0x00D7, "punct"),
    (0x00F7, 0x00F7, "punct"),
    (0x0250, 0x02FF, "latin_ext"),
    (0x0300, 0x036F, "mark"),
    (0x0370, 0x03FF, "greek"),
    (0x1F00, 0x1FFF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x1C80, 0x1C8F, "cyrillic"),
    (0x2DE0, 0x2DFF, "cyrillic"),
    (0xA640, 0xA69F, "cyrillic"),
    (0x0530, 0x058F, "armenian"),
    (0x0590, 0x05FF, "hebrew"),
    (0xFB1D, 0xFB4F, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0x08A0, 0x08FF, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0xA8E0, 0xA8FF, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"),
    (0x0B00, 0x0B7F, "oriya"),
    (0x0B80, 0x0BFF, "tamil"),
    (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"),
    (0x0D00, 0x0D7F, "malayalam"),
    (0x0D80, 0x0DFF, "sinhala"),
    (0x0E00, 0x0E7F, "thai"),
    (0x0E80, 0x0EFF, "lao"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x3130, 0x318F, "hangul"),
    (0xA960, 0xA97F, "hangul"),
    (0xAC00, 0xD7FF, "hangul"),
    (0xFFA0, 0xFFDC, "hangul"),
    (0x1E00, 0x1EFF, "latin_ext"),
    (0x2000, 0x2BFF, "punct"),
    (0x2600, 0x27BF, "emoji"),
    (0x2E80, 0x2FDF, "han"),
    (0x3000, 0x303F, "cjk_punct"),
    (0x3040, 0x309F, "hiragana"),
    (0x30A0, 0x30FF, "katakana"),
    (0x31F0, 0x31FF, "katakana"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xF900, 0xFAFF, "han"),
    (0xFE30, 0xFE4F, "cjk_punct"),
    (0xFF00, 0xFF65, "cjk_punct"),
    (0xFF66, 0xFF9F, "katakana"),
    (0xFE00, 0xFE0F, "mark"),
    (0x200B, 0x200F, "mark"),
)


def _build_bmp_table() -> np.ndarray:
    table = np.full(0x10000, CLASS_INDEX["other"], dtype=np.uint8)
    for first, last, name in _BMP_RANGES:
        table[first : last + 1] = CLASS_INDEX[name]
    for ch in range(0x80):  # ASCII split by character kind
        c = chr(ch)
        if c.isascii() and c.isalpha():
            table[ch] = CLASS_INDEX["latin_ascii"]
        elif c.isdigit():
            table[ch] = CLASS_INDEX["digit"]
        elif c.isspace():
            table[ch] = CLASS_INDEX["space"]
    for ch in (0x00A0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000):
        table[ch] = CLASS_INDEX["space"]
    for ch in range(0x00C0, 0x0250):  # Latin-1 and Extended-A/B letters that are not letters
        if not chr(ch).isalpha():
            table[ch] = CLASS_INDEX["punct"]
    return table


_BMP_TABLE = _build_bmp_table()
_ASTRAL = np.array(  # (first, last, class index) for code points above U+FFFF
    [
        (0x1F000, 0x1FAFF, CLASS_INDEX["emoji"]),
        (0x20000, 0x3FFFF, CLASS_INDEX["han"]),
    ],
    dtype=np.int64,
)


def classify(text: str) -> np.ndarray:
    """Class index of every character of ``text``.

    Returns:
        ``(len(text),)`` uint8 array of indices into `SCRIPT_CLASSES`.
    """
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (N,)
    if cps.size == 0 or int(cps.max()) < 0x10000:
        return _BMP_TABLE[cps]
    classes = _BMP_TABLE[np.minimum(cps, 0xFFFF)]
    astral = cps >= 0x10000
    classes[astral] = CLASS_INDEX["other"]
    for first, last, index in _ASTRAL:
        classes[astral & (cps >= first) & (cps <= last)] = index
    return classes


def script_features(text: str) -> np.ndarray:
    """Per-class character and run counts of ``text``.

    Returns:
        ``(2 * NUM_CLASSES,)`` float64: ``[chars_0..chars_K-1, runs_0..runs_K-1]`` where a run is
        a maximal stretch of characters of one class.
    """
    classes = classify(text)  # (N,)
    out = np.zeros(2 * NUM_CLASSES, dtype=np.float64)
    if classes.size == 0:
        return out
    out[:NUM_CLASSES] = np.bincount(classes, minlength=NUM_CLASSES)
    starts = np.empty(classes.size, dtype=bool)  # (N,) true where a run begins
    starts[0] = True
    np.not_equal(classes[1:], classes[:-1], out=starts[1:])
    out[NUM_CLASSES:] = np.bincount(classes[starts], minlength=NUM_CLASSES)
    return out


# Reporting groups: classes that a reader thinks of as one script.
_GROUPS = {"latin_ascii": "latin", "latin_ext": "latin", "hiragana": "kana", "katakana": "kana"}
_NON_LETTER = ("digit", "space", "punct", "mark", "cjk_punct", "emoji")


def dominant_script(text: str) -> str:
    """The script with most letters in ``text`` (``"none"`` without letters).

    Latin ASCII and accented Latin report as ``"latin"``, hiragana and katakana as ``"kana"``.
    """
    counts: dict[str, int] = {}
    for index, n in enumerate(np.bincount(classify(text), minlength=NUM_CLASSES)):
        name = SCRIPT_CLASSES[index]
        if n and name not in _NON_LETTER:
            group = _GROUPS.get(name, name)
            counts[group] = counts.get(group, 0) + int(n)
    return max(counts, key=counts.__getitem__) if counts else "none"
