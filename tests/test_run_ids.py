"""RunIds: what an ingest run met, exact while recent, as sorted 64-bit keys once settled."""

from __future__ import annotations

from bmb_es._run_ids import RunIds


def test_settled_ids_are_found_after_every_flush_and_merge() -> None:
    seen = RunIds(buffer_keys=4)
    batches = [[f"doc-{batch}-{n}" for n in range(5)] for batch in range(9)]
    for batch in batches:
        seen.recent.update(dict.fromkeys(batch, "hash"))
        seen.settle()
    assert seen.recent == {}
    every = [id for batch in batches for id in batch]
    assert seen.settled_among(every) == set(every)
    assert seen.settled_among(["never-met", "doc-9-0"]) == set()
    assert seen.settled_bytes == 8 * len(every)  # the buffer flushed into arrays, merged without duplicates


def test_settle_keeps_the_ids_of_writes_still_queued() -> None:
    seen = RunIds(buffer_keys=2)
    seen.recent.update({"written": "a", "queued": "b"})
    seen.settle(keep={"queued"})
    assert seen.recent == {"queued": "b"}
    assert seen.settled_among(["written", "queued"]) == {"written"}


def test_an_id_settled_twice_is_stored_once() -> None:
    seen = RunIds(buffer_keys=1)
    seen.settle_ids(["a"])
    seen.settle_ids(["a"])
    seen.settle_ids(["b"])
    assert seen.settled_among(["a", "b", "c"]) == {"a", "b"}
    assert seen.settled_bytes == 16
