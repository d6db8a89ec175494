"""RAG store speed on ~10k chunks, and retrieval quality on the labelled set, per search mode, for
the embedded store (SQLite FTS5 + FAISS files) and the PostgreSQL one (GENAI_MCP_DATABASE_URL).

Corpus: Python's reference topics (pydoc_data.topics, one document each), then the docstrings of
standard-library modules (read with `ast`, nothing imported; one document per module), until
chunking (paragraphs packed up to --chunk-size MiniLM tokens) yields --chunks chunks. Indexed in
calls of at most 100 documents, as rag_index takes them, into the embedded store; reported:
chunks/s over the whole indexing (tokenize, embed, write SQLite + FAISS), the embedding alone, and
the store's writes alone. The PostgreSQL store (a fresh PostgreSQL 15 started with
deploy/postgres.py; skipped, saying why, without psycopg or postgresql-15) then gets the very same
write calls (same chunks, same vectors: the embedding is not repeated), timed alone.

Queries: the labelled set of tests/data/rag_eval.json (34 queries, semantic and exact-phrase),
--rounds times each, per mode (dense: embed the query + exact inner-product search over all
vectors, FAISS IndexFlatIP kept in memory; keyword: FTS5 bm25, or PostgreSQL full-text search
scored as bm25; hybrid: both + reciprocal rank fusion): median and p95 latency, the PostgreSQL
store's also as a ratio to the embedded store's. Baselines in the same run: "embed query" is the
dense path's embedding step alone; "dense, index read from disk" is an embedded store with nothing
in memory yet (a new process's first search); "dense, index built from the table" is the same for
the PostgreSQL store (what each replica pays once per generation). Recall@5, MRR and P@1
(retrieval_metrics; hits collapsed to documents) of both stores on the big collection, where the
stdlib docstrings are distractors, and on the eval set's own small corpus (the one the tests index).

    python bench/rag.py [--chunks 10000] [--chunk-size 48] [--threads 2] [--query-threads 1]
                        [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import json
import pydoc_data.topics
import statistics
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from genai_mcp.tools import rag
from genai_mcp.tools.metrics.retrieval import RetrievalMetricsRequest, RetrievalQuery, retrieval_metrics
from genai_mcp.tools.rag.chunking import chunk_text
from genai_mcp.tools.rag.embed import embedder, tokenizer
from genai_mcp.tools.rag.store import Chunk
from genai_mcp.tools.rag.store_pg import PgRagStore

HERE = Path(__file__).resolve().parent
EVAL = json.loads((HERE.parent / "tests" / "data" / "rag_eval.json").read_text(encoding="utf-8"))
MODES = ("dense", "keyword", "hybrid")
COLD = "dense, index read from disk"
PG_COLD = "dense, index built from the table"
SKIP = {"test", "idlelib", "tkinter", "lib2to3", "turtledemo", "ensurepip", "site-packages", "__pycache__"}
PER_CALL = 100


def stdlib_docstrings() -> Iterator[tuple[str, str]]:
    """(module, its module/class/function docstrings joined by blank lines), in name order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if SKIP & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        docs = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    docs.append(doc if isinstance(node, ast.Module) else f"{node.name}: {doc}")
        if docs:
            yield "stdlib:" + ".".join(path.relative_to(root).with_suffix("").parts), "\n\n".join(docs)


def corpus(target: int, chunk_size: int) -> tuple[list[rag.DocumentIn], int]:
    """Documents whose chunks reach `target` (pydoc topics first), and their chunk count."""
    tokens = tokenizer()
    labelled = {t for q in EVAL["queries"] for t in q["relevant"]}
    # Labelled topics first: with a small --chunks the quality table still has every answer indexed.
    sources = sorted(pydoc_data.topics.topics.items(), key=lambda item: item[0] not in labelled)
    documents, chunks = [], 0
    for doc_id, text in [*sources, *stdlib_docstrings()]:
        if chunks >= target:
            break
        n = len(chunk_text(text, "paragraphs", chunk_size, 8, tokens))
        if n and len(text) <= rag.RagLimits().max_document_chars:
            documents.append(rag.DocumentIn(id=doc_id, text=text))
            chunks += n
    return documents, chunks


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def quality(
    store: rag.CollectionStore, collection: str, limits: rag.RagLimits
) -> dict[str, dict[str, float]]:
    out = {}
    for mode in MODES:
        queries = []
        for q in EVAL["queries"]:
            request = rag.SearchRequest(collection=collection, query=q["query"], k=20, mode=mode)
            found = rag.search(request, store, limits)
            ranked = list(dict.fromkeys(h.document_id for h in found.hits))[:10]
            queries.append(RetrievalQuery(query_id=q["kind"], retrieved=ranked, relevant=q["relevant"]))
        scores = retrieval_metrics(RetrievalMetricsRequest(queries=queries, k=[1, 5]))
        at = {m.k: m for m in scores.mean_at_k}
        exact = [p.at_k[1].recall for p in scores.per_query if p.query_id == "exact"]
        out[mode] = {
            "recall@5": round(at[5].recall, 3),
            "recall@5_exact": round(sum(exact) / len(exact), 3),
            "mrr": round(scores.mrr, 3),
            "precision@1": round(at[1].precision, 3),
        }
    return out


