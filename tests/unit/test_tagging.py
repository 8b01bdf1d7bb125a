"""Tagger behaviour on hand-written fixtures: the founding example (EN + RU), traps, inflections, schema."""
from __future__ import annotations

from typing import List

import pytest

from processors.enrich.tagging import TagResult, Tagger
from streams.records import NewsItem


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.load()


def item(title: str, text: str, language: str | None = None) -> NewsItem:
    return NewsItem(title=title, text=text, published_at="2023-11-08T10:00:00Z", id="t1", language=language)


def ids(tags) -> List[str]:
    return [t.id for t in tags]


FOUNDING_EN = item(
    "Russia's Muslims rally for Gaza as Chechnya sends aid",
    "GROZNY, Nov 8 - Thousands of Muslims in Chechnya and across Russia rallied on Wednesday in solidarity with "
    "Palestinians in the Gaza Strip, as Israel pressed its military offensive in Gaza after the Hamas attack on "
    "Israel. The Chechen leader said the republic would send humanitarian aid and collect donations for civilians "
    "in Gaza. Chechens gathered outside the central mosque. Jewish community leaders in Moscow urged calm and "
    "asked the authorities to protect synagogues, while muftis appealed to believers to keep the protests "
    "peaceful. Israel's embassy in Moscow said the war would go on.",
)

FOUNDING_RU = item(
    "Мусульмане России вышли на митинги в поддержку Газы, Чечня отправит гуманитарную помощь",
    "Тысячи мусульман в Чечне и других регионах России в среду вышли на митинги солидарности с палестинцами "
    "сектора Газа, пока Израиль продолжает военную операцию в секторе Газа после нападения ХАМАС на Израиль. "
    "Глава Чечни заявил, что республика направит гуманитарную помощь мирным жителям Газы и организует сбор "
    "пожертвований. Чеченцы собрались у центральной мечети Грозного. Лидеры еврейской общины Москвы призвали "
    "к спокойствию и попросили защитить синагоги, а муфтии призвали верующих к мирным акциям. "
    "Посольство Израиля в Москве заявило, что война продолжится.",
)


@pytest.mark.parametrize("it", [FOUNDING_EN, FOUNDING_RU], ids=["en", "ru"])
def test_founding_example(tagger: Tagger, it: NewsItem) -> None:
    res = tagger.tag_batch([it])[0]
    assert isinstance(res, TagResult)
    regions = ids(res.regions)
    for rid in ("region:ru", "region:ru-ce", "region:ps-gaza", "region:il"):
        assert rid in regions, (rid, regions, ids(res.mentioned_regions))
    chechnya = next(t for t in res.regions if t.id == "region:ru-ce")
    assert chechnya.ancestors[:3] == ["region:north-caucasus-fd", "region:north-caucasus", "region:ru"]
    assert chechnya.iso_3166_2 == "RU-CE" and chechnya.country_code == "RU"
    assert chechnya.names["en"] == "Chechnya" and chechnya.names["ru"] == "Чечня"
    assert 0.0 < chechnya.confidence <= 1.0 and chechnya.evidence
    communities = ids(res.communities)
    for cid in ("community:muslims", "community:palestinians", "community:jews", "community:chechens"):
        assert cid in communities, (cid, communities)
    topics = ids(res.topics)
    for tid in ("topic:humanitarian-aid", "topic:protest", "topic:armed-conflict"):
        assert tid in topics, (tid, topics)
    assert res.taxonomy_version == tagger.taxonomy_version
    assert res.language == ("en" if it is FOUNDING_EN else "ru")


def test_evidence_offsets_point_into_their_field(tagger: Tagger) -> None:
    res = tagger.tag_batch([FOUNDING_EN])[0]
    for tag in res.regions + res.mentioned_regions + res.communities + res.topics:
        for ev in tag.evidence:
            src = FOUNDING_EN.title if ev.field == "title" else FOUNDING_EN.text
            assert ev.field in ("title", "text")
            assert src[ev.start:ev.end] == ev.text, (tag.id, ev)


def test_grozny_counts_for_chechnya_north_caucasus_and_russia(tagger: Tagger) -> None:
    res = tagger.tag_text("Rally in Grozny", "Thousands rallied in Grozny, Chechnya's capital, on Friday.", "en")
    grozny = next(t for t in res.regions + res.mentioned_regions if t.id == "region:gn-558418")
    assert grozny.kind == "city" and grozny.geonames_id == 558418 and grozny.geo
    assert grozny.ancestors[0] == "region:ru-ce"
    assert {"region:north-caucasus-fd", "region:north-caucasus", "region:ru"} <= set(grozny.ancestors)


