"""Unicode-aware word tokenization for ROUGE and chunking.

rouge-score's default tokenizer lowercases and keeps only ``[a-z0-9]``, so Chinese, Russian or
accented text scores zero. Here a word is a run of letters/digits (``\\w`` in the Unicode sense,
so "naïve", "Привет" and "ﾃｽﾄ" survive), except that CJK ideographs, kana and Hangul syllables
count one per character (Chinese and Japanese have no spaces; per-character units are the common
choice for CJK ROUGE, e.g. the LCSTS benchmark, Hu et al., 2015).
"""

from __future__ import annotations

import unicodedata

import regex

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
_TOKEN = regex.compile(rf"[{_CJK}]|[^\W{_CJK}_]+(?:['’][^\W{_CJK}_]+)*", regex.UNICODE)


def words(text: str, lowercase: bool = True) -> list[str]:
    """Unicode words of ``text`` (NFKC-normalised, optionally lowercased); CJK per character.

    Example:
        >>> words("Naïve café, 你好! It's OK.")
        ['naïve', 'café', '你', '好', "it's", 'ok']
    """
    text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.casefold()
    return _TOKEN.findall(text)
