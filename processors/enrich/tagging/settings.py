"""Tagger settings: consumes the taxonomy's tagging.yaml (a dict), produces typed weights and word lists."""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Mapping, Tuple, Type, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Salience:
    """Weights of a mention towards what the item is about (see tagging.yaml `salience`)."""

    alias_weight: Dict[str, float]
    default_weight: float
    title: float
    dateline: float
    lead: float
    lead_chars: int
    ancestor_share: float
    about_min: float
    about_rel: float


@dataclass(frozen=True)
class RegionConfidence:
    """Confidence of a region tag: base by alias type plus adjustments (see tagging.yaml `region_confidence`)."""

    base: Dict[str, float]
    default_base: float
    ner_agrees: float
    context_only_ambiguous: float
    context_only: float
    per_extra_mention: float
    extra_mentions_max: float
    in_title: float
    mentioned_factor: float
    min: float
    max: float


@dataclass(frozen=True)
class RuleConfidence:
    """Confidence of a community/topic tag from its weighted hits (see tagging.yaml `rule_confidence`)."""

    title_weight: float
    rate: float
    min: float
    max: float


@dataclass(frozen=True)
class Resolution:
    """Support weights for choosing between readings of a name (see tagging.yaml `resolution`)."""

    same_country: float
    city_same_country: float
    city_same_country_max: float
    city_named_ancestor: float
    city_adjacent_country: float
    dateline_city_country: float
    open_ancestor: float
    place_prepositions_ru: FrozenSet[str]
    settlement_nouns_ru: FrozenSet[str]
    person_titles_en: FrozenSet[str]
    speech_verbs_en: FrozenSet[str]
    place_nouns_en: FrozenSet[str]
    ask_ner_min_population: int
    district_radius_km: float
    district_population_ratio: float
    district_city_population: int
    city_near_named_km: float
    city_near_named: float


@dataclass(frozen=True)
class Traps:
    """Word lists around a candidate that make it no place, or a place without weight."""

    quantity_words: FrozenSet[str]
    not_modifying_next: FrozenSet[str]
    language_words_en: FrozenSet[str]
    language_lemmas_ru: FrozenSet[str]
    region_nouns_ru: FrozenSet[str]
    adjective_regions_ru: FrozenSet[str]
    water_nouns_ru: FrozenSet[str]
    currency_lemmas_ru: FrozenSet[str]
    prepositions_ru: FrozenSet[str]


@dataclass(frozen=True)
class TaggerSettings:
    """Everything tunable in the tagger that is not a gazetteer name list."""

    cyrillic_languages: FrozenSet[str]
    max_evidence: int
    alias_type_order: Tuple[str, ...]
    salience: Salience
    region_confidence: RegionConfidence
    rule_confidence: RuleConfidence
    resolution: Resolution
    traps: Traps

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "tagging.yaml") -> "TaggerSettings":
        """Typed settings; a missing, unknown or mistyped key is a ValueError naming the file and the key."""
        return _build(cls, data, where)


def _strings(value: Any, where: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings (quote words YAML reads otherwise, such as 'on')")
    return tuple(value)


def _weights(value: Any, where: str) -> Dict[str, float]:
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise ValueError(f"{where}: expected a mapping of names to numbers")
    return {str(k): float(v) for k, v in value.items()}


def _number(kind: Callable[[Any], Any]) -> Callable[[Any, str], Any]:
    def convert(value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return kind(value)
    return convert


_CONVERTERS: Dict[Any, Callable[[Any, str], Any]] = {
    float: _number(float), int: _number(int), Dict[str, float]: _weights,
    FrozenSet[str]: lambda v, w: frozenset(_strings(v, w)), Tuple[str, ...]: _strings,
}


def _build(cls: Type[T], data: Any, where: str) -> T:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    values: Dict[str, Any] = {}
    for name in names:
        if name not in data:
            raise ValueError(f"{where}: missing key {name}")
        hint, key = hints[name], f"{where}: {name}"
        values[name] = _build(hint, data[name], key) if dataclasses.is_dataclass(hint) else \
            _CONVERTERS[hint](data[name], key)
    return cls(**values)