Batch = tuple[str, str, int, Sequence[tuple[str, list[Chunk], Any]]]


class RecordingRagStore(rag.RagStore):
    """The embedded store, keeping each write call (to replay it into the PostgreSQL store) and the
    time spent in it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[Batch] = []
        self.write_s = 0.0

    def upsert(self, name: str, model: str, dimensions: int, documents: Any, **kw: Any) -> Any:
        self.writes.append((name, model, dimensions, documents))
        t0 = time.perf_counter()
        try:
            return super().upsert(name, model, dimensions, documents, **kw)
        finally:
            self.write_s += time.perf_counter() - t0


def replay(store: PgRagStore, writes: list[Batch]) -> float:
    """Seconds the PostgreSQL store takes for the same write calls."""
    t0 = time.perf_counter()
    for name, model, dimensions, documents in writes:
        store.upsert(name, model, dimensions, documents)
    return time.perf_counter() - t0


def postgres_unavailable() -> str | None:
    from deploy.postgres import PG_BIN

    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'genai-mcp[postgres]')"
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL 15 is not installed (apt-get install -y --no-install-recommends postgresql-15)"
    return None


def latency_row(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "p95": round(percentile(values, 0.95), 2),
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks to index (about)")
    parser.add_argument("--chunk-size", type=int, default=48, help="MiniLM tokens per chunk at most")
    parser.add_argument("--threads", type=int, default=2, help="torch threads while indexing")
    parser.add_argument(
        "--query-threads", type=int, default=1, help="torch threads while querying (one short text)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over the labelled queries per mode")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "rag.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    documents, planned = corpus(args.chunks, args.chunk_size)
    limits = rag.RagLimits(max_documents=PER_CALL, max_k=50)
    report: dict[str, Any] = {
        "threads": args.threads,
        "query_threads": args.query_threads,
        "chunk_size_tokens": args.chunk_size,
        "device": "cpu",
    }
    skipped = postgres_unavailable()
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        store = RecordingRagStore(Path(folder))
        encoder = embedder()
        encoder.encode(["warm up"])
        started = time.perf_counter()
        for start in range(0, len(documents), PER_CALL):
            batch = rag.IndexRequest(
                collection="big",
                documents=documents[start : start + PER_CALL],
                chunk_size=args.chunk_size,
                overlap=8,
            )
            indexed = rag.index_documents(batch, store=store, limits=limits)
        index_s = time.perf_counter() - started
        sample = [c.text for c in store.chunks("big", list(range(1, indexed.total_chunks + 1, 10))).values()]
        t0 = time.perf_counter()
        encoder.encode(sample)
        embed_rate = len(sample) / (time.perf_counter() - t0)
        report["index"] = {
            "documents": indexed.total_documents,
            "chunks": indexed.total_chunks,
            "seconds": round(index_s, 1),
            "chunks_per_s": round(indexed.total_chunks / index_s, 1),
            "embed_only_chunks_per_s": round(embed_rate, 1),
            "store_writes_s": round(store.write_s, 2),
        }
        assert indexed.total_chunks == planned, (indexed.total_chunks, planned)
        print(
            f"indexed {indexed.total_documents} documents as {indexed.total_chunks} chunks of <= "
            f"{args.chunk_size} tokens in {index_s:.1f} s: {indexed.total_chunks / index_s:.1f} chunks/s "
            f"(embedding alone: {embed_rate:.1f} chunks/s; {args.threads} threads); embedded store "
            f"writes {store.write_s:.2f} s"
        )
        stores: dict[str, rag.CollectionStore] = {"embedded": store}
        pg_url = ""
        if skipped is None:
            from deploy.postgres import running_postgres

            pg_url = stack.enter_context(running_postgres())
            pg = PgRagStore(pg_url)
            pg_write_s = replay(pg, store.writes)
            stores["postgresql"] = pg
            report["postgresql_index"] = {"store_writes_s": round(pg_write_s, 2)}
            print(f"PostgreSQL store: the same {len(store.writes)} write calls in {pg_write_s:.2f} s")
        else:
            report["postgresql_skipped"] = skipped
            print(f"PostgreSQL store skipped: {skipped}")

        torch.set_num_threads(args.query_threads)
        paths = ["embed query", COLD, *MODES]
        if "postgresql" in stores:
            paths += [PG_COLD, *(f"pg {mode}" for mode in MODES)]
        latency: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(args.rounds):
            for q in EVAL["queries"]:  # paths interleaved: a load swing hits them all
                t0 = time.perf_counter()
                encoder.encode([q["query"]])
                latency["embed query"].append((time.perf_counter() - t0) * 1000)
                for path in paths[1:]:
                    mode = path.removeprefix("pg ") if path not in (COLD, PG_COLD) else "dense"
                    request = rag.SearchRequest(collection="big", query=q["query"], k=10, mode=mode)  # type: ignore[arg-type]
                    searched: rag.CollectionStore
                    if path == COLD:  # nothing in memory yet
                        searched = rag.RagStore(Path(folder))
                    elif path == PG_COLD:
                        searched = PgRagStore(pg_url)
                    else:
                        searched = stores["postgresql" if path.startswith("pg ") else "embedded"]
                    t0 = time.perf_counter()
                    rag.search(request, searched, limits)
                    latency[path].append((time.perf_counter() - t0) * 1000)
        report["latency_ms"] = {path: latency_row(v) for path, v in latency.items()}
        if "postgresql" in stores:
            median = {path: row["median"] for path, row in report["latency_ms"].items()}
            pairs = {f"pg {mode}": mode for mode in MODES} | {PG_COLD: COLD}
            report["pg_over_embedded_median"] = {
                pg: round(median[pg] / median[e], 2) for pg, e in pairs.items()
            }

        recipe = EVAL["corpus"]
        heads = [
            rag.DocumentIn(id=name, text=text[: recipe["head_chars"]])
            for name, text in pydoc_data.topics.topics.items()
        ]
        eval_request = rag.IndexRequest(
            collection="eval",
            documents=heads,
            chunking=recipe["chunking"],
            chunk_size=recipe["chunk_size"],
            overlap=recipe["overlap"],
        )
        written = len(store.writes)
        small = rag.index_documents(eval_request, store=store, limits=limits)
        if "postgresql" in stores:
            replay(pg, store.writes[written:])
        report["quality_eval_corpus_chunks"] = small.total_chunks
        for name, searched in stores.items():
            prefix = "" if name == "embedded" else "pg_"
            report[prefix + "quality_big"] = quality(searched, "big", limits)
            report[prefix + "quality_eval_corpus"] = quality(searched, "eval", limits)

    print(f"\n{'query path (k=10)':34} {'median ms':>10} {'p95 ms':>10} {'x embedded':>11}")
    ratios = report.get("pg_over_embedded_median", {})
    for path, row in report["latency_ms"].items():
        print(f"{path:34} {row['median']:10.2f} {row['p95']:10.2f} {ratios.get(path, '')!s:>11}")
    for key, title in [
        ("quality_big", f"{indexed.total_chunks} chunks"),
        ("quality_eval_corpus", f"eval corpus, {small.total_chunks} chunks"),
    ]:
        for prefix, store_name in [("", "embedded"), ("pg_", "PostgreSQL")]:
            if prefix + key not in report:
                continue
            print(f"\n{len(EVAL['queries'])} labelled queries on the {title}, {store_name} store:")
            print(f"{'mode':8} {'R@5':>6} {'R@5 exact':>10} {'MRR':>6} {'P@1':>6}")
            for mode, q in report[prefix + key].items():
                print(
                    f"{mode:8} {q['recall@5']:6.3f} {q['recall@5_exact']:10.3f} {q['mrr']:6.3f} {q['precision@1']:6.3f}"
                )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
