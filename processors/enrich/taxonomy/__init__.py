"""Bundled taxonomy data (YAML): regions, communities, topics; read by processors.enrich.tagging."""
from pathlib import Path

TAXONOMY_DIR = Path(__file__).resolve().parent
