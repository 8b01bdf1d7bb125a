"""Cities and towns named alone, in Russian (every case form) and English: found without a statistical NER hit or
a country in the item, and still not taken from people's names or ordinary words."""
from __future__ import annotations

from typing import List

import pytest

from processors.enrich.tagging import Tagger
from streams.records import NewsItem


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.load()


def _cities(tagger: Tagger, text: str, language: str) -> List[str]:
    res = tagger.tag_batch([NewsItem(title="", text=text, published_at="2023-11-08T10:00:00Z", id="t",
                                     language=language)])[0]
    return [t.name for t in res.regions + res.mentioned_regions if t.kind in ("city", "federal_city")]


# one sentence per grammatical case; the city is the only place named
RU_CASES = [
    ("Пенза", "В среду {} встретила гостей праздником.", ["Пенза", "Пензы", "Пензе", "Пензу", "Пензой"]),
    ("Derbent", "Вчера {} принял делегацию.", ["Дербент", "Дербента", "Дербенту", "Дербентом", "Дербенте"]),
    ("Makhachkala", "Новости: {} готовится к выборам.", ["Махачкала", "Махачкалы", "Махачкале", "Махачкалу",
                                                         "Махачкалой"]),
    ("Tolyatti", "Сегодня {} отмечает юбилей завода.", ["Тольятти"]),
]


@pytest.mark.parametrize("name,template,forms", RU_CASES, ids=[c[0] for c in RU_CASES])
def test_russian_city_in_every_case_form(tagger: Tagger, name: str, template: str, forms: List[str]) -> None:
    expected = {"Пенза": "Penza"}.get(name, name)
    for form in forms:
        found = _cities(tagger, template.format(form), "ru")
        assert expected in found, (form, found)


@pytest.mark.parametrize("text,city", [
    ("Около двухсот человек вышли на площадь в Гудермесе в пятницу.", "Gudermes"),
    ("Спасатели из Каспийска прибыли утром.", "Kaspiysk"),
    ("Фестиваль прошёл в Набережных Челнах и собрал тысячи зрителей.", "Naberezhnyye Chelny"),
    ("Автобус из Ессентуков опоздал на час.", "Yessentuki"),
    ("Делегация Ставрополя приехала на форум.", "Stavropol"),
    ("Во Владимире открыли новую школу.", "Vladimir"),
])
def test_russian_town_without_context(tagger: Tagger, text: str, city: str) -> None:
    assert city in _cities(tagger, text, "ru")


@pytest.mark.parametrize("text,city", [
    ("About two hundred people marched through Gudermes on Friday.", "Gudermes"),
    ("Rescuers from Kaspiysk arrived in the morning.", "Kaspiysk"),
    ("A festival in Naberezhnye Chelny drew thousands.", "Naberezhnyye Chelny"),
    ("The bus from Essentuki was an hour late.", "Yessentuki"),
    ("The trial in Almetyevsk opened on Monday.", "Al’met’yevsk"),
    ("Teachers in Vladikavkaz went on strike.", "Vladikavkaz"),
])
def test_english_town_without_context(tagger: Tagger, text: str, city: str) -> None:
    assert city in _cities(tagger, text, "en")


@pytest.mark.parametrize("text,language", [
    ("Улица Пушкина закрыта на ремонт.", "ru"),                  # a street named after a person
    ("Решение Центрального банка удивило рынок.", "ru"),        # an adjective that is also a town's name
    ("Владимир Иванов возглавил комиссию.", "ru"),               # a first name
    ("Nigel Lawson spoke first. Later Lawson said taxes would fall.", "en"),   # a surname
    ("Split votes are common. Reading is a pleasure.", "en"),   # ordinary words opening sentences
])
def test_names_that_are_no_place_here(tagger: Tagger, text: str, language: str) -> None:
    assert _cities(tagger, text, language) == []


