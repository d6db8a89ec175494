"""The RAG domain: chunking, a collection on disk (real FAISS, SQLite and MiniLM), crash safety, search modes."""

from __future__ import annotations

import pydoc_data.topics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from genai_mcp.tools import rag
from genai_mcp.tools.errors import InvalidInputError, LimitExceededError, WorkCancelledError
from genai_mcp.tools.rag.chunking import chunk_text
from genai_mcp.tools.rag.embed import tokenizer

TICKETS = {
    "t1": "Ticket QX7743KZ: the nightly export job failed because the disk was full.",
    "t2": "Ticket QX7734ZK: the office coffee machine needs descaling.",
    "t3": "Ticket QX7374KZ: the nightly export job failed after a timeout.",
    "t4": "Ticket QK7734XZ: the nightly export job failed, credentials expired.",
    "cats": "Cats are small mammals that purr and chase mice.",
}


def index(
    store: rag.RagStore,
    docs: dict[str, str],
    collection: str = "c",
    fail_point: rag.FailPoint | None = None,
    **fields: Any,
) -> rag.IndexResult:
    request = rag.IndexRequest(
        collection=collection, documents=[rag.DocumentIn(id=k, text=v) for k, v in docs.items()], **fields
    )
    return rag.index_documents(request, store=store, fail_point=fail_point)


def hits(
    store: rag.RagStore, query: str, mode: str = "hybrid", k: int = 5, collection: str = "c"
) -> list[str]:
    request = rag.SearchRequest(collection=collection, query=query, k=k, mode=mode)  # type: ignore[arg-type]
    return [h.document_id for h in rag.search(request, store, rag.RagLimits()).hits]


# ---- chunking


def test_chunking_counts_the_embedding_models_tokens() -> None:
    tokens = tokenizer()
    assert (tokens.max_tokens, tokens.content_tokens) == (256, 254)  # sentence_bert_config.json
    assert tokens.count("QX7734ZK") == 7  # q ##x ##7 ##7 ##34 ##z ##k: one word, seven tokens
    text = "one two three\nfour five\n\nsix seven eight nine\n\n" + " ".join(f"w{i}" for i in range(12))
    packed = chunk_text(text, "paragraphs", 10, 2, tokens)  # 5 + 4 tokens fit in 10; "w0" is 2 tokens
    assert packed[0] == "one two three\nfour five\n\nsix seven eight nine"
    assert packed[1:] == ["w0 w1 w2 w3 w4", "w4 w5 w6 w7 w8", "w8 w9 w10 w11"]
    assert chunk_text("a b\nc d\ne f g", "lines", 4, 0, tokens) == ["a b\nc d", "e f g"]
    windows = chunk_text(" ".join(map(str, range(10))), "tokens", 4, 1, tokens)
    assert windows == ["0 1 2 3", "3 4 5 6", "6 7 8 9"]
    # A cut never splits a word: the 7-token id moves whole into the next window.
    assert chunk_text("the ticket QX7734ZK is open", "tokens", 8, 0, tokens) == [
        "the ticket",
        "QX7734ZK is",
        "open",
    ]
    assert chunk_text("QX7734ZKQX7734ZK", "tokens", 8, 2, tokens)[0] == "QX7734ZKQ"  # one word > window
    assert chunk_text("  \n\n ", "paragraphs", 10, 0, tokens) == []
    with pytest.raises(InvalidInputError, match="overlap"):
        chunk_text("x", "tokens", 4, 4, tokens)


