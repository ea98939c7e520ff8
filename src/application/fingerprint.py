"""The cache key of a parse: the normalized text under one prompt, schema and model."""

from __future__ import annotations

import hashlib
import unicodedata


def normalize_text(text: str) -> str:
    """Reposts differ in spacing and Unicode form more than in words."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def parse_fingerprint(parser_fingerprint: str, text: str) -> str:
    digest = hashlib.sha256()
    digest.update(parser_fingerprint.encode())
    digest.update(b"\0")
    digest.update(normalize_text(text).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
