"""Sample stream generator: consumes a seed, produces the bundled synthetic NDJSON news stream (news.jsonl).

Everything here is invented: outlets, URLs (reserved .example domains), events, quotes and figures. Place names
are real so the tagger has something to find; no statement is attributed to a real, named person.

    python -m streams.sample.generate            # rewrite streams/sample/news.jsonl
    python -m streams.sample.generate --out x.jsonl --seed 7
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

SEED = 20231108
START = datetime(2023, 10, 21, tzinfo=timezone.utc)     # a Saturday
DAYS = 23                                               # through Sunday 2023-11-12
SURGE_START = datetime(2023, 11, 8, 8, 0, tzinfo=timezone.utc)
SURGE_PER_DAY = (30, 45, 40, 25, 16)                    # surge originals per day from SURGE_START (copies on top)
WAR_START = datetime(2023, 10, 7, tzinfo=timezone.utc)   # for "day N of the war" in background items
DEFAULT_OUT = Path(__file__).with_name("news.jsonl")

# share of items published in each UTC hour (newsroom day centred on European / Moscow working hours)
HOUR_WEIGHTS = (1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 8, 8, 8, 7, 7, 6, 5, 4, 3, 3, 2, 2, 1)

Slots = Dict[str, str]


@dataclass(frozen=True)
class Outlet:
    name: str
    domain: str
    language: str


OUTLETS_EN = (
    Outlet("Harbor Wire", "harborwire.example", "en"),
    Outlet("Daily Meridian", "dailymeridian.example", "en"),
    Outlet("Northline Times", "northlinetimes.example", "en"),
    Outlet("Global Ledger", "globalledger.example", "en"),
    Outlet("Eurasia Monitor", "eurasiamonitor.example", "en"),
)
OUTLETS_RU = (
    Outlet("Вестник Равнины", "vestnik-ravniny.example", "ru"),
    Outlet("Региональный курьер", "regkurier.example", "ru"),
    Outlet("Лента Севера", "lenta-severa.example", "ru"),
)


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


def T(titles: Sequence[str], leads: Sequence[str], body: Sequence[str]) -> Templates:
    return Templates(tuple(titles), tuple(leads), tuple(body))


# ---------------------------------------------------------------------------------------------------- vocab

WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_RU = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье")
# Russian noun after a number in genitive plural (5-20, 25-30, 35-40...): keep numbers where that form is right
RU_MANY = (5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 25, 26, 27, 28, 30, 35, 36, 37, 38, 40)

COUNTRIES = (  # English; Russian nominative, genitive, locative
    ("France", "Франция", "Франции", "Франции"), ("Germany", "Германия", "Германии", "Германии"),
    ("Brazil", "Бразилия", "Бразилии", "Бразилии"), ("India", "Индия", "Индии", "Индии"),
    ("Japan", "Япония", "Японии", "в Японии"), ("Kenya", "Кения", "Кении", "Кении"),
    ("Argentina", "Аргентина", "Аргентины", "Аргентине"), ("Poland", "Польша", "Польши", "Польше"),
    ("Nigeria", "Нигерия", "Нигерии", "Нигерии"), ("Indonesia", "Индонезия", "Индонезии", "Индонезии"),
    ("Mexico", "Мексика", "Мексики", "Мексике"), ("Canada", "Канада", "Канады", "Канаде"),
    ("Spain", "Испания", "Испании", "Испании"), ("Egypt", "Египет", "Египта", "Египте"),
    ("Vietnam", "Вьетнам", "Вьетнама", "в Вьетнаме"), ("Chile", "Чили", "Чили", "Чили"),
    ("South Africa", "ЮАР", "ЮАР", "ЮАР"), ("Turkey", "Турция", "Турции", "Турции"),
)
EU_COUNTRIES = ("France", "Germany", "Spain", "Italy", "Poland", "the Netherlands", "Portugal", "Austria", "Belgium",
                "Sweden", "Greece", "Ireland")
EU_CITIES = (("Brussels", "Брюсселе"), ("Strasbourg", "Страсбурге"), ("Luxembourg", "Люксембурге"))
US_STATES = (("Ohio", "Огайо"), ("Texas", "Техас"), ("Virginia", "Виргиния"), ("Kentucky", "Кентукки"),
             ("Arizona", "Аризона"), ("Pennsylvania", "Пенсильвания"), ("Michigan", "Мичиган"),
             ("Nevada", "Невада"), ("Wisconsin", "Висконсин"), ("Oregon", "Орегон"))
ASIA = (("China", "Китай", "Китая", "в Китае"), ("Japan", "Япония", "Японии", "в Японии"),
        ("South Korea", "Южная Корея", "Южной Кореи", "в Южной Корее"), ("India", "Индия", "Индии", "в Индии"),
        ("Vietnam", "Вьетнам", "Вьетнама", "во Вьетнаме"), ("Indonesia", "Индонезия", "Индонезии", "в Индонезии"),
        ("the Philippines", "Филиппины", "Филиппин", "на Филиппинах"),
        ("Thailand", "Таиланд", "Таиланда", "в Таиланде"))
RU_CITIES = (("Novosibirsk", "Новосибирск", "Новосибирска", "Новосибирске"),
             ("Yekaterinburg", "Екатеринбург", "Екатеринбурга", "Екатеринбурге"),
             ("Krasnoyarsk", "Красноярск", "Красноярска", "Красноярске"),
             ("Nizhny Novgorod", "Нижний Новгород", "Нижнего Новгорода", "Нижнем Новгороде"),
             ("Samara", "Самара", "Самары", "Самаре"), ("Omsk", "Омск", "Омска", "Омске"),
             ("Rostov-on-Don", "Ростов-на-Дону", "Ростова-на-Дону", "Ростове-на-Дону"),
             ("Voronezh", "Воронеж", "Воронежа", "Воронеже"), ("Perm", "Пермь", "Перми", "Перми"),
             ("Vladivostok", "Владивосток", "Владивостока", "Владивостоке"),
             ("Irkutsk", "Иркутск", "Иркутска", "Иркутске"), ("Murmansk", "Мурманск", "Мурманска", "Мурманске"))
# English city, English region; Russian city (nom, gen, loc); Russian region (nom, gen, loc, acc)
MUSLIM_PLACES = (
    ("Grozny", "Chechnya", ("Грозный", "Грозного", "Грозном"), ("Чечня", "Чечни", "Чечне", "Чечню")),
    ("Gudermes", "Chechnya", ("Гудермес", "Гудермеса", "Гудермесе"), ("Чечня", "Чечни", "Чечне", "Чечню")),
    ("Makhachkala", "Dagestan", ("Махачкала", "Махачкалы", "Махачкале"),
     ("Дагестан", "Дагестана", "Дагестане", "Дагестан")),
    ("Derbent", "Dagestan", ("Дербент", "Дербента", "Дербенте"), ("Дагестан", "Дагестана", "Дагестане", "Дагестан")),
    ("Kazan", "Tatarstan", ("Казань", "Казани", "Казани"), ("Татарстан", "Татарстана", "Татарстане", "Татарстан")),
    ("Ufa", "Bashkortostan", ("Уфа", "Уфы", "Уфе"), ("Башкирия", "Башкирии", "Башкирии", "Башкирию")),
    ("Nazran", "Ingushetia", ("Назрань", "Назрани", "Назрани"), ("Ингушетия", "Ингушетии", "Ингушетии", "Ингушетию")),
    ("Nalchik", "Kabardino-Balkaria", ("Нальчик", "Нальчика", "Нальчике"),
     ("Кабардино-Балкария", "Кабардино-Балкарии", "Кабардино-Балкарии", "Кабардино-Балкарию")),
)
SURGE_PLACE_WEIGHTS = (6, 2, 5, 2, 4, 2, 2, 1)          # Chechnya and Dagestan lead the coverage
BASELINE_PLACE_WEIGHTS = (2, 1, 2, 1, 2, 1, 1, 1)
CLUBS = (("Northbridge Rovers", "«Северный мост»"), ("Eastport Athletic", "«Восточный порт»"),
         ("Kingsford City", "«Речник»"), ("Riverside United", "«Заречье»"), ("Hollow Vale", "«Металлург-Юг»"),
         ("Westmoor Albion", "«Звезда Прибрежная»"), ("Port Ashby Town", "«Портовик»"),
         ("Lakeside Wanderers", "«Озёрный»"))
COMPANIES = ("Altamira Foods", "Brightline Logistics", "Corvex Semiconductors", "Delmar Energy", "Everhold Insurance",
             "Fenwick Motors", "Granite Peak Mining", "Helios Retail")
COMPANIES_RU = ("«Северсталь-Торг»", "«Уральские линии»", "«Волжский агрохолдинг»", "«Сибирская логистика»",
                "«Приокский завод»")
DISASTER_PLACES = (("Indonesia", "в Индонезии"), ("the Philippines", "на Филиппинах"), ("Turkey", "в Турции"),
                   ("Chile", "в Чили"), ("California", "в Калифорнии"), ("Bangladesh", "в Бангладеш"),
                   ("Peru", "в Перу"), ("Nepal", "в Непале"), ("Greece", "в Греции"), ("Mozambique", "в Мозамбике"))
SCIENCE_TOPICS = (("a new battery chemistry", "новую химию аккумуляторов"),
                  ("an exoplanet with a thick atmosphere", "экзопланету с плотной атмосферой"),
                  ("a faster protein-folding model", "более быструю модель сворачивания белков"),
                  ("a low-cost water filter", "недорогой фильтр для воды"),
                  ("a drought-tolerant wheat variety", "засухоустойчивый сорт пшеницы"),
                  ("a quantum memory prototype", "прототип квантовой памяти"))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _pick(rng: random.Random, seq: Sequence[str]) -> str:
    return seq[rng.randrange(len(seq))]


def _many(rng: random.Random, lo: int = 5, hi: int = 40) -> str:
    return str(rng.choice([n for n in RU_MANY if lo <= n <= hi]))


def _dec(rng: random.Random, lo: int, hi: int) -> Tuple[str, str]:
    """A one-decimal number between lo/10 and hi/10: English and Russian (decimal comma) spelling."""
    v = f"{rng.randint(lo, hi) / 10:.1f}"
    return v, v.replace(".", ",")


# ---------------------------------------------------------------------------------------------------- slots

def world_slots(rng: random.Random) -> Slots:
    a, b = rng.sample(range(len(COUNTRIES)), 2)
    ca, cb = COUNTRIES[a], COUNTRIES[b]
    t = rng.randrange(6)
    return {"a": ca[0], "b": cb[0], "a_ru": ca[1], "a_ru_gen": ca[2], "a_ru_loc": ca[3], "b_ru": cb[1],
            "b_ru_gen": cb[2], "b_ru_loc": cb[3], "n": _many(rng, 5, 14), "pct": str(rng.randint(38, 71)),
            "yrs": _many(rng, 5, 20),
            "topic": ("trade", "energy", "climate finance", "migration", "security", "food security")[t],
            "topic_ru": ("торговле", "энергетике", "климатическому финансированию", "миграции", "безопасности",
                         "продовольственной безопасности")[t]}


def economy_slots(rng: random.Random) -> Slots:
    c = COUNTRIES[rng.randrange(len(COUNTRIES))]
    pct, pct_ru = _dec(rng, 12, 60)
    infl, infl_ru = _dec(rng, 18, 95)
    rub, rub_ru = _dec(rng, 880, 990)
    return {"country": c[0], "country_ru_gen": c[2], "country_ru_loc": c[3], "company": _pick(rng, COMPANIES),
            "company_ru": _pick(rng, COMPANIES_RU), "rate": f"{rng.randint(8, 60) / 4:.2f}", "infl": infl,
            "infl_ru": infl_ru, "pct": pct, "pct_ru": pct_ru, "bn": f"{rng.randint(8, 240) / 10:.1f}",
            "jobs": f"{rng.randint(3, 40) * 100:,}", "q": _pick(rng, ("third-quarter", "nine-month")),
            "key_rate": _pick(rng, ("13", "15")), "rub": rub, "rub_ru": rub_ru}


def sports_slots(rng: random.Random) -> Slots:
    h, a = rng.sample(range(len(CLUBS)), 2)
    m = rng.randint(52, 90)
    return {"home": CLUBS[h][0], "away": CLUBS[a][0], "home_ru": CLUBS[h][1], "away_ru": CLUBS[a][1],
            "g1": str(rng.randint(1, 4)), "g2": str(rng.randint(0, 1)), "minute": _ordinal(m), "minute_ru": str(m),
            "pts": _many(rng, 14, 30), "crowd": f"{rng.randint(12, 58)},000",
            "player": _pick(rng, ("the young winger", "the veteran striker", "a substitute forward",
                                  "the club captain", "the new signing")),
            "sport": _pick(rng, ("tennis", "cycling", "swimming", "athletics")),
            "city": _pick(rng, ("Lyon", "Doha", "Melbourne", "Turin", "Shanghai", "Vienna"))}


def disaster_slots(rng: random.Random) -> Slots:
    p = DISASTER_PLACES[rng.randrange(len(DISASTER_PLACES))]
    return {"place": p[0], "place_ru_in": p[1], "dead": _many(rng, 5, 40), "homes": str(rng.randint(2, 90) * 100),
            "evac": f"{rng.randint(3, 60)},000", "evac_ru": _many(rng, 5, 40), "mag": f"{rng.randint(52, 71) / 10:.1f}",
            "mag_ru": f"{rng.randint(52, 71) / 10:.1f}".replace(".", ",")}


def europe_slots(rng: random.Random) -> Slots:
    c = EU_CITIES[rng.randrange(len(EU_CITIES))]
    i = rng.randrange(5)
    return {"country": _pick(rng, EU_COUNTRIES), "city": c[0], "city_ru_loc": c[1], "bn": _many(rng, 5, 40),
            "pct": str(rng.randint(51, 68)),
            "issue": ("farm subsidies", "gas storage", "the migration pact", "artificial intelligence rules",
                      "packaging waste")[i],
            "issue_ru": ("сельскохозяйственных субсидий", "хранения газа", "миграционного пакта",
                         "регулирования искусственного интеллекта", "упаковочных отходов")[i]}


def us_slots(rng: random.Random) -> Slots:
    s = US_STATES[rng.randrange(len(US_STATES))]
    return {"state": s[0], "state_ru": s[1], "bn": str(rng.randint(5, 120)), "pct": str(rng.randint(41, 63)),
            "days": _many(rng, 5, 40),
            "issue": _pick(rng, ("abortion rights", "school funding", "a transport levy", "a minimum wage rise")),
            "agency": _pick(rng, ("the Labor Department", "the Commerce Department")),
            "jobs": str(rng.randint(95, 210))}


def asia_slots(rng: random.Random) -> Slots:
    a = ASIA[rng.randrange(len(ASIA))]
    pct, pct_ru = _dec(rng, 5, 90)
    i = rng.randrange(5)
    return {"c": a[0], "c_ru": a[1], "c_ru_gen": a[2], "c_ru_in": a[3], "pct": pct, "pct_ru": pct_ru,
            "bn": _many(rng, 5, 40), "n": str(rng.randint(2, 6)),
            "sector": ("electric vehicles", "chips", "solar panels", "steel", "smartphones")[i],
            "maker": ("electric vehicle", "chip", "solar panel", "steel", "smartphone")[i],
            "sector_ru": ("электромобилей", "микросхем", "солнечных панелей", "стали", "смартфонов")[i]}


def russia_slots(rng: random.Random) -> Slots:
    c = RU_CITIES[rng.randrange(len(RU_CITIES))]
    rub, rub_ru = _dec(rng, 880, 990)
    pct, pct_ru = _dec(rng, 15, 90)
    return {"city": c[0], "city_ru": c[1], "city_ru_gen": c[2], "city_ru_loc": c[3], "bn": _many(rng, 5, 40),
            "km": str(rng.randint(4, 19)), "temp": _many(rng, 10, 20), "n": str(rng.randint(5, 40) * 10),
            "rub": rub, "rub_ru": rub_ru, "pct": pct, "pct_ru": pct_ru}


def mideast_slots(rng: random.Random) -> Slots:
    o = rng.randrange(4)
    c = rng.randrange(4)
    return {"trucks": _many(rng, 15, 40), "days": str(rng.randint(20, 37)),
            "org": ("the UN", "the World Health Organization", "the Red Cross", "UNICEF")[o],
            "org_ru_gen": ("ООН", "Всемирной организации здравоохранения", "Красного Креста", "ЮНИСЕФ")[o],
            "capital": ("Cairo", "Doha", "Amman", "Paris")[c], "capital_ru_loc": ("Каире", "Дохе", "Аммане", "Париже")[c]}


def science_slots(rng: random.Random) -> Slots:
    t = SCIENCE_TOPICS[rng.randrange(len(SCIENCE_TOPICS))]
    return {"thing": t[0], "thing_ru": t[1], "pct": str(rng.randint(12, 60)), "n": str(rng.randint(40, 900)),
            "uni": _pick(rng, ("a university team in Zurich", "a research group in Toronto", "a lab in Osaka",
                               "a team in Cape Town", "a group in Edinburgh")),
            "uni_ru": _pick(rng, ("учёные из Новосибирска", "исследователи из Томска", "специалисты из Казани",
                                  "физики из Санкт-Петербурга"))}


def _muslim_slots(rng: random.Random, weights: Sequence[int]) -> Slots:
    city, region, cru, rru = rng.choices(MUSLIM_PLACES, weights=weights)[0]
    pct, pct_ru = _dec(rng, 15, 90)
    return {"city": city, "region": region, "city_ru": cru[0], "city_ru_gen": cru[1], "city_ru_loc": cru[2],
            "region_ru": rru[0], "region_ru_gen": rru[1], "region_ru_loc": rru[2], "region_ru_acc": rru[3],
            "n": str(rng.randint(2, 15) * 500), "trucks": _many(rng, 5, 40), "k": str(rng.randint(2, 4)),
            "mln": str(rng.randint(3, 48)), "tons": str(rng.randint(2, 30) * 10), "det": _many(rng, 5, 30),
            "mosques": str(rng.randint(3, 40) * 10), "km": str(rng.randint(5, 19)),
            "tourists": str(rng.randint(2, 9)), "worshippers": str(rng.randint(3, 20) * 100), "pct": pct,
            "pct_ru": pct_ru}


def surge_slots(rng: random.Random) -> Slots:
    return _muslim_slots(rng, SURGE_PLACE_WEIGHTS)


def baseline_muslim_slots(rng: random.Random) -> Slots:
    return _muslim_slots(rng, BASELINE_PLACE_WEIGHTS)


# ---------------------------------------------------------------------------------------------------- stories

WORLD = Category("world", 10, 0.6, 0.15, 0.06, world_slots, (
    Kind(3, T(["Leaders of {a} and {b} agree to deepen cooperation on {topic}",
               "{a} and {b} sign agreements on {topic} after summit"],
              ["Officials from {a} and {b} met on {weekday} for talks that both sides described as constructive.",
               "The leaders of {a} and {b} signed a package of agreements on {topic} on {weekday}."],
              ["The two sides signed {n} documents, including a memorandum on {topic}.",
               "Diplomats said it was the first meeting at this level in {yrs} years.",
               "A joint statement promised further talks before the end of the year.",
               "Analysts said the deal could reshape the region's approach to {topic}."]),
      T(["{a_ru} и {b_ru} договорились о сотрудничестве в {topic_ru}"],
        ["Представители {a_ru_gen} и {b_ru_gen} {weekday_ru} провели переговоры, которые обе стороны назвали "
         "конструктивными."],
        ["Стороны подписали {n} документов, в том числе меморандум по {topic_ru}.",
         "Следующий раунд консультаций запланирован до конца года.",
         "По словам дипломатов, это первая встреча на таком уровне за {yrs} лет."])),
    Kind(2, T(["Voters in {a} head to the polls in closely watched runoff", "{a} holds snap parliamentary election"],
              ["Turnout in {a} reached about {pct} percent by mid-afternoon on {weekday}, the electoral commission "
               "said.",
               "Polling stations across {a} opened on {weekday} in an election called a year early."],
              ["Opinion polls had shown the two leading candidates neck and neck.",
               "Observers from {b} said voting was orderly and largely peaceful.",
               "Preliminary results are expected on Monday morning.",
               "The campaign was dominated by the cost of living and {topic}."]),
      T(["В {a_ru_loc} проходят досрочные выборы"],
        ["Явка на выборах в {a_ru_loc} к середине дня составила около {pct} процентов, сообщила избирательная "
         "комиссия."],
        ["По данным опросов, ведущие кандидаты идут почти вровень.",
         "Предварительные итоги ожидаются в понедельник утром."])),
    Kind(1, T(["{a} recalls ambassador from {b} after diplomatic row"],
              ["{a} recalled its ambassador from {b} for consultations on {weekday}, the foreign ministry said."],
              ["The move followed a dispute over {topic}.",
               "The ministry in {b} called the decision regrettable.",
               "Both governments said channels of communication remained open."]),
      T(["Власти {a_ru_gen} отозвали посла из {b_ru_gen}"],
        ["Власти {a_ru_gen} {weekday_ru} отозвали посла из {b_ru_gen} для консультаций."],
        ["Поводом стали разногласия по {topic_ru}.",
         "Обе стороны заявили, что каналы связи остаются открытыми."])),
))

ECONOMY = Category("economy", 12, 0.4, 0.25, 0.05, economy_slots, (
    Kind(3, T(["Central bank of {country} holds key rate at {rate}%", "{country} central bank keeps rates on hold"],
              ["The central bank of {country} left its benchmark rate unchanged at {rate} percent on {weekday}, in "
               "line with analysts' expectations."],
              ["Policymakers signalled that rates would stay high for longer.",
               "The bank said inflation risks remained tilted to the upside.",
               "The currency strengthened slightly after the announcement."]),
      T(["Банк России сохранил ключевую ставку на уровне {key_rate}%"],
        ["Совет директоров Банка России {weekday_ru} сохранил ключевую ставку на уровне {key_rate} процентов "
         "годовых."],
        ["Аналитики ожидают, что регулятор сохранит жёсткую политику до весны.",
         "Регулятор отметил, что инфляционные риски остаются высокими."])),
    Kind(2, T(["Inflation in {country} slows to {infl}% in October"],
              ["Annual consumer price growth in {country} eased to {infl} percent, official data showed on {weekday}."],
              ["Food and energy prices remained the main drivers of inflation.",
               "Economists expect price growth to slow further next year.",
               "Core inflation, which excludes volatile items, was little changed."]),
      T(["Инфляция в {country_ru_loc} замедлилась до {infl_ru}%"],
        ["Годовая инфляция в {country_ru_loc} в октябре замедлилась до {infl_ru} процента, следует из "
         "официальных данных."],
        ["Основным фактором роста цен остаются продукты питания и услуги.",
         "Экономисты ожидают дальнейшего замедления инфляции в следующем году."])),
    Kind(2, T(["{company} shares jump {pct}% after {q} results beat forecasts"],
              ["{company} reported {q} revenue of {bn} billion dollars on {weekday}, ahead of market estimates."],
              ["The company said it expected demand to recover in the second half of next year.",
               "Shares in the company rose {pct} percent in early trading.",
               "Management raised its outlook for the full year."]),
      T(["Компания {company_ru} отчиталась о росте выручки на {pct_ru}%"],
        ["Компания {company_ru} сообщила о росте выручки на {pct_ru} процента по итогам девяти месяцев."],
        ["Компания намерена направить часть прибыли на модернизацию производства.",
         "Руководство повысило прогноз на весь год."])),
    Kind(1, T(["{company} to cut {jobs} jobs"],
              ["{company} said on {weekday} it would cut {jobs} jobs as part of a restructuring plan."],
              ["Unions said they would seek talks with management.",
               "The company blamed weaker orders and higher energy costs."]),
      T(["Компания {company_ru} сократит часть сотрудников"],
        ["Компания {company_ru} {weekday_ru} объявила о сокращении персонала в рамках реструктуризации."],
        ["В компании объяснили решение падением заказов и ростом расходов на энергию."])),
    Kind(2, T(["Oil prices slip as demand worries outweigh supply cuts", "Rouble weakens past {rub} per dollar"],
              ["Brent crude fell {pct} percent in early trading on {weekday} as traders weighed weaker demand data.",
               "The Russian rouble weakened past {rub} per dollar on {weekday}, extending losses from the previous "
               "week."],
              ["Analysts attributed the move to lower export revenues.",
               "Traders are watching for signals from major producers ahead of their next meeting."]),
      T(["Курс доллара превысил {rub_ru} рубля"],
        ["Курс доллара на Московской бирже {weekday_ru} поднялся выше отметки {rub_ru} рубля."],
        ["Эксперты связывают ослабление рубля с сезонным спросом на валюту.",
         "Аналитики не исключают дальнейших колебаний курса до конца месяца."])),
))

SPORTS = Category("sports", 9, 1.4, 0.15, 0.04, sports_slots, (
    Kind(4, T(["{home} beat {away} {g1}-{g2} to climb the table", "Late goal earns {home} a {g1}-{g2} win over {away}"],
              ["{home} beat {away} {g1}-{g2} on {weekday} in front of a crowd of {crowd}.",
               "A goal in the {minute} minute from {player} settled the match for {home} on {weekday}."],
              ["The result moves {home} up to {pts} points.",
               "{away} had a goal ruled out for offside shortly before half-time.",
               "The coach praised his players' discipline after a difficult week."]),
      T(["{home_ru} обыграл {away_ru} со счётом {g1}:{g2}", "Поздний гол принёс победу команде {home_ru}"],
        ["Команда {home_ru} {weekday_ru} обыграла {away_ru} со счётом {g1}:{g2}.",
         "Решающий мяч на {minute_ru}-й минуте принёс победу команде {home_ru}."],
        ["После этой победы команда набрала {pts} очков.",
         "Болельщики поддерживали команду на протяжении всего матча."])),
    Kind(1, T(["{away} sack manager after fifth straight defeat"],
              ["{away} said on {weekday} they had parted company with their manager after a run of five defeats."],
              ["The club said an assistant coach would take charge of training.",
               "The board thanked the manager for his work and said a successor would be named soon."]),
      T(["Клуб {away_ru} отправил в отставку главного тренера"],
        ["Клуб {away_ru} {weekday_ru} объявил об отставке главного тренера после пяти поражений подряд."],
        ["Исполняющим обязанности главного тренера назначен его ассистент.",
         "Имя нового наставника назовут в ближайшее время."])),
    Kind(1, T(["World {sport} tour: favourites advance in {city}"],
              ["The top seeds came through their opening rounds in {city} on {weekday} without major upsets."],
              ["Organisers said tickets for the final had sold out.",
               "Rain delayed the start of the afternoon session by an hour."]),
      T(["Фавориты успешно стартовали на международном турнире"],
        ["Сеяные спортсмены {weekday_ru} успешно преодолели стартовый круг турнира."],
        ["Билеты на финал уже распроданы, сообщили организаторы."])),
))

DISASTER = Category("disaster", 4, 0.9, 0.2, 0.12, disaster_slots, (
    Kind(2, T(["Magnitude {mag} earthquake strikes {place}", "Earthquake in {place} kills at least {dead}"],
              ["A magnitude {mag} earthquake struck {place} on {weekday}, killing at least {dead} people, officials "
               "said."],
              ["Rescue teams were searching collapsed buildings through the night.",
               "About {homes} homes were damaged, according to the disaster agency.",
               "Aftershocks were felt across the region."]),
      T(["Землетрясение магнитудой {mag_ru} произошло {place_ru_in}"],
        ["В результате землетрясения магнитудой {mag_ru} {place_ru_in} погибли не менее {dead} человек, "
         "сообщили местные власти."],
        ["Спасатели продолжают разбирать завалы.", "Повреждены около {homes} домов."])),
    Kind(2, T(["Thousands evacuated as floods hit {place}", "Floods in {place} kill at least {dead}"],
              ["Authorities in {place} ordered the evacuation of about {evac} residents on {weekday} as rivers burst "
               "their banks."],
              ["Roads to several villages remained cut off, hampering the relief effort.",
               "Forecasters warned that more heavy rain could follow in the coming days.",
               "The government declared a state of emergency in the worst-hit districts."]),
      T(["Наводнение {place_ru_in}: эвакуированы тысячи жителей"],
        ["Власти {place_ru_in} эвакуировали около {evac_ru} тысяч жителей из-за паводка."],
        ["Дороги к нескольким населённым пунктам по-прежнему отрезаны.",
         "Синоптики предупреждают о новых осадках в ближайшие дни."])),
    Kind(1, T(["Wildfire forces evacuations in {place}"],
              ["Firefighters in {place} were battling a wildfire that had destroyed about {homes} homes by "
               "{weekday}."],
              ["Strong winds were making it difficult to contain the blaze.",
               "Officials said the cause of the fire was under investigation."]),
      T(["{place_ru_in} бушует лесной пожар"],
        ["Пожарные {place_ru_in} {weekday_ru} продолжали тушить лесной пожар, уничтоживший около {homes} домов."],
        ["Сильный ветер мешает локализовать огонь."])),
))

EUROPE = Category("europe", 8, 0.5, 0.15, 0.05, europe_slots, (
    Kind(2, T(["EU ministers fail to agree on {issue}"],
              ["Ministers meeting in {city} on {weekday} failed to bridge differences over {issue}, diplomats said."],
              ["The European Commission said it would present a revised plan within weeks.",
               "The proposal still needs the approval of all 27 member states.",
               "Several governments said they could not accept the current text."]),
      T(["Министры ЕС не смогли договориться по вопросу {issue_ru}"],
        ["Министры стран ЕС на встрече в {city_ru_loc} {weekday_ru} не смогли преодолеть разногласия по вопросу "
         "{issue_ru}."],
        ["Еврокомиссия обещала представить доработанный план в ближайшие недели.",
         "Документ ещё должны одобрить все 27 стран-членов."])),
    Kind(2, T(["European Parliament backs new rules on {issue}"],
              ["Lawmakers in {city} approved the proposal on {issue} by a majority of {pct} percent on {weekday}."],
              ["Negotiations with member states on the final text will start next month.",
               "The plan includes {bn} billion euros of support over five years."]),
      T(["Европарламент одобрил новые правила {issue_ru}"],
        ["Депутаты Европарламента {weekday_ru} поддержали предложение большинством голосов."],
        ["Объём поддержки составит {bn} миллиардов евро за пять лет."])),
    Kind(1, T(["Farmers block roads in {country} over {issue}"],
              ["Hundreds of tractors blocked main roads in {country} on {weekday} as farmers protested over {issue}."],
              ["Police said the protest was peaceful but caused long delays.",
               "Farm unions said they would continue until the government agreed to talks."]),
      T(["Фермеры перекрыли дороги в знак протеста"],
        ["Сотни тракторов {weekday_ru} перекрыли дороги: фермеры протестуют против сокращения субсидий."],
        ["Полиция сообщила, что акция прошла мирно."])),
))

US = Category("us", 8, 0.5, 0.1, 0.05, us_slots, (
    Kind(2, T(["Voters in {state} weigh in on {issue}"],
              ["Voters in {state} went to the polls on {weekday} in an off-year election dominated by {issue}."],
              ["Early results showed about {pct} percent support for the measure.",
               "Both parties claimed the result as a sign of momentum before next year's presidential race."]),
      T(["В штате {state_ru} прошли выборы"],
        ["Жители штата {state_ru} {weekday_ru} проголосовали на выборах, которые считаются проверкой перед "
         "президентской кампанией."],
        ["Обе партии заявили, что итоги голосования говорят в их пользу."])),
    Kind(2, T(["Congress races to avert shutdown as deadline nears"],
              ["Lawmakers have {days} days to pass a spending bill before federal funding runs out."],
              ["The stopgap bill would keep the government funded at current levels.",
               "Leaders of both parties said they hoped to reach a deal this week."]),
      T(["Конгресс США пытается избежать шатдауна"],
        ["У конгрессменов осталось {days} дней, чтобы принять закон о финансировании правительства."],
        ["Временный бюджет позволит сохранить финансирование на текущем уровне."])),
    Kind(1, T(["US hiring slows in October, {agency} says"],
              ["Employers added {jobs},000 jobs last month, figures released by {agency} showed on {weekday}."],
              ["Markets reacted calmly to the data.", "Wage growth eased slightly from the previous month."]),
      T(["Рост занятости в США замедлился"],
        ["Число рабочих мест в США в октябре выросло на {jobs} тысяч, следует из официальных данных."],
        ["Рынки спокойно отреагировали на статистику."])),
    Kind(1, T(["Court blocks {state} law on {issue}"],
              ["A federal judge on {weekday} temporarily blocked a {state} law on {issue}."],
              ["The state's attorney general said he would appeal the ruling.",
               "Civil rights groups that brought the case welcomed the decision."]),
      T(["Суд заблокировал закон штата {state_ru}"],
        ["Федеральный судья {weekday_ru} временно заблокировал закон штата {state_ru}."],
        ["Генеральный прокурор штата заявил, что обжалует решение."])),
))

ASIA_CAT = Category("asia", 8, 0.6, 0.15, 0.05, asia_slots, (
    Kind(2, T(["{c} exports rise {pct}% on strong demand for {sector}"],
              ["Exports from {c} rose {pct} percent in October from a year earlier, customs data showed on {weekday}."],
              ["Shipments of {sector} were the main driver of growth.",
               "Investors welcomed the figures, sending regional stock indexes higher."]),
      T(["Экспорт {c_ru_gen} вырос на {pct_ru}%"],
        ["Экспорт {c_ru_gen} в октябре вырос на {pct_ru} процента в годовом выражении, сообщила таможня."],
        ["Главным драйвером роста стали поставки {sector_ru}."])),
    Kind(2, T(["{c} unveils {bn} billion dollar support package for {maker} makers"],
              ["The government of {c} announced a package worth {bn} billion dollars on {weekday} to support "
               "{maker} makers."],
              ["Economists said the measures could lift growth by half a percentage point.",
               "The package includes tax breaks and cheaper loans."]),
      T(["Власти {c_ru_gen} поддержат производителей {sector_ru}"],
        ["Правительство {c_ru_gen} {weekday_ru} объявило о мерах поддержки на {bn} миллиардов долларов."],
        ["Экономисты считают, что меры добавят к росту экономики около половины процентного пункта."])),
    Kind(1, T(["Tropical storm disrupts flights across {c}"],
              ["Airlines in {c} cancelled dozens of flights on {weekday} as a tropical storm approached the coast."],
              ["Officials warned of landslides in mountainous areas.", "Schools in coastal districts were closed."]),
      T(["Тропический шторм нарушил авиасообщение {c_ru_in}"],
        ["Авиакомпании {c_ru_in} {weekday_ru} отменили десятки рейсов из-за приближения шторма."],
        ["Власти предупредили об угрозе оползней."])),
))

RUSSIA = Category("russia", 8, 0.6, 0.7, 0.08, russia_slots, (
    Kind(2, T(["{city} opens new transport line after years of delays"],
              ["Authorities in {city} opened a {km}-kilometre stretch of a new transport line on {weekday}."],
              ["City officials said the project had cost more than initially planned.",
               "Residents had waited for the line for more than a decade."]),
      T(["В {city_ru_loc} открыли новую транспортную линию"],
        ["Власти {city_ru_gen} {weekday_ru} открыли новый участок транспортной линии протяжённостью {km} км."],
        ["Стоимость проекта оказалась выше первоначальной оценки.",
         "Жители ждали открытия линии более десяти лет."])),
    Kind(2, T(["Snowfall disrupts traffic in {city}", "Frost grips {city} as temperatures drop to minus {temp}C"],
              ["Heavy snow brought traffic in {city} to a standstill on {weekday}, with temperatures dropping to "
               "minus {temp} degrees."],
              ["Utility crews worked overnight to clear main roads.", "More than {n} snow ploughs were deployed.",
               "Forecasters expect milder weather by the end of the week."]),
      T(["Снегопад парализовал движение в {city_ru_loc}", "В {city_ru_loc} ударили морозы до минус {temp} градусов"],
        ["Сильный снегопад {weekday_ru} парализовал движение в {city_ru_loc}, температура опустилась до минус "
         "{temp} градусов."],
        ["На улицы вышли более {n} единиц снегоуборочной техники.",
         "Жители жалуются на задержки общественного транспорта.", "Синоптики обещают потепление к концу недели."])),
    Kind(2, T(["Russian regions boost spending on road repairs", "{city} approves next year's budget"],
              ["Regional governments plan to spend {bn} billion roubles on road repairs next year, officials said on "
               "{weekday}.",
               "The city council of {city} approved next year's budget on {weekday}."],
              ["Social spending will rise by {pct} percent.", "Officials said priority would go to schools and clinics."]),
      T(["Регионы увеличат расходы на ремонт дорог", "Власти {city_ru_gen} утвердили бюджет на следующий год"],
        ["Регионы планируют направить на ремонт дорог {bn} млрд рублей в следующем году.",
         "Депутаты городской думы {city_ru_gen} {weekday_ru} утвердили бюджет на следующий год."],
        ["Расходы на социальные программы вырастут на {pct_ru} процента.",
         "Приоритетом станут школы и поликлиники, сообщили чиновники."])),
))

MIDEAST = Category("mideast", 7, 0.8, 0.2, 0.1, mideast_slots, (
    Kind(2, T(["Aid trucks enter Gaza through Rafah crossing"],
              ["A convoy of {trucks} aid trucks entered the Gaza Strip from Egypt on {weekday}, officials said."],
              ["Aid agencies said the volume of supplies was far below what was needed.",
               "{org} called for safe access for humanitarian workers."]),
      T(["В сектор Газа вошли грузовики с гуманитарной помощью"],
        ["Колонна из {trucks} грузовиков с гуманитарной помощью {weekday_ru} вошла в сектор Газа со стороны Египта."],
        ["Гуманитарные организации заявляют, что объём помощи недостаточен."])),
    Kind(2, T(["{org} warns of humanitarian catastrophe in Gaza"],
              ["{org} said on {weekday} that hospitals in Gaza were running out of fuel and medicine."],
              ["Tens of thousands of people have fled to the south of the territory.",
               "The agency called for an immediate humanitarian ceasefire."]),
      T(["Представители {org_ru_gen} предупредили о гуманитарной катастрофе в Газе"],
        ["Представители {org_ru_gen} {weekday_ru} сообщили, что в больницах Газы заканчиваются топливо и лекарства."],
        ["Десятки тысяч человек покинули север сектора."])),
    Kind(1, T(["Talks in {capital} on a humanitarian pause in Gaza continue"],
              ["Negotiators in {capital} were discussing a possible humanitarian pause, diplomats said on {weekday}."],
              ["The talks also covered the release of hostages held in Gaza.",
               "Diplomats cautioned that an agreement was not yet close."]),
      T(["В {capital_ru_loc} продолжаются переговоры о гуманитарной паузе"],
        ["Переговоры о возможной гуманитарной паузе в секторе Газа продолжаются в {capital_ru_loc}, сообщают "
         "дипломаты."],
        ["На переговорах также обсуждается освобождение заложников."])),
    Kind(1, T(["Israel–Gaza war enters day {war_day}"],
              ["Fighting continued in the north of the Gaza Strip on {weekday}, the {war_day_ord} day of the war."],
              ["Israel said it would continue its military operation against Hamas.",
               "Tens of thousands of people have fled to the south of the territory."]),
      T(["Война в секторе Газа продолжается {war_day}-й день"],
        ["Бои на севере сектора Газа продолжались {weekday_ru}, на {war_day}-й день войны."],
        ["Десятки тысяч человек покинули север сектора."])),
))

SCIENCE = Category("science", 6, 0.5, 0.2, 0.04, science_slots, (
    Kind(3, T(["Researchers unveil {thing}", "Study: {thing} could cut costs by {pct}%"],
              ["{uni} has developed {thing}, according to a paper published on {weekday}.",
               "{uni} tested {thing} on {n} samples and reported promising results."],
              ["Independent experts said the results needed to be replicated.",
               "The researchers hope to begin field trials next year.",
               "The authors said the approach could cut costs by about {pct} percent."]),
      T(["Учёные представили {thing_ru}"],
        ["{uni_ru} представили {thing_ru}, говорится в статье, опубликованной {weekday_ru}."],
        ["Независимые эксперты отмечают, что результаты нужно проверить.",
         "Испытания планируется начать в следующем году."])),
    Kind(1, T(["Health officials report rise in seasonal flu cases"],
              ["Health authorities reported a rise in flu cases on {weekday} as the cold season began."],
              ["Doctors urged older people to get vaccinated.", "Hospitals said they had enough beds for now."]),
      T(["В регионах растёт заболеваемость гриппом"],
        ["Роспотребнадзор {weekday_ru} сообщил о росте заболеваемости гриппом и ОРВИ."],
        ["Врачи призывают пожилых людей сделать прививку."])),
))

# steady, low coverage of Russia's Muslim-majority regions: the baseline the surge is measured against
MUSLIM_BASELINE = Category("muslim_baseline", 2.2, 0.7, 0.5, 0.05, baseline_muslim_slots, (
    Kind(2, T(["{region} opens new section of mountain highway"],
              ["Authorities in {region} opened a {km}-kilometre section of a mountain highway near {city} on "
               "{weekday}."],
              ["Officials said the road would cut travel times for residents of mountain villages.",
               "The regional government said it would continue to invest in infrastructure."]),
      T(["В {region_ru_loc} открыли новый участок горной дороги"],
        ["Власти {region_ru_gen} {weekday_ru} открыли участок горной дороги протяжённостью {km} км."],
        ["Новая дорога сократит время в пути для жителей горных сёл."])),
    Kind(1, T(["{city} hosts regional halal industry fair"],
              ["A fair for halal producers opened in {city} on {weekday}, drawing exporters from across Russia."],
              ["Organisers said Muslim consumers in Russia were driving demand for certified products."]),
      T(["В {city_ru_loc} прошла выставка халяльной продукции"],
        ["В {city_ru_loc} {weekday_ru} открылась выставка халяльной продукции для мусульман со всей России."],
        ["Спрос на сертифицированную продукцию растёт, отмечают организаторы."])),
    Kind(2, T(["{region} reports record tourist season"],
              ["{region} received about {tourists} hundred thousand visitors this year, regional officials said on "
               "{weekday}."],
              ["Hotel occupancy rose by {pct} percent compared with last year.",
               "Officials plan to open two new ski slopes next season."]),
      T(["Власти {region_ru_gen} отчитались о рекордном туристическом сезоне"],
        ["{region_ru_acc} в этом году посетили около {tourists}00 тысяч туристов, сообщили в правительстве региона."],
        ["Загрузка гостиниц выросла на {pct_ru} процента по сравнению с прошлым годом."])),
    Kind(1, T(["New mosque opens near {city}", "Muslim leaders in {region} hold education forum"],
              ["A new mosque with room for {worshippers} worshippers opened in a district near {city} on {weekday}.",
               "The spiritual administration of Muslims of {region} held its annual forum on religious education in "
               "{city}."],
              ["Participants discussed training for imams and teachers.",
               "Local residents had raised part of the money for the building."]),
      T(["В {region_ru_loc} открылась новая мечеть"],
        ["Новая мечеть вместимостью {worshippers} человек открылась в пригороде {city_ru_gen}."],
        ["Часть средств на строительство собрали местные жители."])),
))

# the occasional pre-surge story on Russia's Muslims and the war: a low baseline for the surge's own keys
MUSLIM_GAZA_TRICKLE = Category("muslim_gaza_trickle", 0.35, 0.7, 0.5, 0.0, baseline_muslim_slots, (
    Kind(1, T(["Mufti of {region} calls for peace in the Middle East",
               "Mosques in {city} hold prayers for victims of the Middle East war"],
              ["The mufti of {region} called on {weekday} for an end to the bloodshed in the Middle East.",
               "Worshippers at mosques in {city} held prayers on {weekday} for civilians killed in Gaza and Israel."],
              ["He urged believers to stay calm and not to be drawn into provocations.",
               "The spiritual administration said it was following events closely."]),
      T(["Муфтий {region_ru_gen} призвал к миру на Ближнем Востоке"],
        ["Муфтий {region_ru_gen} {weekday_ru} призвал прекратить кровопролитие на Ближнем Востоке."],
        ["Он призвал верующих сохранять спокойствие и не поддаваться на провокации."])),
), until=SURGE_START)

SURGE = Category("surge", 0, 1.0, 0.45, 0.4, surge_slots, (
    Kind(4, T(["Thousands rally in {city} in solidarity with Gaza", "Solidarity with Palestinians: rally held in {city}"],
              ["Several thousand people gathered in central {city} on {weekday} to express solidarity with "
               "Palestinians in Gaza, organisers said."],
              ["Speakers at the rally, which had been approved by the authorities of {region}, called for an "
               "immediate ceasefire.",
               "Many participants carried Palestinian flags and placards calling for an end to the bombing of Gaza.",
               "The gathering followed midday prayers at the central mosque.",
               "Officials said about {n} people took part and that no incidents were reported."]),
      T(["В {city_ru_loc} прошёл митинг в поддержку жителей Газы",
         "Мусульмане {region_ru_gen} выразили солидарность с палестинцами"],
        ["Несколько тысяч человек {weekday_ru} собрались в центре {city_ru_gen}, чтобы выразить солидарность с "
         "жителями сектора Газа."],
        ["Участники митинга, согласованного с властями {region_ru_gen}, призвали к немедленному прекращению огня.",
         "Многие держали в руках палестинские флаги и плакаты с призывами остановить бомбардировки Газы.",
         "По данным властей, в мероприятии приняли участие около {n} человек, нарушений порядка не зафиксировано."])),
    Kind(4, T(["Muslims in {region} collect aid for civilians in Gaza", "Mosques in {region} raise money for Gaza"],
              ["Mosques across {region} have been collecting donations for civilians in Gaza since the start of the "
               "week."],
              ["The spiritual administration of Muslims of {region} said it had raised {mln} million roubles in {k} "
               "days.",
               "Volunteers were packing food, medicine and blankets to be sent to Gaza via Egypt.",
               "More than {mosques} mosques in the region have joined the fundraising campaign.",
               "Similar collections have been announced by Muslim organisations in Tatarstan, Bashkortostan and the "
               "North Caucasus."]),
      T(["Мусульмане {region_ru_gen} собирают помощь для Газы", "В мечетях {region_ru_gen} объявлен сбор пожертвований для Газы"],
        ["Мечети {region_ru_gen} объявили сбор пожертвований для мирных жителей сектора Газа."],
        ["Духовное управление мусульман {region_ru_gen} сообщило, что за {k} дня собрано {mln} млн рублей.",
         "Волонтёры упаковывают продукты, лекарства и одеяла, которые будут переданы в Газу через Египет.",
         "К акции присоединились более {mosques} мечетей региона.",
         "Сбор помощи также объявили мусульманские организации Татарстана, Башкирии и Северного Кавказа."])),
    Kind(3, T(["Mufti of {region} urges believers to support Gaza through charity"],
              ["The mufti of {region} called on Muslims on {weekday} to support the people of Gaza through prayer and "
               "charity and to avoid unsanctioned street actions."],
              ["The mufti condemned attacks on civilians and urged believers not to give in to provocations.",
               "His statement was read out in mosques across {region}.",
               "Religious leaders in the North Caucasus have issued similar appeals this week."]),
      T(["Муфтий {region_ru_gen} призвал верующих помочь жителям Газы"],
        ["Муфтий {region_ru_gen} призвал мусульман поддержать жителей Газы молитвой и пожертвованиями и не "
         "участвовать в несогласованных акциях."],
        ["Муфтий осудил нападения на мирных жителей и призвал верующих не поддаваться на провокации.",
         "Обращение зачитали в мечетях {region_ru_gen}.",
         "С похожими призывами на этой неделе выступили духовные лидеры мусульман Северного Кавказа."])),
    Kind(2, T(["Police detain protesters at unsanctioned pro-Palestinian rally in {city}",
               "Authorities in {region} warn against unsanctioned protests over Gaza"],
              ["Police in {city} detained {det} people at an unauthorised pro-Palestinian protest on {weekday}, local "
               "media reported.",
               "Authorities in {region} warned residents against joining protests over the war in Gaza that had not "
               "been approved, after calls to rally spread on Telegram channels."],
              ["Those detained face fines for taking part in an unauthorised public event.",
               "Officials said they respected the feelings of Muslims but would not tolerate violations of public "
               "order.",
               "Religious leaders urged young people to express solidarity through charity instead."]),
      T(["В {city_ru_loc} задержали участников несогласованной акции в поддержку Палестины",
         "Власти {region_ru_gen} напомнили мусульманам о запрете несогласованных акций"],
        ["Полиция {city_ru_gen} {weekday_ru} задержала {det} участников несогласованной акции в поддержку Палестины.",
         "Власти {region_ru_gen} напомнили мусульманам, что участие в несогласованных акциях запрещено законом."],
        ["Задержанным грозят штрафы за участие в несанкционированном публичном мероприятии.",
         "Призывы выйти на улицы распространялись в телеграм-каналах.",
         "Духовные лидеры призвали молодёжь выражать солидарность с палестинцами через благотворительность."])),
    Kind(2, T(["{region} sends humanitarian convoy to Gaza"],
              ["A convoy of {trucks} trucks carrying about {tons} tonnes of food and medicine left {city} for Gaza on "
               "{weekday}."],
              ["Regional leaders said the aid would be delivered in coordination with humanitarian organisations.",
               "Much of the cargo was bought with donations collected in mosques across {region}.",
               "The convoy is expected to travel through Egypt."]),
      T(["Из {city_ru_gen} в Газу отправился гуманитарный конвой"],
        ["Колонна из {trucks} грузовиков с продуктами и медикаментами {weekday_ru} отправилась из {city_ru_gen} в "
         "сектор Газа."],
        ["Помощь будет доставлена в координации с гуманитарными организациями, сообщили в правительстве "
         "{region_ru_gen}.",
         "Большую часть груза закупили на пожертвования, собранные в мечетях {region_ru_gen}."])),
    Kind(1, T(["Russia's Muslim regions rally behind Gaza as war continues"],
              ["Muslim communities in Chechnya, Dagestan and Tatarstan have stepped up rallies and aid collections for "
               "Gaza this week."],
              ["In {city}, organisers said about {n} people attended a rally on {weekday}.",
               "Religious leaders have called for calm while urging believers to donate.",
               "Analysts said the scale of the response reflected strong feelings among Russia's Muslims."]),
      T(["Мусульмане Северного Кавказа выразили солидарность с палестинцами"],
        ["Мусульманские общины Чечни, Дагестана и Татарстана на этой неделе провели митинги и сборы помощи для Газы."],
        ["В {city_ru_loc}, по словам организаторов, на митинг пришли около {n} человек.",
         "Духовные лидеры призывают к спокойствию и пожертвованиям."])),
), start=SURGE_START, per_day=SURGE_PER_DAY)

CATEGORIES = (WORLD, ECONOMY, SPORTS, DISASTER, EUROPE, US, ASIA_CAT, RUSSIA, MIDEAST, SCIENCE, MUSLIM_BASELINE,
              MUSLIM_GAZA_TRICKLE, SURGE)

# deliberately invalid lines: (relative position in the file, line text, the reason enrich should give)
INVALID_LINES: Tuple[Tuple[float, str, str], ...] = (
    (0.04, '{"id": "bad-0001", "title": "Markets open lower", "text": "Shares fell at the open.", '
           '"url": "https://harborwire.example/2023/10/markets-open-lower", "source": "synthetic:Harbor Wire", '
           '"language": "en"}', "missing_field"),
    (0.13, '{"id": "bad-0002", "title": "Regional budget approved", "text": "Deputies approved the budget', "not_json"),
    (0.22, '{"id": "bad-0003", "title": "Port reopens after storm", "text": "The port reopened on Tuesday.", '
           '"published_at": "2023-10-31T25:61:00Z", "source": "synthetic:Daily Meridian", "language": "en"}',
     "bad_published_at"),
    (0.31, '{"id": "bad-0004", "title": "Выставка открылась в Омске", "text": "Выставка продлится неделю.", '
           '"published_at": "вчера", "source": "synthetic:Лента Севера", "language": "ru"}', "bad_published_at"),
    (0.42, "<html><body><h1>502 Bad Gateway</h1></body></html>", "not_json"),
    (0.51, '{"id": "bad-0006", "title": "Новый мост построят к 2025 году", "text": "Проект одобрен.", '
           '"source": "synthetic:Региональный курьер", "language": "ru"}', "missing_field"),
    (0.60, '["a JSON array", "is not", "a news item"]', "not_an_object"),
    (0.69, '{"id": "bad-0008", "title": "", "text": "   ", "published_at": "2023-11-06T10:00:00Z", '
           '"source": "synthetic:Global Ledger", "language": "en"}', "empty_item"),
    (0.80, '{"id": "bad-0009", "title": "Figures of the day", "text": 42, "published_at": "2023-11-09T11:00:00Z", '
           '"source": "synthetic:Northline Times", "language": "en"}', "bad_type"),
    (0.91, '{"id": "bad-0010", "title": "Flights resume", "text": "Flights resumed after fog lifted.", '
           '"published_at": "not a date", "source": "synthetic:Eurasia Monitor", "language": "en"}',
     "bad_published_at"),
)


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
                when = _time_in_day(rng, day, cat.start)
                lang = "ru" if rng.random() < cat.ru_share else "en"
                outlet = _pick(rng, OUTLETS_RU if lang == "ru" else OUTLETS_EN)
                kind = rng.choices(cat.kinds, weights=[k.weight for k in cat.kinds])[0]
                war_day = (when.date() - WAR_START.date()).days + 1
                slots = dict(cat.slots(rng), weekday=WEEKDAYS_EN[when.weekday()],
                             weekday_ru=WEEKDAYS_RU[when.weekday()], war_day=str(war_day),
                             war_day_ord=_ordinal(war_day))
                title, text = _compose(rng, kind.ru if lang == "ru" else kind.en, slots)
                item = Item(when, title, text, outlet, cat.name, story, lang)
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