@pytest.mark.parametrize("text,city", [
    ("Забастовка в Ренне продолжается.", "Rennes"),                 # a foreign town of 200,000
    ("Фестиваль прошёл в Кайзерслаутерне.", "Kaiserslautern"),     # pymorphy3 guesses another lemma here
    ("Протест прошёл в Тусоне в субботу.", "Tucson"),
])
def test_foreign_town_in_an_oblique_case(tagger: Tagger, text: str, city: str) -> None:
    assert city in _cities(tagger, text, "ru")


@pytest.mark.parametrize("text,why", [
    ("Болельщики «Ливерпуля» праздновали победу.", "in quotation marks"),      # a club
    ("Экскурсия на Шпиль-Ренн отменена.", "part of the compound"),              # a compound name
    ("Сенатор Берни Сандерс выступил в среду.", "person"),                      # beside a surname
    ("В префектуре Ниигата прошли выборы.", "region or district name"),       # the prefecture, not the city
    ("Студенты МГУ вышли на акцию.", "acronym in capitals"),                   # a university, not the town Мга
])
def test_russian_city_names_that_name_something_else(tagger: Tagger, text: str, why: str) -> None:
    rows = [r for r in tagger.explain(text, language="ru") if r["dimension"] == "region" and r["decision"] != "not "
            "proposed"]
    assert _cities(tagger, text, "ru") == [] and any(why in r["why"] for r in rows), rows


@pytest.mark.parametrize("text,why", [
    ("Вчера показали фильм Стэнли Молота.", "reads as a first name"),     # a first name, then a known word
    ("На вечер пришла звезда Никки Бриллиант.", "reads as a first name"),
    ("Он был внуком Уинтропа О. Смита.", "an initial"),                     # an initial after the name
    ("Встреча прошла с участием министра Литвы Дали Пятрайтите.", "person"),  # a genitive after a place's
    ("Актёр сыграл мастера Ип Мана.", "person"),                 # a word pymorphy3 knows only as an abbreviation
])
def test_city_name_inside_a_persons_name(tagger: Tagger, text: str, why: str) -> None:
    rows = [r for r in tagger.explain(text, language="ru") if r["dimension"] == "region" and r["decision"] ==
            "rejected"]
    assert _cities(tagger, text, "ru") == [] and any(why in r["why"] for r in rows), rows


def test_river_after_a_water_noun(tagger: Tagger) -> None:
    # "реки Пензы" in any case names the river, not the town
    assert _cities(tagger, "Экспедиция изучала луга в бассейне реки Пензы.", "ru") == []


def test_weak_town_name_after_a_settlement_noun(tagger: Tagger) -> None:
    # a town named like an ordinary word is the town after город/посёлок
    assert "Zarech’ye" in _cities(tagger, "Вчера в посёлке Заречье задержали вора.", "ru")
    assert _cities(tagger, "Вчера в Заречье задержали вора.", "ru") == []


def test_lower_case_city_adjective_before_a_building_or_district_noun(tagger: Tagger) -> None:
    # "московского метро", "в лондонском районе": the city's own; "Казанский вокзал": named after the city
    assert _cities(tagger, "Пассажиры московского метро жалуются на жару.", "ru") == ["Moscow"]
    assert "London" in _cities(tagger, "Он вырос в лондонском районе с садами.", "ru")
    assert _cities(tagger, "Поезд пришёл на Казанский вокзал вчера.", "ru") == []


def test_quoted_name_stays_rejected_when_the_city_is_named_too(tagger: Tagger) -> None:
    # «Барселоне» (the club) is no city even when the item also names the city itself
    res = tagger.tag_batch([NewsItem(title="", text="Он играл за «Барселону». Потом он переехал в Барселону.",
                                     published_at="2023-11-08T10:00:00Z", id="t", language="ru")])[0]
    assert [m["start"] for m in res.mentions] == [45], res.mentions


def test_small_towns_adjective_needs_the_town_or_its_region_named(tagger: Tagger) -> None:
    # an adjective of several small towns (Mariinsk, Mary, Murray): its country is not enough; the town named is
    assert _cities(tagger, "Оркестр Мариинского театра выступил в США.", "ru") == []
    assert _cities(tagger, "Жители Мариинска пришли на праздник. Мариинский музей принял гостей.", "ru") == \
        ["Mariinsk"]


