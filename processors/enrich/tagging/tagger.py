"""Region/community/topic tagger: consumes NewsItems (title + text), produces TagResults with streams.records.Tag lists.

Pipeline per batch (one module per stage, weights and word lists in the taxonomy's tagging.yaml)
---------------------------------------------------------------------------------------------
1. Language: item.language when given, else lingua (built once).
2. Tokenise each field with spaCy (`nlp.pipe`, tokenizer only): English with en_core_web_sm's
   tokenizer, Russian (and other Cyrillic-script languages) with spaCy's Russian tokenizer plus a
   component that sets every token's NORM to its pymorphy3 lemma (nlp.py), other languages with the
   English tokenizer.
3. candidates.py: gazetteer PhraseMatchers (LOWER for English, NORM=lemma for Russian) find region
   candidates with canonical ids; traps.py drops traps (lower-case common words, first name + place =
   person, place + Cathedral/Station = building, language names).
4. resolution.py picks one reading per mention and accepts ambiguous names on context; en_core_web_sm's
   statistical NER runs only on the English docs that hold a candidate still needing support (ambiguous
   names such as Georgia/Jordan/Turkey, small or ambiguous cities): that is where it pays off; running
   it on every doc costs ~10x the rest of the tagger (see bench/bench_tagging.py).
5. salience.py splits `regions` (what the item is about) from `mentioned_regions`.
6. rules.py: communities and topics by English regexes and Russian lemma phrases (PhraseMatcher on NORM).

Confidence (a calibrated-ish heuristic, not a probability model; numbers in tagging.yaml)
----------------------------------------------------------------------------------------
region: base by alias type (name/abbreviation 0.85, city 0.75, demonym adjective 0.6); +0.10 when
spaCy NER labels the span GPE/LOC/NORP; -0.25 when the name is ambiguous and was resolved by context
only; -0.15 for small cities accepted by context; +0.03 per extra mention (max +0.09); +0.05 when in the
title; mentioned-only tags are scaled by 0.8. Clamped to [0.05, 0.99].
community/topic: 1 - exp(-0.6 * weighted_hits) (title hits weigh 2), clamped to [0.3, 0.95].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.language import Language

from processors.enrich.language import LanguageDetector
from processors.enrich.tagging.cache import DEFAULT_CACHE_DIR, load_gazetteer
from processors.enrich.tagging.candidates import AliasMatchers, CandidateFinder
from processors.enrich.tagging.evidence import capitalised_in_sentence
from processors.enrich.tagging.gazetteer import Gazetteer, Taxonomy
from processors.enrich.tagging.mentions import Field, Mention
from processors.enrich.tagging.nlp import english_dictionary, load_spacy_model, russian_pipeline
from processors.enrich.tagging.resolution import Resolver
from processors.enrich.tagging.rules import RuleMatcher, load_rules
from processors.enrich.tagging.salience import Salience
from processors.enrich.tagging.settings import TaggerSettings
from processors.enrich.tagging.traps import TrapFilter
from streams.records import NewsItem, Tag

__all__ = ["TagResult", "Tagger", "load_spacy_model"]


@dataclass
class TagResult:
    """Tags of one item. language is ISO 639-1 (item.language wins when given)."""

    language: str
    regions: List[Tag] = field(default_factory=list)
    mentioned_regions: List[Tag] = field(default_factory=list)
    communities: List[Tag] = field(default_factory=list)
    topics: List[Tag] = field(default_factory=list)
    taxonomy_version: str = ""
    #: every accepted region span (tag id, field, start, end, alias type); for evaluation/debugging,
    #: not part of the wire record
    mentions: List[Dict[str, Any]] = field(default_factory=list, repr=False)

    def tag_ids(self) -> Dict[str, List[str]]:
        return {"regions": [t.id for t in self.regions], "mentioned_regions": [t.id for t in self.mentioned_regions],
                "communities": [t.id for t in self.communities], "topics": [t.id for t in self.topics]}


Trace = List[Dict[str, Any]]


class Tagger:
    """Loads the spaCy pipelines, taxonomy and gazetteer once; tags batches of NewsItems."""

    def __init__(self, nlp_en: Language, taxonomy: Taxonomy, detector: Optional[LanguageDetector] = None,
                 cache_dir: Optional[str | Path] = DEFAULT_CACHE_DIR) -> None:
        self.nlp_en = nlp_en
        self.nlp_ru, self.lemmatizer = russian_pipeline()
        self.taxonomy = taxonomy
        self.taxonomy_version = taxonomy.version
        self.settings = TaggerSettings.from_dict(taxonomy.tagging, f"{taxonomy.directory}/tagging.yaml")
        self.detector = detector or LanguageDetector()
        self.gazetteer = load_gazetteer(taxonomy, cache_dir)     # cached build (cache.py); None: always build
        self.communities = load_rules(taxonomy.communities, "community")
        self.topics = load_rules(taxonomy.topics, "topic")
        currency_words = {w.lower() for w in taxonomy.countries.get("_currency_words_en") or []}
        matchers = AliasMatchers(nlp_en, self.nlp_ru, self.lemmatizer, self.gazetteer)
        self.candidates = CandidateFinder(matchers, self.gazetteer, self.settings, currency_words)
        self.traps = TrapFilter(self.gazetteer, self.lemmatizer, self.settings)
        self.resolver = Resolver(self.gazetteer, self.lemmatizer, self.settings.resolution,
                                 english_dictionary(nlp_en))
        self.salience = Salience(self.gazetteer, self.settings)
        self.rules = RuleMatcher(self.nlp_ru, [self.communities, self.topics], self.settings.rule_confidence)
        self._ner = nlp_en.get_pipe("ner") if "ner" in nlp_en.pipe_names else None
        self.max_evidence = self.settings.max_evidence
        self.ner_docs = 0      # how many docs needed statistical NER (for benchmarks/metrics)
        self.docs_seen = 0

    @classmethod
    def load(cls, spacy_model: str = "en_core_web_sm", taxonomy_dir: Optional[str | Path] = None,
             cache_dir: Optional[str | Path] = DEFAULT_CACHE_DIR) -> "Tagger":
        """Heavy: loads spaCy, pymorphy3, lingua and builds the gazetteer (or reads it from cache_dir). Load once per
        process."""
        nlp = load_spacy_model(spacy_model)
        return cls(nlp, Taxonomy.load(taxonomy_dir), cache_dir=cache_dir)

    # ------------------------------------------------------------------ public API
    def tag_batch(self, items: Sequence[NewsItem], batch_size: int = 64) -> List[TagResult]:
        langs = self.detector.detect_items([(it.title, it.text, it.language) for it in items])
        return self._tag([(it.title, it.text) for it in items], langs, batch_size)[0]

    def tag(self, item: NewsItem) -> TagResult:
        return self.tag_batch([item])[0]

    def tag_text(self, title: str, text: str, language: Optional[str] = None) -> TagResult:
        lang = self.detector.detect_item(title, text, language)
        return self._tag([(title, text)], [lang])[0][0]

    def explain(self, text: str, language: Optional[str] = None, title: str = "") -> Trace:
        """Every candidate with its evidence, the decision (about / mentioned / rejected / assigned)
        and why."""
        lang = self.detector.detect_item(title, text, language)
        fields = [Field("title", title or ""), Field("text", text or "")]
        _, traces = self._tag([(title, text)], [lang], trace=True, fields_out=fields)
        rows = traces[0] + self._not_proposed(fields, traces[0], self._route(lang))
        for r in rows:
            if r.get("dimension") == "region":
                r["names"] = [self._place_label(t) for t in ([r["id"]] if r.get("id") else r.get("candidates") or [])]
        return rows

    def _place_label(self, tag_id: str) -> str:
        """"region:gn-499099 (Samara, city, RU)": what a region tag id stands for."""
        e = self.gazetteer.entries.get(tag_id[len("region:"):])
        if e is None:
            return tag_id
        return f"{tag_id} ({e.name}, {e.kind}" + (f", {e.country_code})" if e.country_code else ")")

    def _not_proposed(self, fields: List[Field], trace: Trace, route: str) -> Trace:
        """Capitalised words inside a sentence that no gazetteer alias matched: "not in the gazetteer"."""
        covered = [(r["field"], r["start"], r["end"]) for r in trace if r.get("dimension") == "region"]
        out: Trace = []
        for f in fields:
            if f.doc is None:
                continue
            for t in f.doc:
                if not (t.is_alpha and t.text[:1].isupper() and capitalised_in_sentence(f.doc, t.i, t.i + 1)):
                    continue
                s, e = t.idx, t.idx + len(t.text)
                if any(fn == f.name and a < e and s < b for fn, a, b in covered):
                    continue
                lemma = f" (lemma '{t.norm_}')" if route == "ru" and t.norm_ != t.lower_ else ""
                out.append({"dimension": "region", "id": None, "candidates": [], "text": t.text, "field": f.name,
                            "start": s, "end": e, "alias_type": None, "ner": None, "decision": "not proposed",
                            "score": "", "why": f"not in the gazetteer: no alias matches '{t.text}'{lemma}"})
        return out

    # ------------------------------------------------------------------ batch pipeline
    def _route(self, lang: str) -> str:
        if lang == "en":
            return "en"
        if lang in self.settings.cyrillic_languages:
            return "ru"
        return "xx"

    def _tag(self, pairs: List[Tuple[str, str]], langs: List[str], batch_size: int = 64,
             trace: bool = False, fields_out: Optional[List[Field]] = None) -> Tuple[List[TagResult], List[Trace]]:
        routes = [self._route(l) for l in langs]
        fields = [[Field("title", t or ""), Field("text", x or "")] for t, x in pairs]
        if fields_out is not None:
            fields[0] = fields_out      # explain: keeps the tokenised fields of its one item
        self._tokenise(fields, routes, batch_size)
        mentions = [self._regions(fs, r) for fs, r in zip(fields, routes)]
        self.docs_seen += len(pairs)
        self._ner_pass(fields, routes, mentions, batch_size)
        results: List[TagResult] = []
        traces: List[Trace] = []
        for fs, r, ms, lang in zip(fields, routes, mentions, langs):
            tr: Trace = []
            results.append(self._result(fs, r, ms, lang, tr if trace else None))
            traces.append(tr)
        return results, traces

    def _tokenise(self, fields: List[List[Field]], routes: List[str], batch_size: int) -> None:
        """Sets every field's doc, batched: English-tokenised fields with every component disabled."""
        en_idx = [(i, j) for i, r in enumerate(routes) if r in ("en", "xx") for j in range(2)]
        if en_idx:
            texts = [fields[i][j].text for i, j in en_idx]
            with self.nlp_en.select_pipes(disable=self.nlp_en.pipe_names):
                for (i, j), doc in zip(en_idx, self.nlp_en.pipe(texts, batch_size=batch_size)):
                    fields[i][j].doc = doc
        ru_idx = [(i, j) for i, r in enumerate(routes) if r == "ru" for j in range(2)]
        if ru_idx:
            texts = [fields[i][j].text for i, j in ru_idx]
            for (i, j), doc in zip(ru_idx, self.nlp_ru.pipe(texts, batch_size=batch_size)):
                fields[i][j].doc = doc

    def _regions(self, fields: List[Field], route: str) -> List[Mention]:
        """Candidates, traps and a first resolution without statistical NER."""
        ms: List[Mention] = []
        for f in fields:
            ms.extend(self.candidates.find(f, route))
        self.traps.apply(ms, fields, route)
        self.resolver.resolve(ms, fields, route, ner_ready=False)
        return ms

    def _ner_pass(self, fields: List[List[Field]], routes: List[str], mentions: List[List[Mention]],
                  batch_size: int) -> None:
        """Statistical NER on the English fields holding a mention that needs it, then resolution again."""
        if self._ner is None:
            return
        need_ner = [(i, j) for i, (r, ms) in enumerate(zip(routes, mentions)) if r == "en"
                    for j, f in enumerate(fields[i]) if any(m.status == "needs_ner" and m.field == f.name for m in ms)]
        if not need_ner:
            return
        docs = [fields[i][j].doc for i, j in need_ner]
        self.ner_docs += len({i for i, _ in need_ner})
        for (i, j), doc in zip(need_ner, self._ner.pipe(docs, batch_size=batch_size)):
            fields[i][j].doc = doc
        for i in sorted({i for i, _ in need_ner}):
            self.resolver.resolve(mentions[i], fields[i], routes[i], ner_ready=True)

    def _result(self, fields: List[Field], route: str, ms: List[Mention], lang: str,
                trace: Optional[Trace]) -> TagResult:
        regions, mentioned = self.salience.decide(ms, self.max_evidence, trace)
        communities = self.rules.apply(self.communities, fields, route, self.max_evidence, trace)
        topics = self.rules.apply(self.topics, fields, route, self.max_evidence, trace)
        tagged = {t.id for t in regions + mentioned}
        spans = [{"id": "region:" + m.chosen, "field": m.field, "start": m.start, "end": m.end,
                  "alias_type": m.alias.atype} for m in ms
                 if m.status == "accepted" and m.chosen and "region:" + m.chosen in tagged]
        return TagResult(language=lang, regions=regions, mentioned_regions=mentioned, communities=communities,
                         topics=topics, taxonomy_version=self.taxonomy_version, mentions=spans)