@pytest.mark.parametrize("form", ["Чечни", "Чечне", "Чечню", "Чечнёй", "Чечня"])
def test_russian_inflections_of_chechnya(tagger: Tagger, form: str) -> None:
    res = tagger.tag_text("", f"Новости: события в {form} обсуждали в среду.", "ru")
    assert "region:ru-ce" in ids(res.regions + res.mentioned_regions), form


@pytest.mark.parametrize("form", ["мусульмане", "мусульманам", "мусульман", "мусульманами"])
def test_russian_inflections_of_muslims(tagger: Tagger, form: str) -> None:
    res = tagger.tag_text("", f"Обращение к {form} зачитали в мечети.", "ru")
    assert "community:muslims" in ids(res.communities), form


def test_russian_region_forms(tagger: Tagger) -> None:
    res = tagger.tag_text("", "В Дагестане, Татарстане и Башкортостане, а также в Московской области и Кабардино-Балкарии "
                              "прошли акции.", "ru")
    got = set(ids(res.regions + res.mentioned_regions))
    assert {"region:ru-da", "region:ru-ta", "region:ru-ba", "region:ru-mos", "region:ru-kb"} <= got


def test_trap_ivan_grozny_is_a_person(tagger: Tagger) -> None:
    res = tagger.tag_text("", "Фильм об Иване Грозном вышел в прокат. Иван Грозный правил в XVI веке.", "ru")
    assert "region:gn-558418" not in ids(res.regions + res.mentioned_regions)


def test_trap_kazan_cathedral_in_moscow(tagger: Tagger) -> None:
    res = tagger.tag_text("", "A service was held at Kazan Cathedral on Red Square in Moscow.", "en")
    got = ids(res.regions + res.mentioned_regions)
    assert "region:gn-551487" not in got      # Kazan (city)
    assert "region:gn-524901" in got          # Moscow


def test_kazan_city_still_found(tagger: Tagger) -> None:
    res = tagger.tag_text("", "Protesters gathered in Kazan, the capital of Tatarstan.", "en")
    assert "region:gn-551487" in ids(res.regions + res.mentioned_regions)


def test_trap_jordan_person_vs_country(tagger: Tagger) -> None:
    person = tagger.tag_text("", "Michael Jordan scored 40 points as the Bulls won in Chicago.", "en")
    assert "region:jo" not in ids(person.regions + person.mentioned_regions)
    country = tagger.tag_text("", "King Abdullah of Jordan met Egyptian officials in Amman to discuss refugees.", "en")
    assert "region:jo" in ids(country.regions + country.mentioned_regions)


def test_trap_georgia_country_vs_us_state(tagger: Tagger) -> None:
    us = tagger.tag_text("", "Voters in Atlanta, Georgia, lined up early as Georgia counted ballots.", "en")
    got = ids(us.regions + us.mentioned_regions)
    assert "region:us-ga" in got and "region:ge" not in got
    country = tagger.tag_text("", "Georgia accused Russia of provocations near South Ossetia; Tbilisi protested.", "en")
    got = ids(country.regions + country.mentioned_regions)
    assert "region:ge" in got and "region:us-ga" not in got


def test_trap_turkey_the_bird(tagger: Tagger) -> None:
    res = tagger.tag_text("", "Families roasted a turkey for Thanksgiving dinner.", "en")
    assert "region:tr" not in ids(res.regions + res.mentioned_regions)
    res = tagger.tag_text("", "Turkey's president spoke in Ankara about the war.", "en")
    assert "region:tr" in ids(res.regions + res.mentioned_regions)


def test_item_language_wins(tagger: Tagger) -> None:
    res = tagger.tag_batch([item("Hello", "Plain English text about Russia.", language="de")])[0]
    assert res.language == "de"


def test_about_vs_mentioned(tagger: Tagger) -> None:
    res = tagger.tag_text("Japan raises rates",
                          "TOKYO, March 3 - Japan's central bank raised rates. Analysts in Japan expected the move, "
                          "and Japanese exporters worried. Some investors compared it with Brazil.", "en")
    assert "region:jp" in ids(res.regions)
    assert "region:br" in ids(res.mentioned_regions)


def test_explain_lists_candidates_with_reasons(tagger: Tagger) -> None:
    rows = tagger.explain("Michael Jordan visited Kazan Cathedral and then Chechnya.", language="en")
    by_text = {r["text"]: r for r in rows if r["dimension"] == "region"}
    assert by_text["Jordan"]["decision"] == "rejected" and "person" in by_text["Jordan"]["why"]
    assert by_text["Kazan"]["decision"] == "rejected" and "building" in by_text["Kazan"]["why"]
    assert by_text["Chechnya"]["id"] == "region:ru-ce" and by_text["Chechnya"]["decision"] in ("about", "mentioned")


