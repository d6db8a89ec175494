"""RAG store speed on ~10k chunks, and retrieval quality on the labelled set, per search mode.

Corpus: Python's reference topics (pydoc_data.topics, one document each), then the docstrings of
standard-library modules (read with `ast`, nothing imported; one document per module), until
chunking (paragraphs packed up to --chunk-size MiniLM tokens) yields --chunks chunks. Indexed in
calls of at most 100 documents, as rag_index takes them; reported: chunks/s over the whole
indexing (tokenize, embed, write SQLite + FAISS), and the embedding alone.

Queries: the labelled set of tests/data/rag_eval.json (34 queries, semantic and exact-phrase),
--rounds times each, per mode (dense: embed the query + exact inner-product search over all
vectors, FAISS IndexFlatIP kept in memory; keyword: SQLite FTS5 bm25; hybrid: both + reciprocal
rank fusion): median and p95 latency. Baselines in the same run: "embed query" is the dense path's
embedding step alone; "dense, index read from disk" is a store with nothing in memory yet (a new
process's first search, and what every search cost before the in-memory index). Recall@5, MRR and
P@1 (retrieval_metrics; hits collapsed to documents) on the big collection, where the stdlib
docstrings are distractors, and on the eval set's own small corpus (the one the tests index).

    python bench/rag.py [--chunks 10000] [--chunk-size 48] [--threads 2] [--query-threads 1]
                        [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import json
import pydoc_data.topics
import statistics
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genai_mcp.tools import rag
from genai_mcp.tools.metrics.retrieval import RetrievalMetricsRequest, RetrievalQuery, retrieval_metrics
from genai_mcp.tools.rag.chunking import chunk_text
from genai_mcp.tools.rag.embed import embedder, tokenizer

HERE = Path(__file__).resolve().parent
EVAL = json.loads((HERE.parent / "tests" / "data" / "rag_eval.json").read_text(encoding="utf-8"))
MODES = ("dense", "keyword", "hybrid")
COLD = "dense, index read from disk"
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


def quality(store: rag.RagStore, collection: str, limits: rag.RagLimits) -> dict[str, dict[str, float]]:
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
    with tempfile.TemporaryDirectory() as folder:
        store = rag.RagStore(Path(folder))
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
        }
        assert indexed.total_chunks == planned, (indexed.total_chunks, planned)
        print(
            f"indexed {indexed.total_documents} documents as {indexed.total_chunks} chunks of <= "
            f"{args.chunk_size} tokens in {index_s:.1f} s: {indexed.total_chunks / index_s:.1f} chunks/s "
            f"(embedding alone: {embed_rate:.1f} chunks/s; {args.threads} threads)"
        )

        torch.set_num_threads(args.query_threads)
        latency: dict[str, list[float]] = {mode: [] for mode in ("embed query", COLD, *MODES)}
        for _ in range(args.rounds):
            for q in EVAL["queries"]:  # modes interleaved: a load swing hits them all
                t0 = time.perf_counter()
                encoder.encode([q["query"]])
                latency["embed query"].append((time.perf_counter() - t0) * 1000)
                for mode in (COLD, *MODES):
                    dense = mode == COLD
                    request = rag.SearchRequest(
                        collection="big", query=q["query"], k=10, mode="dense" if dense else mode
                    )
                    searched = rag.RagStore(Path(folder)) if dense else store  # nothing in memory yet
                    t0 = time.perf_counter()
                    rag.search(request, searched, limits)
                    latency[mode].append((time.perf_counter() - t0) * 1000)
        report["latency_ms"] = {
            mode: {
                "median": round(statistics.median(v), 2),
                "p95": round(percentile(v, 0.95), 2),
                "n": len(v),
            }
            for mode, v in latency.items()
        }
        report["quality_big"] = quality(store, "big", limits)

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
        small = rag.index_documents(eval_request, store=store, limits=limits)
        report["quality_eval_corpus_chunks"] = small.total_chunks
        report["quality_eval_corpus"] = quality(store, "eval", limits)

    print(f"\n{'query path (k=10)':28} {'median ms':>10} {'p95 ms':>10}")
    for mode, row in report["latency_ms"].items():
        print(f"{mode:28} {row['median']:10.2f} {row['p95']:10.2f}")
    for key, title in [
        ("quality_big", f"{indexed.total_chunks} chunks"),
        ("quality_eval_corpus", f"eval corpus, {small.total_chunks} chunks"),
    ]:
        print(f"\n{len(EVAL['queries'])} labelled queries on the {title}:")
        print(f"{'mode':8} {'R@5':>6} {'R@5 exact':>10} {'MRR':>6} {'P@1':>6}")
        for mode, q in report[key].items():
            print(
                f"{mode:8} {q['recall@5']:6.3f} {q['recall@5_exact']:10.3f} {q['mrr']:6.3f} {q['precision@1']:6.3f}"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
