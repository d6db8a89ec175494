"""RAG collections in a real PostgreSQL (PgRagStore): the embedded store's behaviours, and two
stores on one database as two replicas would use it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genai_mcp.tools import rag
from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.rag.store import Chunk
from genai_mcp.tools.rag.store_pg import PgRagStore
from tests.helpers.postgres import running_postgres

TICKETS = {
    "t1": "Ticket QX7743KZ: the nightly export job failed because the disk was full.",
    "t2": "Ticket QX7734ZK: the office coffee machine needs descaling.",
    "t3": "Ticket QX7374KZ: the nightly export job failed after a timeout.",
    "cats": "Cats are small mammals that purr and chase mice; see os.path.join and Café BLUE-42.",
}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_postgres() as found:
        yield found


def index(
    store: rag.CollectionStore, docs: dict[str, str], collection: str, **fields: Any
) -> rag.IndexResult:
    request = rag.IndexRequest(
        collection=collection, documents=[rag.DocumentIn(id=k, text=v) for k, v in docs.items()]
    )
    return rag.index_documents(request, store=store, **fields)


def hits(
    store: rag.CollectionStore, collection: str, query: str, mode: str = "hybrid", k: int = 5
) -> list[str]:
    request = rag.SearchRequest(collection=collection, query=query, k=k, mode=mode)  # type: ignore[arg-type]
    return [h.document_id for h in rag.search(request, store, rag.RagLimits()).hits]


def unit_rows(docs: dict[str, str], dim: int = 4) -> list[tuple[str, list[Chunk], Any]]:
    """Each document as one chunk on its own axis (no embedding model needed)."""
    rows = []
    for i, (doc_id, text) in enumerate(docs.items()):
        vector = np.zeros((1, dim), dtype=np.float32)
        vector[0, i % dim] = 1.0
        rows.append((doc_id, [Chunk(doc_id, 0, text)], vector))
    return rows


def test_index_reindex_delete_drop_and_recreate(url: str) -> None:
    store = PgRagStore(url)
    first = index(
        store, {"a": "Paris is the capital of France.", "b": "The Nile flows north into the sea."}, "c"
    )
    assert (first.total_documents, first.total_chunks, first.generation) == (2, 2, 1)
    assert hits(store, "c", "capital city of France", "dense", k=1) == ["a"]
    again = index(store, {"a": "Photosynthesis turns light into sugar.\nPlants also need water."}, "c")
    assert again.documents[0].replaced_chunks == 1 and (again.total_documents, again.generation) == (2, 2)
    assert "a" not in hits(store, "c", "capital of France", "keyword")
    assert hits(PgRagStore(url), "c", "how do plants make sugar", "dense", k=1) == ["a"]  # a new process
    assert store.documents("c", 10) == [("a", 1), ("b", 1)]

    removed = rag.delete(rag.DeleteRequest(collection="c", document_ids=["b", "zz"]), store)
    assert (removed.deleted_documents, removed.missing_documents, removed.remaining_chunks) == (
        ["b"],
        ["zz"],
        1,
    )
    assert "b" not in hits(store, "c", "Nile river", "dense")
    listed = [
        (c.name, c.documents, c.chunks, c.generation, c.dimensions)
        for c in rag.list_collections(store).collections
    ]
    assert listed == [("c", 1, 1, 3, 384)]

    assert rag.delete(rag.DeleteRequest(collection="c"), store).deleted_collection
    assert store.names() == [] and not store.exists("c")
    with pytest.raises(InvalidInputError, match=r"no collection named 'c' \(collections: none\)"):
        hits(store, "c", "anything")
    recreated = index(store, {"z": "Zebras have stripes."}, "c")
    assert recreated.generation == 1 and hits(store, "c", "French capital", "dense") == ["z"]
    store.drop("c")


def test_keyword_search_splits_words_and_ranks_as_fts5_does_and_takes_any_text_safely(
    url: str, tmp_path: Path
) -> None:
    store, embedded = PgRagStore(url), rag.RagStore(tmp_path)
    index(store, TICKETS, "tickets")
    index(embedded, TICKETS, "tickets")
    for query in (
        "nightly export job failed",
        "the disk",
        "coffee_machine",
        "machine_coffee",
        "QX7374KZ timeout",
    ):
        assert hits(store, "tickets", query, "keyword") == hits(embedded, "tickets", query, "keyword"), query
    assert hits(store, "tickets", "coffee_machine", "keyword") == ["t2"]  # a phrase, as in FTS5
    assert hits(store, "tickets", "status of QX7734ZK", "keyword") == ["t2"]
    assert hits(store, "tickets", "status of QX7734ZK", "hybrid")[0] == "t2"
    for query in ("join", "path", "cafe", "42", "CAFÉ"):  # PostgreSQL's own parser keeps os.path.join whole
        assert hits(store, "tickets", query, "keyword") == ["cats"], query
    for hostile in ("' | !", "a:* & !b", "\\'; DROP TABLE x; --", "<-> ()"):
        assert set(hits(store, "tickets", hostile, "keyword")) <= {"cats", "t1", "t2", "t3"}
    assert store.keyword("tickets", [], 5) == [] and store.keyword("tickets", ["!!"], 5) == []
    store.drop("tickets")


def test_another_embedding_model_is_refused(url: str) -> None:
    store = PgRagStore(url)
    store.upsert("m", "test/unit-vectors", 4, unit_rows({"a": "alpha", "B": "beta", "_c": "gamma"}))
    with pytest.raises(InvalidInputError, match="built with the embedding model 'test/unit-vectors'"):
        store.upsert("m", "other/model", 4, unit_rows({"b": "beta"}))
    assert store.state("m").generation == 1
    assert store.documents("m", 10) == [("B", 1), ("_c", 1), ("a", 1)]  # code point order, as RagStore's
    store.drop("m")


@pytest.mark.parametrize("stage", ["rows_written", "before_commit"])
def test_a_failure_inside_a_write_leaves_the_previous_generation(url: str, stage: str) -> None:
    store, other = PgRagStore(url), PgRagStore(url)
    store.upsert("f", "test/unit-vectors", 4, unit_rows({"a": "Paris is the capital", "b": "The Nile"}))
    before = (
        store.state("f"),
        store.keyword("f", ["paris"], 5),
        store.dense("f", np.eye(4, dtype=np.float32)[1], 5),
    )

    def fail(at: str) -> None:
        if at == stage:
            raise OSError(f"connection gone at {at}")

    with pytest.raises(OSError, match="connection gone"):
        store.upsert(
            "f", "test/unit-vectors", 4, unit_rows({"a": "volcanoes", "new": "more"}), fail_point=fail
        )
    for seen in (store, other):
        after = (
            seen.state("f"),
            seen.keyword("f", ["paris"], 5),
            seen.dense("f", np.eye(4, dtype=np.float32)[1], 5),
        )
        assert after == before and seen.keyword("f", ["volcanoes"], 5) == []
    assert store.upsert("f", "test/unit-vectors", 4, unit_rows({"z": "zebras"}))[0].generation == 2
    with pytest.raises(OSError):
        store.upsert("fresh", "test/unit-vectors", 4, unit_rows({"a": "text"}), fail_point=fail)
    assert store.names() == ["f"]  # a collection whose first write failed does not exist
    store.drop("f")


CRASH = """
import os, sys
import numpy as np
from genai_mcp.tools.rag.store import Chunk
from genai_mcp.tools.rag.store_pg import PgRagStore
def die(stage):
    if stage == "before_commit":
        os._exit(17)  # killed with the rows written and the generation moved, not committed
