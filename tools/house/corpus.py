"""The Python-documentation corpus the house GPT-2 learns from, read from its committed snapshot.

The snapshot (`scripts/data/pydocs-corpus.txt.gz` in the repository, written by
`scripts/build_pydocs_corpus.py`) is gzip-compressed UTF-8 text: one document per record, records
separated by `RECORD_SEPARATOR`. A document is one `pydoc_data.topics` entry or one
standard-library docstring, with its whitespace normalized.

The train/validation split is a function of each document's text alone (a seeded hash), so it
does not move when documents are added or removed elsewhere, and training, evaluation and tests
all see the same held-out part. Standard library only: importing this module is cheap.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "RECORD_SEPARATOR",
    "SNAPSHOT_PATH",
    "SPLIT_SEED",
    "VALIDATION_FRACTION",
    "is_validation",
    "load_corpus",
    "split_corpus",
]

# ASCII "record separator" plus a newline: the builder strips control characters from documents,
# so this never occurs inside one, and the snapshot still reads as text in a pager.
RECORD_SEPARATOR = "\x1e\n"

# tools/house/corpus.py -> repository root; the snapshot is a repository file, not package data
# (package data is kept to weights), so it exists in a checkout or an editable install only.
SNAPSHOT_PATH = Path(__file__).resolve().parents[2] / "scripts" / "data" / "pydocs-corpus.txt.gz"

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.05


def load_corpus(path: str | Path | None = None) -> list[str]:
    """The snapshot's documents, in file order (non-empty strings).

    `path` defaults to `SNAPSHOT_PATH`; FileNotFoundError names the path if it is missing (e.g. in
    a non-editable install, which ships weights but not training data).
    """
    p = Path(path) if path is not None else SNAPSHOT_PATH
    if not p.is_file():
        raise FileNotFoundError(
            f"corpus snapshot not found at {p}; it lives in the repository under scripts/data/ "
            "(rebuild it with scripts/build_pydocs_corpus.py)"
        )
    with gzip.open(p, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    return [doc for doc in text.split(RECORD_SEPARATOR) if doc]


def is_validation(doc: str, *, seed: int = SPLIT_SEED, fraction: float = VALIDATION_FRACTION) -> bool:
    """Whether `doc` belongs to the held-out validation part.

    A document's SHA-256 (salted with `seed`) read as a number in [0, 1) picks its side: about
    `fraction` of documents are held out, the same ones on every machine and Python version.
    """
    digest = hashlib.sha256(f"{seed}\x00{doc}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_corpus(
    docs: Sequence[str], *, seed: int = SPLIT_SEED, fraction: float = VALIDATION_FRACTION
) -> tuple[list[str], list[str]]:
    """`(train, validation)` documents, each in the order given; see `is_validation`."""
    train: list[str] = []
    val: list[str] = []
    for doc in docs:
        (val if is_validation(doc, seed=seed, fraction=fraction) else train).append(doc)
    return train, val