def test_other_language_by_gazetteer(tagger: Tagger) -> None:
    res = tagger.tag_text("", "Des milliers de manifestants à Paris ont soutenu Gaza et Israël.", "fr")
    assert res.language == "fr"
    assert "region:ps-gaza" in ids(res.regions + res.mentioned_regions)


def test_taxonomy_dir_override(tmp_path, tagger: Tagger) -> None:
    import shutil
    from processors.enrich.taxonomy import TAXONOMY_DIR
    d = tmp_path / "tax"
    shutil.copytree(TAXONOMY_DIR, d)
    (d / "manifest.yaml").write_text((d / "manifest.yaml").read_text().replace('version: "', 'version: "custom-'))
    with open(d / "topics.yaml", "a", encoding="utf-8") as fh:
        fh.write("\nbeekeeping:\n  en: Beekeeping\n  ru: Пчеловодство\n  patterns_en: ['beekeep\\w*', 'honey bees?']\n"
                 "  patterns_ru: [пчеловод, пчеловодство]\n")
    t2 = Tagger(tagger.nlp_en, __import__("processors.enrich.tagging.gazetteer", fromlist=["Taxonomy"]).Taxonomy.load(d),
                detector=tagger.detector)
    res = t2.tag_text("", "Beekeeping cooperatives in Bashkortostan sold record honey.", "en")
    assert res.taxonomy_version.startswith("custom-")
    assert "topic:beekeeping" in ids(res.topics)
    res = t2.tag_text("", "Пчеловоды Башкирии собрали рекордный урожай.", "ru")
    assert "topic:beekeeping" in ids(res.topics)
    assert "region:ru-ba" in ids(res.regions + res.mentioned_regions)


def countries(res: TagResult) -> List[str]:
    return sorted({t.country_code.lower() for t in res.regions if t.country_code})


@pytest.mark.parametrize("dateline,cc", [
    ("PEKING", "cn"), ("BOMBAY", "in"), ("BASLE", "ch"), ("COLOGNE", "de"),        # English exonyms
    ("FRANKFURT", "de"),                                                         # Frankfurt am Main
    ("DUESSELDORF", "de"),                                                       # umlaut transliterated
    ("ST. LOUIS", "us"), ("ST LOUIS", "us"), ("FT. LAUDERDALE", "us"),           # St./Ft. in capitals
])
def test_city_spellings_in_wire_datelines(tagger: Tagger, dateline: str, cc: str) -> None:
    res = tagger.tag_text("", f"{dateline}, March 3 - The company said profits rose in the first quarter.", "en")
    assert countries(res) == [cc], (dateline, ids(res.regions))


@pytest.mark.parametrize("dateline,region", [
    ("EXCELSIOR, Minn, March 6 -", "region:us-mn"),          # AP abbreviation without its period
    ("GREENWICH, CONN., APRIL 3 -", "region:us-ct"),         # capitals, month in capitals
    ("NORTH DIGHTON, MA., March 27 -", "region:us-ma"),      # postal code
    ("VALLEY FORGE, PA, March 19 -", "region:us-pa"),        # postal code, not the town Pa
    ("SPRINGFIELD, Ill. (AP) -", "region:us-il"),            # agency credit instead of a date
])
def test_dateline_region_forms(tagger: Tagger, dateline: str, region: str) -> None:
    res = tagger.tag_text("", f"{dateline} The company said it expects a loss for the quarter.", "en")
    assert region in ids(res.regions), (dateline, ids(res.regions))
    assert countries(res) == ["us"], (dateline, ids(res.regions))


def test_dateline_city_must_lie_in_its_region(tagger: Tagger) -> None:
    # the only "Ripley"/"Greenwich" the gazetteer knows are English towns: the dateline says otherwise
    for text in ("RIPLEY, W. Va., March 19 - Quarterly dividend three cents.",
                 "GREENWICH, Conn., April 3 - Iroquois Brands said it was sued."):
        res = tagger.tag_text("", text, "en")
        assert countries(res) == ["us"], (text, ids(res.regions), ids(res.mentioned_regions))
    res = tagger.tag_text("", "WINDSOR, Conn., March 24 - Stanadyne said it ended talks.", "en")
    assert "region:us-ct" in ids(res.regions) and "ca" not in countries(res)


