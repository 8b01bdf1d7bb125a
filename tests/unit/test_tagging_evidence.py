"""Whether capitals say something (processors/enrich/tagging/evidence.py), on spaCy's blank English tokenizer."""
from __future__ import annotations

import spacy

from processors.enrich.tagging.evidence import capitalised_in_sentence, is_title_case

NLP = spacy.blank("en")


def _at(text: str, word: str) -> bool:
    doc = NLP(text)
    i = next(t.i for t in doc if t.text == word)
    return capitalised_in_sentence(doc, i, i + 1)


def test_capital_inside_a_sentence_marks_a_name() -> None:
    assert _at("Hundreds of people gathered in Derbent on Friday.", "Derbent")
    assert _at("Officials said Perm would vote.", "Perm")


def test_capital_at_a_sentence_start_says_nothing() -> None:
    assert not _at("Split decisions were made. Bath time.", "Bath")
    assert not _at("Reading is fun.", "Reading")
    assert not _at("He said: Mobile phones work.", "Mobile")
    assert not _at("a line\nPenza news", "Penza")


def test_title_case_headlines() -> None:
    assert is_title_case("Protest In Grozny Draws Hundreds Of People")
    assert is_title_case("Rally in Grozny")
    assert is_title_case("RALLY IN GROZNY DRAWS HUNDREDS")
    assert not is_title_case("Hundreds of people gathered in Grozny on Wednesday, local officials said.")
