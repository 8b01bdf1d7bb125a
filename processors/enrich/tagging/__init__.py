"""Region / community / topic tagging: consumes NewsItems, produces TagResults (see tagger.py)."""
from processors.enrich.tagging.tagger import TagResult, Tagger, load_spacy_model

__all__ = ["Tagger", "TagResult", "load_spacy_model"]
