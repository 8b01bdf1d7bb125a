"""Russian-name selection and romanisation variants (pure functions of processors/enrich/tagging/translit.py)."""
from __future__ import annotations

from processors.enrich.tagging.translit import (is_russian_spelling, romanisation_variants, russian_names,
                                                similarity, skeleton)


def test_romanisation_systems_fold_to_one_skeleton() -> None:
    for a, b in (("Naberezhnye Chelny", "Naberezhnyye Chelny"), ("Almetyevsk", "Al'met'yevsk"),
                 ("Yessentuki", "Essentuki"), ("Tolyatti", "Tol'yatti"), ("Ессентуки", "Yessentuki")):
        assert skeleton(a) == skeleton(b), (a, b)
    assert similarity("Самара", "Samara") == 1.0
    assert similarity("Самара", "Saratov") < 0.8


def test_only_the_russian_alphabet_counts() -> None:
    assert is_russian_spelling("Набережные Челны")
    for other in ("МахІачхъала", "Чалябінск", "Силәбе", "Перĕм", "Магнитогорск ош".replace("ош", "ӧш")):
        assert not is_russian_spelling(other), other


def test_russian_name_is_picked_among_other_languages_alternates() -> None:
    # alphabetical GeoNames alternates: Avar, Ukrainian, Chuvash forms come before the Russian one
    alternates = ["Анжи", "ГIянжи-Къала", "Магьачкъала", "МахIачхъала", "МахІачхъала", "Махачкала", "Махачқала"]
    names = russian_names(alternates, ["Makhachkala"], 0.8, 3)
    assert names[0] == "Махачкала" and "Анжи" not in names
    # a former name of another city (Ставрополь for Tolyatti) is no Russian name of this one
    assert russian_names(["Ставрополь", "Тольятти", "Тальяці"], ["Tolyatti"], 0.8, 3) == ["Тольятти"]
    assert russian_names(["Белая", "Белка", "Гудермес"], ["Gudermes"], 0.8, 3) == ["Гудермес"]


def test_news_spellings_of_bgn_names() -> None:
    assert "Almetyevsk" in romanisation_variants("Al'met'yevsk")
    assert "Naberezhnye Chelny" in romanisation_variants("Naberezhnyye Chelny")
    assert "Essentuki" in romanisation_variants("Yessentuki")
    assert romanisation_variants("Moscow") == []


def test_city_adjectives_only_from_the_dictionary() -> None:
    import pymorphy3

    from processors.enrich.tagging.translit import city_adjectives

    morph = pymorphy3.MorphAnalyzer()
    assert city_adjectives(morph, "Лондон") == ["лондонский"]
    assert city_adjectives(morph, "Москва") == ["московский"]
    assert "уфимский" in city_adjectives(morph, "Уфа") and "тульский" in city_adjectives(morph, "Тула")
    assert city_adjectives(morph, "Курск") == ["курский"]
    assert city_adjectives(morph, "Пушкин") == []          # also a surname: "пушкинский" is the poet's
    assert city_adjectives(morph, "Набережные Челны") == []


def test_town_adjectives_that_are_ordinary_words_are_left_out() -> None:
    import pymorphy3

    from processors.enrich.tagging.translit import city_adjectives
    morph = pymorphy3.MorphAnalyzer()
    # a town's adjective names it when pymorphy3 knows it and it is no other noun's: брянский, керченский
    assert city_adjectives(morph, "Брянск", checked=True) == ["брянский"]
    assert city_adjectives(morph, "Керчь", checked=True) == ["керченский"]
    # братский is брат's, советский совет's, крымский Крым's: no adjective of Bratsk, Sovetsk, Krymsk
    for town in ("Братск", "Советск", "Крымск"):
        assert city_adjectives(morph, town, checked=True) == [], town
    # unchecked (large cities): омский is Omsk's although ом is a word
    assert city_adjectives(morph, "Омск") == ["омский"]
