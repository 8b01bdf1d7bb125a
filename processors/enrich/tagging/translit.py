"""Name transliteration: consumes Cyrillic and Latin place names, produces romanised skeletons and their similarity.

GeoNames lists a city's alternate names in alphabetical order, Russian beside Avar, Kalmyk, Ossetian,
Ukrainian, Tatar ... forms. The Russian name is the one written in the Russian alphabet whose romanisation
(BGN/PCGN, as GeoNames romanises Russian names) is closest to one of the city's Latin names. Skeletons
fold the spelling differences between romanisation systems (Naberezhnye/Naberezhnyye, Almetyevsk/
Al'met'yevsk, Yessentuki/Essentuki, Tolyatti/Tol'yatti) so that both sides compare equal.
"""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any, Iterable, List, Set, Tuple

RUSSIAN_LETTERS = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
_BGN = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                 "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))
# folds applied in order to a lower-case ASCII romanisation
_FOLDS: Tuple[Tuple[str, str], ...] = (
    ("shch", "sch"), ("tch", "ch"), ("kh", "h"), ("ts", "c"), ("tz", "c"), ("zh", "j"), ("w", "v"),
    ("yy", "y"), ("iy", "y"), ("ij", "y"), ("ye", "e"), ("yo", "e"), ("je", "e"), ("j", "y"), ("i", "y"),
    ("x", "ks"), ("q", "k"), ("ck", "k"),
)
_NON_LETTER = re.compile(r"[^a-z]+")


def is_russian_spelling(name: str) -> bool:
    """Every letter of the name belongs to the Russian alphabet (no і, ї, ў, ә, Ӏ, ҕ, ... of other languages)."""
    letters = [c for c in name.lower() if c.isalpha()]
    return bool(letters) and all(c in RUSSIAN_LETTERS for c in letters)


def romanise_ru(name: str) -> str:
    """BGN/PCGN-style romanisation of a Russian-alphabet name (other characters are kept)."""
    return "".join(_BGN.get(c, c) for c in name.lower())


@lru_cache(maxsize=200_000)
def skeleton(name: str) -> str:
    """Lower-case letters only, romanised, with the spelling differences of romanisation systems folded."""
    low = romanise_ru(name) if any("\u0400" <= c <= "\u04ff" for c in name) else name.lower()
    low = unicodedata.normalize("NFKD", low).encode("ascii", "ignore").decode("ascii")
    low = _NON_LETTER.sub("", low)
    for a, b in _FOLDS:
        low = low.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", low)     # doubled letters: Tolyatti / Tolyati


def similarity(a: str, b: str) -> float:
    """Similarity (0..1) of two names after folding both to skeletons."""
    sa, sb = skeleton(a), skeleton(b)
    if not sa or not sb:
        return 0.0
    return SequenceMatcher(None, sa, sb).ratio()


def _similar_enough(a: str, b: str, floor: float) -> float:
    """similarity(a, b) when it can reach floor (cheap upper bounds first), else 0.0."""
    sa, sb = skeleton(a), skeleton(b)
    if not sa or not sb or 2 * min(len(sa), len(sb)) / (len(sa) + len(sb)) < floor:
        return 0.0
    sm = SequenceMatcher(None, sa, sb)
    return sm.ratio() if sm.quick_ratio() >= floor else 0.0


def russian_names(cyrillic: Iterable[str], latin: Iterable[str], min_similarity: float,
                  limit: int) -> List[str]:
    """The Cyrillic alternate names written in the Russian alphabet that romanise closest to one of the Latin
    names (best first, at least min_similarity, at most limit)."""
    lat = [n for n in latin if n]
    scored = []
    for n in dict.fromkeys(cyrillic):
        if not is_russian_spelling(n):
            continue
        close = [(r, m) for r, m in ((_similar_enough(n, m, min_similarity), m) for m in lat) if r]
        s = max(((r, _plain_similarity(n, m)) for r, m in close), default=(0.0, 0.0))
        if s[0] >= min_similarity:
            scored.append(((s[0], similarity(n, lat[0]), s[1]), n))
    # ties: the one closer to the first Latin name (the city's own: Лондон before Лондан), then the closer
    # plain romanisation (Тольятти before Толиати)
    scored.sort(key=lambda x: (-x[0][0], -x[0][1], -x[0][2]))
    return [n for _, n in scored[:limit]]