def test_city_adjective_before_a_currency(tagger: Tagger) -> None:
    assert _cities(tagger, "Он предложил 100 млн гонконгских долларов за картину.", "ru") == []


def test_town_name_read_as_a_persons_where_the_item_writes_the_persons_nominative(tagger: Tagger) -> None:
    # "Тана" is also the genitive of тан: the item writing "Тан" shows the person; alone it is the town
    assert _cities(tagger, "Полиция нашла на ноутбуке Тана файлы. Тан вернул флешку.", "ru") == []
    assert _cities(tagger, "Полиция нашла в городе Тана файлы.", "ru") == ["Thāne"]


def test_district_of_a_larger_city_the_item_names(tagger: Tagger) -> None:
    # a town a few km from a much larger city named in the same item is that city's district
    assert _cities(tagger, "В Нью-Йорке открыли музей. Его директор живёт в Бруклине.", "ru") == ["New York City"]
    assert "Brooklyn" in _cities(tagger, "Его директор живёт в Бруклине.", "ru")
    # beside a city under district_city_population a close town is a town of its own (Engels, 9 km from Saratov)
    assert _cities(tagger, "В Саратове и в Энгельсе прошли митинги.", "ru") == ["Saratov", "Engels"]


def test_two_town_names_that_make_one_persons_name(tagger: Tagger) -> None:
    # the first is read as a person's because of the second: so is the second
    assert _cities(tagger, "Принцесса вышла замуж за японца Кея Мория.", "ru") == []


def test_family_name_in_the_plural_before_a_city(tagger: Tagger) -> None:
    # "Скрипалей" (a family, plural) is no first name: the city after it is the place
    assert "London" in _cities(tagger, "После отравления Скрипалей Лондон обвинил Москву.", "ru")


def test_city_beside_a_name_after_a_preposition_or_as_a_genitive(tagger: Tagger) -> None:
    # "in Moscow Putin met ...", "the mayor of Moscow Sergei Sobyanin": the place, then a person
    assert _cities(tagger, "В Москве Путин встретился с мэром. Мэр Москвы Сергей Собянин пришёл.", "ru") == \
        ["Moscow"]


def test_town_named_like_a_function_word_is_never_proposed(tagger: Tagger) -> None:
    # towns called По, Они, Так: a capital letter after a missing full stop says nothing
    assert _cities(tagger, "разделяю вашу боль и скорбь По предварительным данным Они мне понравились", "ru") == []


def test_explain_says_why_a_name_was_rejected(tagger: Tagger) -> None:
    rows = [r for r in tagger.explain("Улица Пушкина закрыта на ремонт.", language="ru") if r["dimension"] == "region"]
    assert rows and rows[0]["decision"] == "rejected" and "first name or surname" in rows[0]["why"]


def test_explain_names_words_not_in_the_gazetteer(tagger: Tagger) -> None:
    rows = tagger.explain("Protesters gathered in Smallvillegrad on Friday.", language="en")
    row = next(r for r in rows if r["text"] == "Smallvillegrad")
    assert row["decision"] == "not proposed" and row["why"].startswith("not in the gazetteer")


def _tags(tagger: Tagger, text: str) -> List[str]:
    res = tagger.tag_batch([NewsItem(title="", text=text, published_at="2023-11-08T10:00:00Z", id="t",
                                     language="en")])[0]
    return [t.id for t in res.regions + res.mentioned_regions]


def test_us_county_and_city_state_abbreviation(tagger: Tagger) -> None:
    tags = _tags(tagger, "Deputies in Kanawha County searched the river. The mayor of Charleston, W.Va., spoke.")
    assert "region:us-wv" in tags, tags
    county = tagger.gazetteer.entries[next(t[7:] for t in tags if t.startswith("region:us-county-"))]
    assert county.name == "Kanawha County" and county.ancestors == ["us-wv", "us"]
    # the state after the comma decides between namesakes: this Alexandria lies in Louisiana
    alexandria = [tagger.gazetteer.entries[t[7:]] for t in _tags(tagger, "A fire broke out in Alexandria, La., on "
                                                                           "Sunday.") if t.startswith("region:gn-")]
    assert alexandria and all(e.ancestors[0] == "us-la" for e in alexandria), alexandria