def test_standalone_dateline_city_is_the_prominent_namesake(tagger: Tagger) -> None:
    # other countries in the story (a Canadian-dollar bond, a U.S. proposal) do not move a bare dateline
    res = tagger.tag_text("", "LONDON, March 3 - Scotia Mortgage is issuing a 100 mln Canadian dlr eurobond, "
                              "Canadian bankers said.", "en")
    assert "region:gn-2643743" in ids(res.regions)           # London, England
    res = tagger.tag_text("", "GENEVA, March 3 - Copper producers are considering a U.S. proposal, U.S. and "
                              "Chilean delegates said.", "en")
    assert "region:gn-2660646" in ids(res.regions)           # Geneva, Switzerland
    # ... but a dateline that names its region still wins
    res = tagger.tag_text("", "LONDON, Ontario, March 2 - The company said profits rose.", "en")
    assert "ca" in countries(res) and "gb" not in countries(res)


def test_currency_of_an_amount_is_not_what_the_item_is_about(tagger: Tagger) -> None:
    res = tagger.tag_text("BANK ISSUES 40 MLN AUSTRALIAN DLR EUROBOND",
                          "FRANKFURT, March 19 - A German bank is issuing a 40 mln Australian dlr eurobond and "
                          "300 mln Danish crowns of notes, the lead manager said.", "en")
    assert countries(res) == ["de"], ids(res.regions)
    assert {"region:au", "region:dk"} <= set(ids(res.mentioned_regions))
    # the currency's own market is about its country
    res = tagger.tag_text("Saudi riyal deposit rates ease", "Saudi riyal interbank deposit rates eased.", "en")
    assert "sa" in countries(res)


def test_nz_abbreviation(tagger: Tagger) -> None:
    res = tagger.tag_text("N.Z. WEEKLY T-BILL TENDER", "WELLINGTON, April 6 - The N.Z. Reserve Bank said it "
                                                       "will offer bills at its weekly tender.", "en")
    assert countries(res) == ["nz"], ids(res.regions)


def test_city_inside_a_company_name_is_not_what_the_item_is_about(tagger: Tagger) -> None:
    res = tagger.tag_text("", "LONDON, March 12 - Toyota Motor Credit Corp is issuing a 23 billion yen eurobond, "
                              "the lead manager said. Toyota said the proceeds would refinance debt in Japan.", "en")
    assert "region:gn-1849814" not in ids(res.regions)       # Toyota (city)
    res = tagger.tag_text("", "VANCOUVER, March 20 - Houston Metals Corp said drilling would begin.", "en")
    assert countries(res) == ["ca"], ids(res.regions)
    # a city's own local companies do not hide the city
    res = tagger.tag_text("", "Drivers of the Springfield Bus Co. in Springfield, Ohio, said the route would end.", "en")
    assert "region:us-oh" in ids(res.regions + res.mentioned_regions)
    assert any(t.kind == "city" and t.country_code == "US" for t in res.regions + res.mentioned_regions)


@pytest.mark.parametrize("text,macro", [
    ("Latin American debtor nations met creditor banks.", "region:latin-america"),
    ("South American fish meal producers raised output.", "region:south-america"),
    ("Exports to Southeast Asia and the Far East rose.", "region:southeast-asia"),
    ("Coffee growers in Central America expect rain.", "region:central-america"),
])
def test_world_regions_are_not_america(tagger: Tagger, text: str, macro: str) -> None:
    res = tagger.tag_text("", text, "en")
    got = ids(res.regions + res.mentioned_regions)
    assert macro in got and "region:us" not in got, got


def test_latin_america_in_russian_is_not_the_us(tagger: Tagger) -> None:
    res = tagger.tag_text("", "Страны Латинской Америки обсудили долги.", "ru")
    got = ids(res.regions + res.mentioned_regions)
    assert "region:latin-america" in got and "region:us" not in got, got


def test_agreement_named_after_a_city_is_not_about_the_city(tagger: Tagger) -> None:
    res = tagger.tag_text("", "WASHINGTON, March 25 - The Treasury secretary said he stood by the Paris accord "
                              "among industrial nations. The Paris agreement and the Paris Club talks on debt "
                              "were discussed by U.S. officials.", "en")
    assert "fr" not in countries(res), ids(res.regions)
    assert "us" in countries(res)


def test_common_word_written_in_lower_case_elsewhere_is_not_a_town(tagger: Tagger) -> None:
    res = tagger.tag_text("COCOA FUTURES FALL", "LONDON, April 3 - Cocoa futures fell to session lows as "
                                                "cocoa traders in the U.S. sold.", "en")
    assert "region:gn-4151440" not in ids(res.regions + res.mentioned_regions)    # Cocoa, Florida


