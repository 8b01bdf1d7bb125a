"""Russian case forms of place names: consumes a name in the nominative, produces its oblique case forms.

pymorphy3 lemmatises the forms of a word it knows to one lemma (Керчи, Керчь -> керчь), but for a word outside
its dictionary it guesses each form's lemma on its own (Тяньцзинь -> тяньцзинь, Тяньцзине -> тяньцзина;
Тусон -> тусон, Тусоне -> тусоня), so a pattern written in the nominative misses the other cases. The forms
made here from the name's ending (the regular noun declensions: Тусона, Тусону, Тусоном, Тусоне) give the
lemmas those forms get. Names ending in a vowel that does not decline (Торгау, Бергамо, Сочи) have none.
Only the last word of a name declines here (Клуж-Напока -> Клуж-Напоке).
"""
from __future__ import annotations

from typing import List, Tuple

_HUSHING = "гкхжшщч"          # after these the genitive of -а is -и (Рига -> Риги)
_VOWEL_ENDINGS = "оеиуюэыё"   # indeclinable: Торгау, Бергамо, Сочи, Кале
# ending of the nominative -> (letters removed, endings of the other cases)
_PARADIGMS: Tuple[Tuple[str, int, Tuple[str, ...]], ...] = (
    ("ия", 1, ("и", "ю", "ей")),                       # Павия -> Павии, Павию, Павией
    ("ий", 1, ("я", "ю", "ем", "и")),                  # Мухаммадий -> Мухаммадия
    ("я", 1, ("и", "е", "ю", "ей")),                   # Вербания is -ия; Гянджя -> Гянджи
    ("а", 1, ("ы", "е", "у", "ой")),                   # Накхонратчасима -> Накхонратчасимы
    ("й", 1, ("я", "ю", "ем", "е")),                   # Шанхай -> Шанхая
    ("ь", 1, ("я", "ю", "ем", "е", "и", "ью")),        # Ландштуль -> Ландштуля; fem. -и, -ью
    ("", 0, ("а", "у", "ом", "е")),                    # Тусон -> Тусона, Тусону, Тусоном, Тусоне
)


def case_forms(name: str) -> List[str]:
    """The oblique case forms of a Russian place name, declining its last word by its ending (see above);
    [] for a last word that does not decline or is too short to decline safely."""
    head, sep, last = _split_last(name)
    low = last.lower()
    if len(low) < 3 or not low.isalpha() or low[-1] in _VOWEL_ENDINGS:
        return []
    for ending, cut, endings in _PARADIGMS:
        if low.endswith(ending) and (ending or low[-1] not in "аяйь"):
            stem = last[:len(last) - cut] if cut else last
            forms = [stem + ("и" if e == "ы" and stem[-1:].lower() in _HUSHING else e) for e in endings]
            return [head + sep + f for f in dict.fromkeys(forms) if f != last]
    return []


def _split_last(name: str) -> Tuple[str, str, str]:
    """(everything before the last word, the separator, the last word) of a name split at a space or hyphen."""
    cut = max(name.rfind(" "), name.rfind("-"))
    if cut < 0:
        return "", "", name
    return name[:cut], name[cut], name[cut + 1:]