def _plain_similarity(cyr: str, lat: str) -> float:
    return SequenceMatcher(None, romanise_ru(cyr), lat.lower()).ratio()


_APOSTROPHES = re.compile(r"['ʹ’`]")
# (pattern, replacement) pairs: BGN spellings and the simpler ones news agencies write
_NEWS_SPELLINGS: Tuple[Tuple[str, str], ...] = (
    (r"yye\b", "ye"), (r"yy\b", "y"), (r"iy\b", "y"), (r"\bYe", "E"),
)


def romanisation_variants(name: str) -> List[str]:
    """Spellings of a BGN-romanised Russian name that English news also writes: without the apostrophes of
    soft signs (Al'met'yevsk -> Almetyevsk), with -yye/-yy/-iy endings shortened (Naberezhnyye ->
    Naberezhnye, Groznyy -> Grozny) and an initial Ye as E (Yessentuki -> Essentuki)."""
    base = _APOSTROPHES.sub("", name)
    out = [base]
    for pattern, repl in _NEWS_SPELLINGS:
        out += [re.sub(pattern, repl, v) for v in list(out)]
    return [v for v in dict.fromkeys(out) if v != name]


_ADJ_SUFFIXES = ("ский", "ьский")
_LONG_ADJ_SUFFIXES = ("инский", "енский")      # Махачкала -> махачкалинский, Керчь -> керченский (stems of 4+)


def city_adjectives(morph: Any, name: str, checked: bool = False) -> List[str]:
    """Adjectives of a one-word Russian city name that pymorphy3's dictionary knows as adjectives of their own
    (Лондон -> лондонский, Уфа -> уфимский, Москва -> московский, Тула -> тульский, Курск -> курский); a
    guess the dictionary does not hold is never made, nor one for a name that is also a person's (Пушкин);
    `checked`: nor one that is also an ordinary noun's adjective (Братск -> братский, of брат; for smaller towns:
    омский, of ом, is Omsk's all the same)."""
    low = name.lower()
    if not low or " " in low or not is_russian_spelling(low):
        return []
    if any({"Name", "Surn", "Patr"} & set(map(str, p.tag.grammemes)) for p in morph.parse(low)[:3]):
        return []
    stems = {low, low[:-1]} if low[-1] in "аяьйео" else {low}
    # a fleeting vowel before the last consonant: Москва -> москов-ский
    stems |= {st[:-1] + "о" + st[-1] for st in list(stems) if len(st) > 2 and st[-1] not in "аеёиоуыэюяьй"}
    words = [st + suf for st in sorted(stems) if not st.endswith("ск")
             for suf in _ADJ_SUFFIXES + ("имский",)]   # Уфа -> уфимский
    words += [low + "ий"] if low.endswith("ск") else []
    words += [st + suf for st in sorted(stems) if len(st) >= 4 for suf in _LONG_ADJ_SUFFIXES]
    return [w for w in dict.fromkeys(words) if morph.word_is_known(w) and
            any(p.tag.POS == "ADJF" and p.normal_form == w for p in morph.parse(w)) and
            not (checked and _from_other_word(morph, w, stems))]


def _from_other_word(morph: Any, adjective: str, name_stems: Set[str]) -> bool:
    """The adjective is that of an ordinary noun, another place or a person's name, whatever the town: братский
    (брат), советский (совет), крымский (Крым), королевский (Королев). Its stem is then a dictionary noun in its
    nominative other than the town's own (казанский: казан is Казань's stem), or a person's name."""
    base = adjective[:-len("ский")].replace("ё", "е")
    own = {st.replace("ё", "е") for st in name_stems}
    for stem in dict.fromkeys((base, base.rstrip("ь"))):
        if not morph.word_is_known(stem):
            continue
        for p in morph.parse(stem):
            if p.normal_form.replace("ё", "е") != stem or p.tag.POS != "NOUN":
                continue
            if {"Name", "Surn", "Patr"} & set(map(str, p.tag.grammemes)) or stem not in own:
                return True     # (a place's own noun other than the town's: крымский is Crimea's, not Krymsk's)
    return False