rows = [("a", [Chunk("a", 0, "volcanoes erupt lava")], np.eye(4, dtype=np.float32)[:1])]
PgRagStore(sys.argv[1]).upsert("k", "test/unit-vectors", 4, rows, fail_point=die)
"""


def test_a_process_killed_before_commit_leaves_the_previous_generation(url: str) -> None:
    store = PgRagStore(url)
    store.upsert("k", "test/unit-vectors", 4, unit_rows({"a": "Paris is the capital", "b": "The Nile"}))
    before = (store.state("k"), store.keyword("k", ["paris"], 5))
    out = subprocess.run([sys.executable, "-c", CRASH, url], capture_output=True, timeout=120)
    assert out.returncode == 17, out.stderr.decode()[-2000:]
    assert (store.state("k"), store.keyword("k", ["paris"], 5)) == before
    assert store.keyword("k", ["volcanoes"], 5) == []
    # Its row lock went with its connection: the next write takes the next generation.
    assert store.upsert("k", "test/unit-vectors", 4, unit_rows({"n": "now it lands"}))[0].generation == 2
    store.drop("k")


def test_two_replicas_see_each_others_writes_at_once(url: str) -> None:
    reader, writer = PgRagStore(url), PgRagStore(url)
    axes = np.eye(4, dtype=np.float32)
    writer.upsert("r", "test/unit-vectors", 4, unit_rows({"a": "alpha", "b": "beta"}))
    assert reader.dense("r", axes[0], 1)[0][1] == pytest.approx(1.0)  # the reader now holds generation 1
    first = reader.chunks("r", [cid for cid, _ in reader.dense("r", axes[0], 1)])
    assert [c.document_id for c in first.values()] == ["a"]
    writer.upsert("r", "test/unit-vectors", 4, unit_rows({"c": "gamma", "a": "alpha again"}))  # c on axis 0
    top = reader.chunks("r", [cid for cid, _ in reader.dense("r", axes[0], 1)])
    assert [c.document_id for c in top.values()] == ["c"] and reader.state("r").generation == 2
    writer.drop("r")
    writer.upsert("r", "test/unit-vectors", 4, unit_rows({"z": "zeta"}))  # generation 1 again, a new uid
    again = reader.chunks("r", [cid for cid, _ in reader.dense("r", axes[0], 5)])
    assert [c.document_id for c in again.values()] == ["z"]
    writer.drop("r")


def test_concurrent_writers_on_two_replicas_take_turns(url: str) -> None:
    stores, rounds = [PgRagStore(url), PgRagStore(url)], 6
    generations: list[int] = []
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(rounds):
                state, _ = stores[i].upsert(
                    "w", "test/unit-vectors", 4, unit_rows({f"s{i}-{j}": f"writer {i} round {j}"})
                )
                generations.append(state.generation)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert sorted(generations) == list(range(1, 2 * rounds + 1))  # no generation forked or got lost
    state = stores[0].state("w")
    assert (state.generation, state.documents, state.chunks) == (2 * rounds, 2 * rounds, 2 * rounds)
    stores[1].drop("w")


def test_a_kept_read_connection_that_the_server_closed_is_replaced(url: str) -> None:
    import psycopg

    store = PgRagStore(url)
    store.upsert("x", "test/unit-vectors", 4, unit_rows({"a": "alpha"}))
    assert store.state("x").generation == 1  # its connection is now kept for the next read
    with psycopg.connect(url, autocommit=True) as admin:  # as a server restart or an idle timeout would
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    assert store.state("x").generation == 1 and store.keyword("x", ["alpha"], 5) != []
    store.drop("x")
