"""Keyword search in PostgreSQL collections: lexemes split the way FTS5's unicode61 splits, bm25 in SQL.

PostgreSQL's own parser (to_tsvector, even with the 'simple' configuration, which does lowercase
and does not stem) keeps `os.path.join`, `3.14` or `x.org/a` as single tokens and reads `-42` as a
signed number, so a search for `join` or `42` would miss chunks that the embedded store (FTS5,
unicode61: runs of letters and digits, lowercased, diacritics removed) finds. Here both chunk text
and search terms are split in Python by that rule, and the database gets ready lexemes: a
tsvector literal per chunk (GIN-indexed), a tsquery literal per search. Lexemes hold letters and
digits only, so no quote or operator can reach the query syntax; they are quoted anyway.

Ranking is FTS5's bm25, not ts_rank: on the labelled set (tests/data/rag_eval.json, 280 chunks)
keyword recall@5 was 0.941 with FTS5 and with this bm25, 0.838 with ts_rank (normalization 0, 1
or 32) and 0.691-0.721 with ts_rank_cd; neither knows how rare a word is. bm25 needs each query
word's frequency in each chunk and the number of chunks holding it, so each chunk's lexemes are
also kept as postings (collection, lexeme, chunk, count), read by an index-only range scan per
query word: 11 ms for a query against 10k chunks where unnesting the matching tsvectors took 40.
The tsvector decides the matches where postings cannot: a term of several words (`a_b`) is a
phrase, `'a' <-> 'b'`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["ChunkTerms", "chunk_terms", "keyword_hits", "keyword_query", "words"]

# FTS5's bm25 (k1 = 1.2, b = 0.75; an idf at or below 0 counts 1e-6; a word named twice counts
# twice); {matches}: nothing, or a filter to the chunks that match a phrase.
_BM25 = """
WITH q (lexeme, times) AS (SELECT * FROM unnest(%(lexemes)s::text[], %(times)s::int[])),
p AS (
    SELECT lexeme, chunk_id, tf, words FROM genai_mcp_rag_postings
    WHERE collection = %(name)s AND lexeme = ANY(%(lexemes)s::text[])
),
df AS (SELECT lexeme, count(*) AS n FROM p GROUP BY lexeme),
w AS (  -- per query word: its idf (times it is named), and the mean chunk length
    SELECT df.lexeme, q.times * greatest(ln((c.chunks - df.n + 0.5)::float8 / (df.n + 0.5)), 1e-6) AS idf,
        greatest(c.words::float8 / c.chunks, 1) AS mean_words
    FROM df JOIN q USING (lexeme) JOIN genai_mcp_rag_collections c ON c.name = %(name)s
)
SELECT p.chunk_id, sum(w.idf * p.tf * 2.2 / (p.tf + 1.2 * (0.25 + 0.75 * p.words / w.mean_words))) AS score
FROM p JOIN w USING (lexeme)
{matches}
GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT %(k)s
"""
_PHRASE_MATCHES = """WHERE p.chunk_id IN (
    SELECT id FROM genai_mcp_rag_chunks WHERE collection = %(name)s AND terms @@ %(query)s::tsquery
)"""

_WORD = re.compile(r"[^\W_]+")  # letters and digits: FTS5 unicode61's token characters (L*, N*)
_MAX_LEXEME_BYTES = 2046  # PostgreSQL refuses longer lexemes
_MAX_POSITION = 16383  # tsvector positions stop here
_MAX_POSITIONS = 256  # positions kept per lexeme (PostgreSQL's limit; the postings count them all)


def words(text: str) -> list[str]:
    """The text's words in order: lowercased, diacritics removed, split at anything else."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return _WORD.findall("".join(c for c in decomposed if not unicodedata.combining(c)))


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class ChunkTerms:
    words: int  # bm25's length of the chunk
    tsvector: str  # a tsvector literal: each lexeme with its positions
    postings: dict[str, int]  # lexeme -> times it occurs


def chunk_terms(text: str) -> ChunkTerms:
    """What the database keeps of a chunk's text for keyword search."""
    found = words(text)
    positions: dict[str, list[int]] = {}
    for at, word in enumerate(found, 1):
        if len(word.encode()) > _MAX_LEXEME_BYTES:
            continue
        kept = positions.setdefault(word, [])
        at = min(at, _MAX_POSITION)
        if len(kept) < _MAX_POSITIONS and (not kept or kept[-1] != at):
            kept.append(at)
    literal = " ".join(f"{_quoted(w)}:{','.join(map(str, ps))}" for w, ps in positions.items())
    counts = Counter(w for w in found if w in positions)
    return ChunkTerms(words=len(found), tsvector=literal, postings=dict(counts))


def keyword_query(terms: list[str]) -> tuple[str, Counter[str], bool]:
    """A tsquery literal matching any of `terms` (a term of several words, such as `a_b`, is a
    phrase), each lexeme with the number of times the terms name it, and whether there is a phrase."""
    alternatives: list[str] = []
    lexemes: Counter[str] = Counter()
    phrase = False
    for term in terms:
        found = [w for w in words(term) if len(w.encode()) <= _MAX_LEXEME_BYTES]
        if found:
            alternatives.append(" <-> ".join(_quoted(w) for w in found))
            lexemes.update(found)
            phrase = phrase or len(found) > 1
    return " | ".join(dict.fromkeys(alternatives)), lexemes, phrase


def keyword_hits(db: psycopg.Connection[Any], name: str, terms: list[str], k: int) -> list[tuple[int, float]]:
    """(chunk id, bm25) of collection `name`, best first, at most k; any of `terms` may match."""
    query, lexemes, phrase = keyword_query(terms)
    if not lexemes:
        return []
    sql = _BM25.format(matches=_PHRASE_MATCHES if phrase else "")
    params = {"name": name, "query": query, "k": k, "lexemes": list(lexemes), "times": list(lexemes.values())}
    return [(int(r[0]), float(r[1])) for r in db.execute(sql, params).fetchall()]