def test_adjectives_of_cities(tagger: Tagger) -> None:
    # a smaller city's adjective names it when the item supports it; an adjective of the largest city of a name
    # names that city; before a region noun it names the region called after the city
    assert "Bryansk" in _cities(tagger, "Руководитель брянских единороссов выступил в Брянской области.", "ru")
    assert _cities(tagger, "Это случилось в 23:11 по пекинскому времени.", "ru") == ["Beijing"]
    assert _cities(tagger, "Городок лежал в Могилёвской губернии.", "ru") == []


def test_namesake_near_another_city_the_item_names(tagger: Tagger) -> None:
    # Edmonton, 14 km from London, beside London; the Canadian city alone
    assert "region:gn-2650209" in _tags(tagger, "Police in London said a teenager from Edmonton was stabbed on Friday.")
    assert "region:gn-5946768" in _tags(tagger, "A teenager from Edmonton was stabbed on Friday, police said.")


def test_state_abbreviation_after_a_town_the_gazetteer_does_not_know(tagger: Tagger) -> None:
    tags = _tags(tagger, "The fire broke out in Smallvillegrad, Va., on Sunday. He moved to Fooburg, B.C. last year.")
    assert "region:us-va" in tags and "region:ca-bc" in tags, tags
    # after a known city the abbreviation also places the city in the state
    tags = _tags(tagger, "The mayor of Washington, D.C., spoke on Monday.")
    assert "region:us-dc" in tags and any(t.startswith("region:gn-") for t in tags), tags


def test_small_town_only_beside_its_state(tagger: Tagger) -> None:
    # a US town under the gazetteer's general floor (regions.yaml town_population_by_country) is taken when the
    # item names its state, and not when it does not
    small = [e for e in tagger.gazetteer.entries.values() if e.needs_ancestor and e.country_code == "US"]
    assert small, "no small towns in the gazetteer"
    town = next(e for e in small if " " not in e.name and e.name.isalpha() and
                tagger.gazetteer.entries[e.ancestors[0]].name.isalpha())
    state = tagger.gazetteer.entries[town.ancestors[0]].name
    with_state = _tags(tagger, f"Firefighters were called to a house in {town.name}, {state}, on Sunday.")
    assert "region:" + town.id in with_state, (town.name, state, with_state)
    assert "region:" + town.id not in _tags(tagger, f"Firefighters were called to a house in {town.name} on Sunday.")


def test_english_name_of_a_pycountry_subdivision(tagger: Tagger) -> None:
    # pycountry names it Bayern; its English locale gives Bavaria
    tags = _tags(tagger, "Farmers in Bavaria reported a poor harvest, officials in Germany said.")
    assert "region:de-by" in tags, tags


def test_first_level_subdivisions_from_pycountry(tagger: Tagger) -> None:
    # a province of a country the curated YAML does not cover is found (its local type word dropped: "Hubei
    # Sheng" -> Hubei) and counts for its country; generic names ("Centre", "Western") are not entries
    tags = _tags(tagger, "Farmers in Hubei reported a poor harvest, officials in China said.")
    assert "region:cn-hb" in tags, tags
    assert tagger.gazetteer.entries["cn-hb"].name == "Hubei" and tagger.gazetteer.entries["cn-hb"].ancestors == ["cn"]
    names = {e.name for e in tagger.gazetteer.entries.values() if e.kind == "province"}
    assert not names & {"Centre", "Western", "Central", "Nord"}, names & {"Centre", "Western", "Central", "Nord"}
    # a subdivision named like a city leaves the name to the city
    assert _tags(tagger, "Traffic in Osaka slowed after the storm.") != [] and \
        "region:jp-27" not in _tags(tagger, "Traffic in Osaka slowed after the storm.")
