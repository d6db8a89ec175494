"""Retrieval quality and speed of the RAG store on Python's own reference topics (pydoc_data).

Indexes the 79 `pydoc_data.topics` entries (each topic is one document; paragraphs packed up to
120 words, so that most chunks fit MiniLM's 256-token window), then runs 24 hand-labelled queries
in each mode (dense, keyword, hybrid). Chunk hits are collapsed to documents in rank order, and
`retrieval_metrics` scores them (MRR, precision@k, recall@k). Prints one table; `--json` saves it.

    python bench/rag.py [--chunk-size 120] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import pydoc_data.topics
import statistics
import tempfile
import time
from pathlib import Path

from genai_mcp.tools import rag
from genai_mcp.tools.metrics.retrieval import RetrievalMetricsRequest, RetrievalQuery, retrieval_metrics

# (query, relevant topic ids); written from the topics' subjects, not from the retrieved results.
EVAL: list[tuple[str, list[str]]] = [
    ("how do I catch an exception and run cleanup code", ["try", "exceptions"]),
    ("raise an error with a cause", ["raise"]),
    ("loop over the items of a list", ["for"]),
    ("repeat while a condition is true", ["while"]),
    ("leave a loop early", ["break"]),
    ("skip to the next iteration of a loop", ["continue"]),
    ("define a function with default arguments", ["function"]),
    ("anonymous inline function expression", ["lambda"]),
    ("create a class with methods", ["class"]),
    ("context manager with statement enter and exit", ["with", "context-managers"]),
    ("import a module from a package", ["import"]),
    ("declare a variable as global inside a function", ["global"]),
    ("modify a variable of an enclosing function scope", ["nonlocal"]),
    ("generator function that produces values lazily", ["yield"]),
    ("format a number with a fixed number of decimals in a string", ["formatstrings"]),
    ("operator precedence of arithmetic and boolean operators", ["operator-summary"]),
    ("compare two objects for equality and identity", ["comparisons"]),
    ("slice a sequence with start stop and step", ["slicings"]),
    ("special methods to customize attribute lookup __getattr__", ["attribute-access"]),
    ("__init__ __repr__ and other basic customization methods", ["customization"]),
    ("assert statement for debugging checks", ["assert"]),
    ("delete a name or an item from a list", ["del"]),
    ("coroutines with async def and await", ["async", "await"]),
    ("methods of str such as split join and strip", ["string-methods"]),
]
MODES = ("dense", "keyword", "hybrid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-size", type=int, default=120)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    topics = pydoc_data.topics.topics
    missing = {t for _, relevant in EVAL for t in relevant} - set(topics)
    assert not missing, f"labels name unknown topics: {missing}"
    limits = rag.RagLimits(max_documents=len(topics))
    with tempfile.TemporaryDirectory() as folder:
        store = rag.RagStore(Path(folder))
        started = time.perf_counter()
        indexed = rag.index_documents(
            rag.IndexRequest(
                collection="pydoc",
                documents=[rag.DocumentIn(id=name, text=text) for name, text in topics.items()],
                chunk_size=args.chunk_size,
                overlap=20,
            ),
            store,
            limits,
        )
        index_s = time.perf_counter() - started
        report: dict[str, object] = {
            "documents": indexed.total_documents,
            "chunks": indexed.total_chunks,
            "index_s": round(index_s, 2),
            "threads": args.threads,
            "modes": {},
        }
        print(f"indexed {indexed.total_documents} topics as {indexed.total_chunks} chunks in {index_s:.1f} s")
        print(f"{'mode':8} {'MRR':>6} {'P@1':>6} {'R@3':>6} {'R@5':>6} {'ms/query (median)':>18}")
        for mode in MODES:
            queries, times = [], []
            for query, relevant in EVAL:
                t0 = time.perf_counter()
                found = rag.search(
                    rag.SearchRequest(collection="pydoc", query=query, k=20, mode=mode), store, limits
                )
                times.append((time.perf_counter() - t0) * 1000)
                ranked = list(dict.fromkeys(h.document_id for h in found.hits))[:10]
                queries.append(RetrievalQuery(query_id=query, retrieved=ranked, relevant=relevant))
            scores = retrieval_metrics(RetrievalMetricsRequest(queries=queries, k=[1, 3, 5]))
            at = {m.k: m for m in scores.mean_at_k}
            row = {
                "mrr": round(scores.mrr, 3),
                "precision@1": round(at[1].precision, 3),
                "recall@3": round(at[3].recall, 3),
                "recall@5": round(at[5].recall, 3),
                "ms_per_query_median": round(statistics.median(times), 1),
            }
            report["modes"][mode] = row  # type: ignore[index]
            print(
                f"{mode:8} {row['mrr']:6.3f} {row['precision@1']:6.3f} {row['recall@3']:6.3f} "
                f"{row['recall@5']:6.3f} {row['ms_per_query_median']:18.1f}"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