def test_acronym_in_mixed_case_text_is_not_a_town(tagger: Tagger) -> None:
    res = tagger.tag_text("", "LONDON, March 31 - Coffee producers in Brazil met ahead of the ICO council, "
                              "ICO delegates said.", "en")
    assert not any(t.kind == "city" and t.country_code == "BR" for t in res.regions + res.mentioned_regions)


def test_korea_alone_is_south_korea(tagger: Tagger) -> None:
    # "Korea" is the head of both ISO names (Korea, Republic of / Korea, Democratic People's Republic of);
    # only the curated alias makes it South Korea, whatever neighbours the item names
    res = tagger.tag_text("", "The U.S. trade deficit with Taiwan and Korea widened, South Korean officials said.", "en")
    got = ids(res.regions + res.mentioned_regions)
    assert "region:kr" in got and "region:kp" not in got, got


def test_new_england_and_english(tagger: Tagger) -> None:
    res = tagger.tag_text("", "NEW YORK, March 18 - New England Electric System expects higher spending.", "en")
    assert countries(res) == ["us"], ids(res.regions)
    res = tagger.tag_text("", "WASHINGTON, March 2 - The agency wants filings written in plain English, officials said.",
                          "en")
    assert "gb" not in countries(res), ids(res.regions)


def test_city_name_right_before_a_legal_form_is_a_company(tagger: Tagger) -> None:
    res = tagger.tag_text("NIPPON COLUMBIA SETS BONUS ISSUE", "TOKYO, March 31 - Nippon Columbia Co Ltd will make a "
                                                               "bonus stock issue, Columbia said.", "en")
    assert countries(res) == ["jp"], ids(res.regions)


def test_central_bank_is_not_a_town(tagger: Tagger) -> None:
    res = tagger.tag_text("ARGENTINE DEBT TALKS DIFFICULT - CENTRAL BANK",
                          "BUENOS AIRES, March 13 - Central Bank President said talks with U.S. banks were hard.", "en")
    assert not any(t.kind == "city" and t.country_code == "US" for t in res.regions + res.mentioned_regions)


def test_dateline_region_without_comma_before_the_date(tagger: Tagger) -> None:
    res = tagger.tag_text("", "LAKE SUCCESS, N.Y. March 3 - Tender Loving Care said it extended the merger.", "en")
    assert "region:us-ny" in ids(res.regions)


def test_town_the_dateline_puts_elsewhere_stays_elsewhere(tagger: Tagger) -> None:
    res = tagger.tag_text("", "LONDON, Ky. (WKYT) - London Police have arrested two people on theft charges.", "en")
    assert countries(res) == ["us"], (ids(res.regions), ids(res.mentioned_regions))
    assert "gb" not in {t.country_code.lower() for t in res.mentioned_regions if t.country_code}


def test_acronym_in_an_all_caps_title_follows_the_body(tagger: Tagger) -> None:
    res = tagger.tag_text("ICO MEETING ENDS WITHOUT ACCORD",
                          "LONDON, March 2 - A meeting of the International Coffee Organization (ICO) ended, "
                          "ICO delegates said.", "en")
    assert not any(t.kind == "city" and t.country_code == "BR" for t in res.regions + res.mentioned_regions)


def test_australian_states(tagger: Tagger) -> None:
    res = tagger.tag_text("", "Farmers in New South Wales and Queensland expect a record wheat crop.", "en")
    got = ids(res.regions + res.mentioned_regions)
    assert {"region:au-nsw", "region:au-qld"} <= set(got) and "region:gb-wls" not in got, got
    assert countries(res) == ["au"]


def test_all_caps_title_words_are_not_towns_without_the_body(tagger: Tagger) -> None:
    ner_before = tagger.ner_docs
    res = tagger.tag_text("ANALYSTS SAY DOLLAR TO FALL, MINE OUTPUT TO RISE",
                          "NEW YORK, March 3 - Analysts said the dollar would fall and mine output rise.", "en")
    assert countries(res) == ["us"], (ids(res.regions), ids(res.mentioned_regions))
    assert not any(t.kind == "city" and t.country_code != "US" for t in res.regions + res.mentioned_regions)
    assert tagger.ner_docs == ner_before      # decided without a statistical NER pass
    # a town the body names is still the town in the title
    res = tagger.tag_text("GRAIN SHIPMENTS FROM DULUTH RISE", "CHICAGO, March 3 - Shipments from Duluth, "
                                                                "Minnesota, rose last week.", "en")
    assert any(t.name == "Duluth" for t in res.regions + res.mentioned_regions)