def test_token_windows_fit_the_encoder_and_longer_chunks_are_reported(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    topic = pydoc_data.topics.topics["formatstrings"][:6000]
    tokens = tokenizer()
    windows = chunk_text(topic, "tokens", 254, 32, tokens)
    assert max(tokens.count(w) for w in windows) == 254 and len(windows) == -(
        -(tokens.count(topic) - 32) // 222
    )
    ids = [tokens.hf(w, add_special_tokens=False)["input_ids"] for w in windows[:2]]
    assert ids[0][-32:] == ids[1][:32]  # consecutive windows share `overlap` tokens
    fitted = index(store, {"f": topic}, chunking="tokens", chunk_size=254, overlap=32)
    assert (fitted.documents[0].chunks, fitted.truncated_chunks, fitted.embedding_device) == (
        len(windows),
        0,
        "cpu",
    )
    long = index(store, {"f": topic}, chunking="paragraphs", chunk_size=600, overlap=0)
    assert 0 < long.truncated_chunks <= long.documents[0].chunks


# ---- collections on disk


def test_index_reindex_delete_and_restart(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    first = index(store, {"a": "Paris is the capital of France.", "b": "The Nile flows north into the sea."})
    assert (first.total_documents, first.total_chunks, first.generation) == (2, 2, 1)
    assert hits(store, "capital city of France", "dense", k=1) == ["a"]

    again = index(
        store,
        {
            "a": "Photosynthesis turns light into sugar inside green leaves.\nPlants also need water and carbon dioxide."
        },
        chunking="lines",
        chunk_size=12,  # the lines are 11 and 8 tokens: one chunk each
        overlap=0,
    )
    assert again.documents[0].replaced_chunks == 1 and again.documents[0].chunks == 2
    assert (again.total_documents, again.total_chunks, again.generation) == (2, 3, 2)
    assert "a" not in hits(store, "capital of France", "keyword")

    restarted = rag.RagStore(tmp_path)  # a new process would see the same
    assert hits(restarted, "how do plants make sugar", "dense", k=1) == ["a"]
    assert [f.name for f in (tmp_path / "c").glob("index-*.faiss")] == ["index-2.faiss"]

    removed = rag.delete(rag.DeleteRequest(collection="c", document_ids=["b", "zz"]), restarted)
    assert (removed.deleted_documents, removed.missing_documents, removed.remaining_chunks) == (
        ["b"],
        ["zz"],
        2,
    )
    assert "b" not in hits(restarted, "Nile river", "dense")
    listed = rag.list_collections(store).collections
    assert [(c.name, c.documents, c.chunks, c.generation, c.dimensions) for c in listed] == [
        ("c", 1, 2, 3, 384)
    ]

    assert rag.delete(rag.DeleteRequest(collection="c"), store).deleted_collection
    assert rag.list_collections(store).collections == []
    with pytest.raises(InvalidInputError, match="no collection named 'c'"):
        hits(store, "anything")


def test_progress_counts_embedded_chunks_and_cancelling_writes_nothing(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    index(store, {"keep": "This collection already holds one document."})
    many = {f"d{i}": f"Paragraph {i} about topic {i}." for i in range(100)}  # one chunk each
    request = rag.IndexRequest(
        collection="c", documents=[rag.DocumentIn(id=k, text=v) for k, v in many.items()]
    )
    seen: list[tuple[int, int | None]] = []

    def stop_after_first(done: int, total: int | None, message: str | None = None) -> None:
        seen.append((done, total))
        raise WorkCancelledError("enough")

    with pytest.raises(WorkCancelledError):
        rag.index_documents(request, stop_after_first, store=store)
    assert seen == [(rag.PROGRESS_CHUNKS, 100)]
    assert rag.list_collections(store).collections[0].documents == 1  # untouched

    seen.clear()
    done = rag.index_documents(request, lambda d, t, m=None: seen.append((d, t)), store=store)
    assert seen == [(64, 100), (100, 100)] and done.total_chunks == 101


def test_search_sees_writes_of_another_store_and_a_recreated_collection(tmp_path: Path) -> None:
    reader, writer = rag.RagStore(tmp_path), rag.RagStore(tmp_path)  # as two processes would
    index(writer, {"a": "Paris is the capital of France."})
    assert hits(reader, "French capital", "dense") == ["a"]  # the reader now holds generation 1
    rag.delete(rag.DeleteRequest(collection="c"), writer)
    index(writer, {"z": "Zebras have stripes."})  # generation 1 again, same file size, another collection
    assert hits(reader, "French capital", "dense") == ["z"]
    index(writer, {"b": "The Nile flows north."})
    assert hits(reader, "river in Egypt", "dense", k=1) == ["b"]


def test_encoding_in_length_order_keeps_each_texts_row() -> None:
    import numpy as np

    from genai_mcp.tools.rag.embed import embedder

    texts = ["a much longer sentence about rivers, mountains and the sea", "short", "a medium text"]
    together = embedder("all-MiniLM-L6-v2", "cpu").encode(texts)
    alone = np.concatenate([embedder("all-MiniLM-L6-v2", "cpu").encode([t]) for t in texts])
    assert together.shape == (3, 384) and np.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("stage", ["rows_written", "index_written", "before_commit"])
def test_a_failure_inside_a_write_leaves_the_previous_state(tmp_path: Path, stage: str) -> None:
    store = rag.RagStore(tmp_path)
    index(store, {"a": "Paris is the capital of France.", "b": "The Nile flows north."})
    before = (store.state("c"), hits(store, "France capital"))

    def fail(at: str) -> None:
        if at == stage:
            raise OSError(f"disk gone at {at}")

    with pytest.raises(OSError, match="disk gone"):
        index(
            store, {"a": "Completely different text about volcanoes.", "new": "Another doc."}, fail_point=fail
        )
    assert (store.state("c"), hits(store, "France capital")) == before
    assert hits(rag.RagStore(tmp_path), "volcanoes", "keyword") == []
    assert index(store, {"z": "Zebras have stripes."}).generation == 2
    assert [f.name for f in (tmp_path / "c").glob("index-*")] == ["index-2.faiss"]


def test_a_new_collection_whose_first_write_fails_is_not_left_behind(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)

    def fail(at: str) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        index(store, {"a": "text"}, collection="fresh", fail_point=fail)
    assert store.names() == [] and not (tmp_path / "fresh").exists()


CRASH = """
import os, sys
from pathlib import Path
from genai_mcp.tools import rag
store = rag.RagStore(Path(sys.argv[1]))
docs = [rag.DocumentIn(id="a", text="Volcanoes erupt lava."), rag.DocumentIn(id="n", text="New document.")]
def die(stage):
    if stage == "before_commit":
        os._exit(17)  # the process dies with the new index renamed in place and SQLite uncommitted
rag.index_documents(rag.IndexRequest(collection="c", documents=docs), store=store, fail_point=die)
"""


def test_a_process_killed_before_commit_leaves_the_previous_collection(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    index(store, {"a": "Paris is the capital of France.", "b": "The Nile flows north."})
    before = (store.state("c"), hits(store, "France capital"))
    out = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path)], capture_output=True, timeout=120)
    assert out.returncode == 17, out.stderr.decode()[-2000:]
    assert (tmp_path / "c" / "index-2.faiss").exists()  # written, but never made current
    fresh = rag.RagStore(tmp_path)
    assert (fresh.state("c"), hits(fresh, "France capital")) == before
    assert hits(fresh, "volcanoes lava", "keyword") == []
    assert index(fresh, {"n": "Now it lands."}).generation == 2
    assert hits(fresh, "lands", "keyword") == ["n"]


# ---- search modes


def test_keyword_and_hybrid_find_an_exact_identifier_that_dense_misses(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    index(store, TICKETS)
    query = "status of QX7734ZK"
    assert hits(store, query, "dense")[0] != "t2"  # near-identical ids look alike to the embedding
    assert hits(store, query, "keyword") == ["t2"]
    assert hits(store, query, "hybrid")[0] == "t2"
    found = rag.search(rag.SearchRequest(collection="c", query=query, k=3), store, rag.RagLimits())
    assert found.reranker is None and "no reranker" in found.reranker_note
    assert found.hits[0].keyword_rank == 1 and found.hits[0].dense_rank is not None
    assert [h.rank for h in found.hits] == [1, 2, 3]
    strict = rag.SearchRequest(collection="c", query="nightly export failed", mode="dense", min_score=0.5)
    assert set(h.document_id for h in rag.search(strict, store, rag.RagLimits()).hits) == {"t1", "t3", "t4"}


def test_answer_context_numbers_the_passages(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    index(store, TICKETS)
    context = rag.answer_context(
        rag.SearchRequest(collection="c", query="QX7734ZK", k=2), store, rag.RagLimits()
    )
    assert context.prompt.startswith("Context:\n\n[1] (t2#0)\nTicket QX7734ZK")
    assert "[2] (" in context.prompt and context.prompt.endswith("Question: QX7734ZK")
    assert "[n]" in context.system_prompt


# ---- bad inputs


def test_files_under_roots_only_and_text_suffixes_only(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "notes.md").write_text("# Notes\n\nThe launch code is BLUE-42.\n")
    (root / "data.pdf").write_bytes(b"%PDF")
    (outside / "secret.txt").write_text("secret")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    store, limits = rag.RagStore(tmp_path / "rag"), rag.RagLimits(roots=(root,))
    done = rag.index_documents(
        rag.IndexRequest(collection="f", paths=["notes.md"]), store=store, limits=limits
    )
    assert done.documents[0].id == "notes.md" and hits(store, "BLUE-42", "keyword", collection="f") == [
        "notes.md"
    ]
    for path, message in [
        ("data.pdf", "allowed suffixes: .txt, .md, .rst"),
        ("link.txt", "outside the allowed roots"),
        (str(outside / "secret.txt"), "outside the allowed roots"),
        ("../outside/secret.txt", "'..'"),
        ("missing.txt", "no document 'missing.txt' exists"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            rag.index_documents(rag.IndexRequest(collection="f", paths=[path]), store=store, limits=limits)
    with pytest.raises(InvalidInputError, match="no file roots") as refused:
        rag.index_documents(rag.IndexRequest(collection="f", paths=["notes.md"]), store=store)
    assert refused.value.setting == "files.roots"


def test_limits_and_malformed_requests(tmp_path: Path) -> None:
    store = rag.RagStore(tmp_path)
    small = rag.RagLimits(max_documents=2, max_document_chars=50, max_query_chars=10, max_k=3)
    docs = [rag.DocumentIn(id=str(i), text="x") for i in range(3)]
    with pytest.raises(
        LimitExceededError, match=r"^documents in one call is 3, over the limit of 2$"
    ) as refused:
        rag.index_documents(rag.IndexRequest(collection="c", documents=docs), store=store, limits=small)
    assert refused.value.setting == "rag.max_documents"
    with pytest.raises(LimitExceededError, match=r"over the limit of 50$") as refused:
        rag.index_documents(
            rag.IndexRequest(collection="c", documents=[rag.DocumentIn(text="y" * 51)]),
            store=store,
            limits=small,
        )
    assert refused.value.setting == "rag.max_document_chars"
    with pytest.raises(InvalidInputError, match="distinct"):
        rag.index_documents(
            rag.IndexRequest(collection="c", documents=docs[:1] * 2), store=store, limits=small
        )
    with pytest.raises(InvalidInputError, match="nothing to index"):
        rag.index_documents(rag.IndexRequest(collection="c"), store=store, limits=small)
    with pytest.raises(InvalidInputError, match="holds no words"):
        rag.index_documents(
            rag.IndexRequest(collection="c", documents=[rag.DocumentIn(text=" \n ")]),
            store=store,
            limits=small,
        )
    index(store, {"a": "alpha"})
    with pytest.raises(LimitExceededError, match="query length") as refused:
        rag.search(rag.SearchRequest(collection="c", query="q" * 11), store, small)
    assert refused.value.setting == "rag.max_query_chars"
    with pytest.raises(LimitExceededError, match="k is 4") as refused:
        rag.search(rag.SearchRequest(collection="c", query="q", k=4), store, small)
    assert refused.value.setting == "rag.max_k"
    for bad in ("Upper", "has space", "x" * 65, "", "../up"):
        with pytest.raises(ValidationError):
            rag.SearchRequest(collection=bad, query="q")
    assert store.names() == ["c"]
