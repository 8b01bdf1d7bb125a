"""Bundled taxonomy data (YAML: places, communities, topics, tagger weights; eval/ gold maps), read by enrich."""
from pathlib import Path

TAXONOMY_DIR = Path(__file__).resolve().parent
