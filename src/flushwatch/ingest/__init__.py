"""Importers: read the files users already have into normalized record frames."""

from flushwatch.ingest.base import Format, Hints, Parsed
from flushwatch.ingest.registry import all_formats, detect, format_names, parse

__all__ = ["Format", "Hints", "Parsed", "all_formats", "detect", "format_names", "parse"]
