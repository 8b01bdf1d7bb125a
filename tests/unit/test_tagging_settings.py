"""Tagger settings from tagging.yaml: the bundled file loads; a missing, unknown or mistyped key names itself."""
from __future__ import annotations

import copy

import pytest
import yaml

from processors.enrich.tagging.settings import TaggerSettings
from processors.enrich.taxonomy import TAXONOMY_DIR


@pytest.fixture(scope="module")
def bundled() -> dict:
    return yaml.safe_load((TAXONOMY_DIR / "tagging.yaml").read_text(encoding="utf-8"))


def test_bundled_settings_load(bundled: dict) -> None:
    s = TaggerSettings.from_dict(bundled)
    assert s.salience.alias_weight["demonym"] == 0.5
    assert s.region_confidence.base["city"] == 0.75
    assert "on" in s.traps.not_modifying_next and "ru" in s.cyrillic_languages
    assert s.alias_type_order[0] == "name" and isinstance(s.salience.lead_chars, int)


def test_missing_key_is_named(bundled: dict) -> None:
    data = copy.deepcopy(bundled)
    del data["salience"]["about_min"]
    with pytest.raises(ValueError, match=r"tagging.yaml: salience: missing key about_min"):
        TaggerSettings.from_dict(data)


def test_unknown_key_is_named(bundled: dict) -> None:
    data = copy.deepcopy(bundled)
    data["traps"]["quantity_wrds"] = ["mln"]
    with pytest.raises(ValueError, match=r"traps: unknown key\(s\) quantity_wrds"):
        TaggerSettings.from_dict(data)


def test_yaml_boolean_in_a_word_list_is_refused(bundled: dict) -> None:
    data = copy.deepcopy(bundled)
    data["traps"]["not_modifying_next"] = yaml.safe_load("[and, on]")     # YAML reads an unquoted on as True
    with pytest.raises(ValueError, match=r"not_modifying_next: expected a list of strings"):
        TaggerSettings.from_dict(data)


def test_number_expected(bundled: dict) -> None:
    data = copy.deepcopy(bundled)
    data["salience"]["title"] = "2.0"
    with pytest.raises(ValueError, match=r"salience: title: expected a number"):
        TaggerSettings.from_dict(data)
