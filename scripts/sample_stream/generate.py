"""Sample stream generator: consumes a seed and templates.yaml (beside this file), produces the bundled synthetic
NDJSON news stream streams/sample/news.jsonl.

Everything it writes is invented (see templates.yaml). A development tool, not part of the installed package:

    .venv/bin/python -m scripts.sample_stream.generate            # rewrite streams/sample/news.jsonl
    .venv/bin/python -m scripts.sample_stream.generate --out x.jsonl --seed 7
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import yaml

HERE = Path(__file__).resolve().parent
DATA: Dict[str, Any] = yaml.safe_load((HERE / "templates.yaml").read_text(encoding="utf-8"))
DEFAULT_OUT = HERE.parents[1] / "streams" / "sample" / "news.jsonl"

_CAL = DATA["calendar"]
SEED: int = _CAL["seed"]
START = datetime.fromisoformat(_CAL["start"])                  # a Saturday
DAYS: int = _CAL["days"]                                        # through Sunday 2023-11-12
SURGE_START = datetime.fromisoformat(_CAL["surge_start"])
SURGE_PER_DAY: Tuple[int, ...] = tuple(_CAL["surge_per_day"])
WAR_START = datetime.fromisoformat(_CAL["war_start"])           # for "day N of the war" in background items
HOUR_WEIGHTS: Tuple[int, ...] = tuple(_CAL["hour_weights"])
V: Dict[str, Any] = DATA["vocab"]

Slots = Dict[str, str]


@dataclass(frozen=True)
class Outlet:
    name: str
    domain: str
    language: str


OUTLETS_EN = tuple(Outlet(o["name"], o["domain"], "en") for o in DATA["outlets"]["en"])
OUTLETS_RU = tuple(Outlet(o["name"], o["domain"], "ru") for o in DATA["outlets"]["ru"])


@dataclass(frozen=True)
class Templates:
    """One kind of story in one language: a title, a lead sentence, then 1-3 body sentences (all coherent)."""

    titles: Tuple[str, ...]
    leads: Tuple[str, ...]
    body: Tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    weight: int
    en: Templates
    ru: Templates


@dataclass(frozen=True)
class Category:
    name: str
    weekday_rate: float          # originals per weekday
    weekend_factor: float
    ru_share: float
    syndication: float           # probability an original is republished by another outlet
    slots: Callable[[random.Random], Slots]
    kinds: Tuple[Kind, ...]
    start: Optional[datetime] = None            # only from this time on
    until: Optional[datetime] = None            # only before this day
    per_day: Optional[Tuple[int, ...]] = None   # fixed counts per day from `start` (the surge)


# ---------------------------------------------------------------------------------------------------- helpers

def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def _many(rng: random.Random, lo: int = 5, hi: int = 40) -> str:
    return str(rng.choice([n for n in V["ru_many"] if lo <= n <= hi]))


def _dec(rng: random.Random, lo: int, hi: int) -> Tuple[str, str]:
    """A one-decimal number between lo/10 and hi/10: English and Russian (decimal comma) spelling."""
    v = f"{rng.randint(lo, hi) / 10:.1f}"
    return v, v.replace(".", ",")


# ---------------------------------------------------------------------------------------------------- slots

def world_slots(rng: random.Random) -> Slots:
    countries = V["countries"]
    a, b = rng.sample(range(len(countries)), 2)
    ca, cb = countries[a], countries[b]
    topic, topic_ru = V["world_topics"][rng.randrange(len(V["world_topics"]))]
    return {"a": ca[0], "b": cb[0], "a_ru": ca[1], "a_ru_gen": ca[2], "a_ru_loc": ca[3], "b_ru": cb[1],
            "b_ru_gen": cb[2], "b_ru_loc": cb[3], "n": _many(rng, 5, 14), "pct": str(rng.randint(38, 71)),
            "yrs": _many(rng, 5, 20), "topic": topic, "topic_ru": topic_ru}


def economy_slots(rng: random.Random) -> Slots:
    c = _pick(rng, V["countries"])
    pct, pct_ru = _dec(rng, 12, 60)
    infl, infl_ru = _dec(rng, 18, 95)
    rub, rub_ru = _dec(rng, 880, 990)
    return {"country": c[0], "country_ru_gen": c[2], "country_ru_loc": c[3], "company": _pick(rng, V["companies"]),
            "company_ru": _pick(rng, V["companies_ru"]), "rate": f"{rng.randint(8, 60) / 4:.2f}", "infl": infl,
            "infl_ru": infl_ru, "pct": pct, "pct_ru": pct_ru, "bn": f"{rng.randint(8, 240) / 10:.1f}",
            "jobs": f"{rng.randint(3, 40) * 100:,}", "q": _pick(rng, V["report_periods"]),
            "key_rate": _pick(rng, V["key_rates"]), "rub": rub, "rub_ru": rub_ru}


def sports_slots(rng: random.Random) -> Slots:
    clubs = V["clubs"]
    h, a = rng.sample(range(len(clubs)), 2)
    m = rng.randint(52, 90)
    return {"home": clubs[h][0], "away": clubs[a][0], "home_ru": clubs[h][1], "away_ru": clubs[a][1],
            "g1": str(rng.randint(1, 4)), "g2": str(rng.randint(0, 1)), "minute": _ordinal(m), "minute_ru": str(m),
            "pts": _many(rng, 14, 30), "crowd": f"{rng.randint(12, 58)},000", "player": _pick(rng, V["players"]),
            "sport": _pick(rng, V["other_sports"]), "city": _pick(rng, V["sport_cities"])}


def disaster_slots(rng: random.Random) -> Slots:
    p = _pick(rng, V["disaster_places"])
    return {"place": p[0], "place_ru_in": p[1], "dead": _many(rng, 5, 40), "homes": str(rng.randint(2, 90) * 100),
            "evac": f"{rng.randint(3, 60)},000", "evac_ru": _many(rng, 5, 40), "mag": f"{rng.randint(52, 71) / 10:.1f}",
            "mag_ru": f"{rng.randint(52, 71) / 10:.1f}".replace(".", ",")}


def europe_slots(rng: random.Random) -> Slots:
    c = _pick(rng, V["eu_cities"])
    issue, issue_ru = _pick(rng, V["eu_issues"])
    return {"country": _pick(rng, V["eu_countries"]), "city": c[0], "city_ru_loc": c[1], "bn": _many(rng, 5, 40),
            "pct": str(rng.randint(51, 68)), "issue": issue, "issue_ru": issue_ru}


def us_slots(rng: random.Random) -> Slots:
    s = _pick(rng, V["us_states"])
    return {"state": s[0], "state_ru": s[1], "bn": str(rng.randint(5, 120)), "pct": str(rng.randint(41, 63)),
            "days": _many(rng, 5, 40), "issue": _pick(rng, V["us_issues"]), "agency": _pick(rng, V["us_agencies"]),
            "jobs": str(rng.randint(95, 210))}


def asia_slots(rng: random.Random) -> Slots:
    a = _pick(rng, V["asia"])
    pct, pct_ru = _dec(rng, 5, 90)
    sector, maker, sector_ru = _pick(rng, V["asia_sectors"])
    return {"c": a[0], "c_ru": a[1], "c_ru_gen": a[2], "c_ru_in": a[3], "pct": pct, "pct_ru": pct_ru,
            "bn": _many(rng, 5, 40), "n": str(rng.randint(2, 6)), "sector": sector, "maker": maker,
            "sector_ru": sector_ru}


def russia_slots(rng: random.Random) -> Slots:
    c = _pick(rng, V["ru_cities"])
    rub, rub_ru = _dec(rng, 880, 990)
    pct, pct_ru = _dec(rng, 15, 90)
    return {"city": c[0], "city_ru": c[1], "city_ru_gen": c[2], "city_ru_loc": c[3], "bn": _many(rng, 5, 40),
            "km": str(rng.randint(4, 19)), "temp": _many(rng, 10, 20), "n": str(rng.randint(5, 40) * 10),
            "rub": rub, "rub_ru": rub_ru, "pct": pct, "pct_ru": pct_ru}


def mideast_slots(rng: random.Random) -> Slots:
    org, org_ru_gen = _pick(rng, V["aid_orgs"])
    capital, capital_ru_loc = _pick(rng, V["aid_capitals"])
    return {"trucks": _many(rng, 15, 40), "days": str(rng.randint(20, 37)), "org": org, "org_ru_gen": org_ru_gen,
            "capital": capital, "capital_ru_loc": capital_ru_loc}


def science_slots(rng: random.Random) -> Slots:
    t = _pick(rng, V["science_topics"])
    return {"thing": t[0], "thing_ru": t[1], "pct": str(rng.randint(12, 60)), "n": str(rng.randint(40, 900)),
            "uni": _pick(rng, V["science_teams"]), "uni_ru": _pick(rng, V["science_teams_ru"])}


def _muslim_slots(rng: random.Random, weights: Sequence[int]) -> Slots:
    city, region, cru, rru = rng.choices(V["muslim_places"], weights=weights)[0]
    pct, pct_ru = _dec(rng, 15, 90)
    return {"city": city, "region": region, "city_ru": cru[0], "city_ru_gen": cru[1], "city_ru_loc": cru[2],
            "region_ru": rru[0], "region_ru_gen": rru[1], "region_ru_loc": rru[2], "region_ru_acc": rru[3],
            "n": str(rng.randint(2, 15) * 500), "trucks": _many(rng, 5, 40), "k": str(rng.randint(2, 4)),
            "mln": str(rng.randint(3, 48)), "tons": str(rng.randint(2, 30) * 10), "det": _many(rng, 5, 30),
            "mosques": str(rng.randint(3, 40) * 10), "km": str(rng.randint(5, 19)),
            "tourists": str(rng.randint(2, 9)), "worshippers": str(rng.randint(3, 20) * 100), "pct": pct,
            "pct_ru": pct_ru}


SLOTS: Dict[str, Callable[[random.Random], Slots]] = {
    "world": world_slots, "economy": economy_slots, "sports": sports_slots, "disaster": disaster_slots,
    "europe": europe_slots, "us": us_slots, "asia": asia_slots, "russia": russia_slots, "mideast": mideast_slots,
    "science": science_slots, "surge": lambda rng: _muslim_slots(rng, V["surge_place_weights"]),
    "muslim_baseline": lambda rng: _muslim_slots(rng, V["baseline_place_weights"]),
}


# ---------------------------------------------------------------------------------------------------- categories

def _templates(d: Dict[str, List[str]]) -> Templates:
    return Templates(tuple(d["titles"]), tuple(d["leads"]), tuple(d["body"]))


def _category(d: Dict[str, Any]) -> Category:
    surge = {"surge": SURGE_START}
    return Category(d["name"], float(d["weekday_rate"]), float(d["weekend_factor"]), float(d["ru_share"]),
                    float(d["syndication"]), SLOTS[d["slots"]],
                    tuple(Kind(int(k["weight"]), _templates(k["en"]), _templates(k["ru"])) for k in d["kinds"]),
                    start=surge.get(d.get("start", "")), until=surge.get(d.get("until", "")),
                    per_day=SURGE_PER_DAY if d.get("per_day") == "surge" else None)


CATEGORIES: Tuple[Category, ...] = tuple(_category(d) for d in DATA["categories"])
# deliberately invalid lines: (relative position in the file, line text, the reason enrich should give)
INVALID_LINES: Tuple[Tuple[float, str, str], ...] = tuple(
    (float(d["position"]), str(d["line"]), str(d["reason"])) for d in DATA["invalid_lines"])


# ---------------------------------------------------------------------------------------------------- assembly

@dataclass
class Item:
    published: datetime
    title: str
    text: str
    outlet: Outlet
    category: str
    story: int
    language: str

    def url(self, n: int) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:60].strip("-")
        if self.language != "en" or not slug:
            slug = "news"
        return f"https://{self.outlet.domain}/{self.published:%Y/%m/%d}/{slug}-{n}"


def _fill(template: str, slots: Slots) -> str:
    text = template.format(**slots)
    return text[:1].upper() + text[1:]


def _compose(rng: random.Random, tpl: Templates, slots: Slots) -> Tuple[str, str]:
    t = rng.randrange(len(tpl.titles))
    title = _fill(tpl.titles[t], slots)
    lead = tpl.leads[t] if len(tpl.leads) == len(tpl.titles) else _pick(rng, tpl.leads)  # paired one-to-one
    sentences = [_fill(lead, slots)]
    extra = rng.randint(1, min(3, len(tpl.body)))
    sentences += [_fill(s, slots) for s in rng.sample(tpl.body, extra)]
    return title, " ".join(sentences)


def _time_in_day(rng: random.Random, day: datetime, not_before: Optional[datetime] = None) -> datetime:
    weights = list(HOUR_WEIGHTS)
    if not_before is not None and not_before.date() == day.date():
        weights = [w if h >= not_before.hour else 0 for h, w in enumerate(weights)]
    hour = rng.choices(range(24), weights=weights)[0]
    return day + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))


def _count_for_day(rng: random.Random, cat: Category, day: datetime) -> int:
    if cat.per_day is not None and cat.start is not None:
        offset = (day.date() - cat.start.date()).days
        return cat.per_day[offset] if 0 <= offset < len(cat.per_day) else 0
    rate = cat.weekday_rate * (cat.weekend_factor if day.weekday() >= 5 else 1.0)
    # binomial draw around the rate: day-to-day variation, stdlib only, deterministic for a seed
    trials = max(1, int(rate * 4))
    p = min(1.0, rate / trials)
    return sum(1 for _ in range(trials) if rng.random() < p)


def _syndicate(rng: random.Random, item: Item) -> Item:
    """The same story republished by another outlet of the same language, minutes to hours later."""
    outlets = OUTLETS_RU if item.language == "ru" else OUTLETS_EN
    other = _pick(rng, [o for o in outlets if o.name != item.outlet.name])
    text = item.text
    sentences = text.split(". ")
    if len(sentences) > 2 and rng.random() < 0.5:
        text = ". ".join(sentences[:-1]).rstrip(".") + "."   # the copy drops the last sentence
    title = item.title
    if rng.random() < 0.3:
        title = ("UPDATE: " if item.language == "en" else "Обновлено: ") + title
    delay = timedelta(minutes=rng.randint(8, 150))
    return Item(item.published + delay, title, text, other, item.category, item.story, item.language)


def _original(rng: random.Random, cat: Category, day: datetime, story: int) -> Item:
    when = _time_in_day(rng, day, cat.start)
    lang = "ru" if rng.random() < cat.ru_share else "en"
    outlet = _pick(rng, OUTLETS_RU if lang == "ru" else OUTLETS_EN)
    kind = rng.choices(cat.kinds, weights=[k.weight for k in cat.kinds])[0]
    war_day = (when.date() - WAR_START.date()).days + 1
    slots = dict(cat.slots(rng), weekday=V["weekdays_en"][when.weekday()], weekday_ru=V["weekdays_ru"][when.weekday()],
                 war_day=str(war_day), war_day_ord=_ordinal(war_day))
    title, text = _compose(rng, kind.ru if lang == "ru" else kind.en, slots)
    return Item(when, title, text, outlet, cat.name, story, lang)


def generate_items(seed: int = SEED) -> List[Item]:
    """All valid items in publication order (originals and syndicated copies)."""
    rng = random.Random(seed)
    items: List[Item] = []
    story = 0
    for d in range(DAYS):
        day = START + timedelta(days=d)
        for cat in CATEGORIES:
            if cat.start is not None and day.date() < cat.start.date():
                continue
            if cat.until is not None and day.date() >= cat.until.date():
                continue
            for _ in range(_count_for_day(rng, cat, day)):
                story += 1
                item = _original(rng, cat, day, story)
                items.append(item)
                if rng.random() < cat.syndication:
                    items.append(_syndicate(rng, item))
                    if cat.per_day is not None and rng.random() < 0.3:
                        items.append(_syndicate(rng, item))
    items.sort(key=lambda i: (i.published, i.story, i.outlet.name))
    return items


def _item_id(url: str) -> str:
    # the recipe of streams.records.derive_id for an item with a URL, kept local so the generator runs standalone
    return hashlib.sha1(("url:" + url).encode("utf-8")).hexdigest()[:20]


def generate_lines(seed: int = SEED) -> List[str]:
    """The NDJSON lines of the stream: valid items plus the deliberate invalid lines."""
    lines: List[str] = []
    for n, item in enumerate(generate_items(seed), start=1):
        url = item.url(n)
        record = {
            "id": _item_id(url),
            "title": item.title,
            "text": item.text,
            "published_at": item.published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "url": url,
            "source": f"synthetic:{item.outlet.name}",
            "language": item.language,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    total = len(lines) + len(INVALID_LINES)
    for position, text, _reason in INVALID_LINES:
        lines.insert(min(int(position * total), len(lines)), text)
    return lines


def write(path: Path = DEFAULT_OUT, seed: int = SEED) -> int:
    """Write the stream to path; return the number of lines."""
    lines = generate_lines(seed)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Generate surgewatch's synthetic sample news stream.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output NDJSON path")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    args = parser.parse_args(argv)
    n = write(args.out, args.seed)
    print(f"wrote {n} lines to {args.out}")


if __name__ == "__main__":
    main()
