"""Written evidence of names: consumes a field's text or tokens, produces whether its capitals say something.

In running text written in ordinary case a capital letter inside a sentence marks a name; at the start of a
sentence, in an all-caps or Title Case headline it says nothing.
"""
from __future__ import annotations

from spacy.tokens import Doc

# a token after which the next word starts a sentence (or a quote, a list item, a heading)
_SENTENCE_OPENERS = frozenset({".", "!", "?", ":", ";", "\"", "“", "”", "«", "»", "(", "[", "-", "—", "–", "•",
                               "*", "|", "…"})


def is_title_case(text: str) -> bool:
    """Most words longer than three letters are capitalised (a Title Case or all-caps headline)."""
    words = [w for w in text.split() if len(w) > 3 and w[:1].isalpha()]
    if len(words) < 3:
        return bool(words) and all(w[:1].isupper() for w in words) and len(text.split()) <= 3
    return sum(w[:1].isupper() for w in words) > 0.6 * len(words)


def capitalised_in_sentence(doc: Doc, start: int, end: int) -> bool:
    """The tokens doc[start:end] begin with a capital letter and stand inside a sentence: a word precedes them
    on the same line, and it does not end a sentence."""
    if start <= 0 or not doc[start].text[:1].isupper():
        return False
    prev = doc[start - 1]
    if prev.is_space or "\n" in prev.text or prev.text in _SENTENCE_OPENERS:
        return False
    return not (prev.is_punct and prev.text.endswith((".", "!", "?")))
