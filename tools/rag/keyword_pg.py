"""Keyword search in PostgreSQL collections: lexemes split the way FTS5's unicode61 splits, bm25 in SQL.

PostgreSQL's own parser (to_tsvector, even with the 'simple' configuration, which does lowercase
and does not stem) keeps `os.path.join`, `3.14` or `x.org/a` as single tokens and reads `-42` as a
signed number, so a search for `join` or `42` would miss chunks that the embedded store (FTS5,
unicode61: runs of letters and digits, lowercased, diacritics removed) finds. Here both chunk text
and search terms are split in Python by that rule, and the database gets ready lexemes: a
tsvector literal per chunk, a tsquery literal per search. Lexemes hold letters and digits only,
so no quote or operator can reach the query syntax; they are quoted anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["keyword_hits", "keyword_query", "tsvector", "words"]

# FTS5's bm25 (k1 = 1.2, b = 0.75; an idf at or below 0 counts 1e-6), over the chunks that match.
# Document frequencies come from those matching rows: exact for single-word terms, which is what
# the search tools send (a term of several words is a phrase; its words' frequencies count only
# the chunks holding the phrase).
_BM25 = """
WITH q (lexeme, times) AS (SELECT * FROM unnest(%(lexemes)s::text[], %(times)s::int[])),
hit AS (
    SELECT id, words, terms FROM genai_mcp_rag_chunks
    WHERE collection = %(name)s AND terms @@ %(query)s::tsquery
),
tf AS (
    SELECT hit.id, hit.words, t.lexeme, cardinality(t.positions) AS f
    FROM hit, unnest(hit.terms) AS t (lexeme, positions, weights)
    WHERE t.lexeme = ANY(%(lexemes)s::text[])
),
df AS (SELECT lexeme, count(*) AS n FROM tf GROUP BY lexeme)
SELECT tf.id, sum(
    q.times * greatest(ln((c.chunks - df.n + 0.5)::float8 / (df.n + 0.5)), 1e-6)
    * tf.f * 2.2 / (tf.f + 1.2 * (0.25 + 0.75 * tf.words / greatest(c.words::float8 / c.chunks, 1)))
) AS score
FROM tf JOIN df USING (lexeme) JOIN q USING (lexeme) JOIN genai_mcp_rag_collections c ON c.name = %(name)s
GROUP BY tf.id ORDER BY score DESC, tf.id LIMIT %(k)s
"""

_WORD = re.compile(r"[^\W_]+")  # letters and digits: FTS5 unicode61's token characters (L*, N*)
_MAX_LEXEME_BYTES = 2046  # PostgreSQL refuses longer lexemes
_MAX_POSITION = 16383  # tsvector positions stop here
_MAX_POSITIONS = 256  # positions kept per lexeme (PostgreSQL's limit); bm25's tf counts these


def words(text: str) -> list[str]:
    """The text's words in order: lowercased, diacritics removed, split at anything else."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return _WORD.findall("".join(c for c in decomposed if not unicodedata.combining(c)))


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector(found: list[str]) -> str:
    """A tsvector literal of `found` (words() of one chunk) with each word's positions."""
    positions: dict[str, list[int]] = {}
    for at, word in enumerate(found, 1):
        if len(word.encode()) > _MAX_LEXEME_BYTES:
            continue
        kept = positions.setdefault(word, [])
        at = min(at, _MAX_POSITION)
        if len(kept) < _MAX_POSITIONS and (not kept or kept[-1] != at):
            kept.append(at)
    return " ".join(f"{_quoted(w)}:{','.join(map(str, ps))}" for w, ps in positions.items())


def keyword_query(terms: list[str]) -> tuple[str, Counter[str]]:
    """A tsquery literal matching any of `terms` (a term of several words, such as `a_b`, is a
    phrase), and each lexeme with the number of times the terms name it (bm25 counts repeats)."""
    alternatives: list[str] = []
    lexemes: Counter[str] = Counter()
    for term in terms:
        found = [w for w in words(term) if len(w.encode()) <= _MAX_LEXEME_BYTES]
        if found:
            alternatives.append(" <-> ".join(_quoted(w) for w in found))
            lexemes.update(found)
    return " | ".join(dict.fromkeys(alternatives)), lexemes


def keyword_hits(db: psycopg.Connection[Any], name: str, terms: list[str], k: int) -> list[tuple[int, float]]:
    """(chunk id, bm25) of collection `name`, best first, at most k; any of `terms` may match."""
    query, lexemes = keyword_query(terms)
    if not lexemes:
        return []
    params = {"name": name, "query": query, "k": k, "lexemes": list(lexemes), "times": list(lexemes.values())}
    return [(int(r[0]), float(r[1])) for r in db.execute(_BM25, params).fetchall()]
