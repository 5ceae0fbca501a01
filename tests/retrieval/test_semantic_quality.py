"""Paraphrased questions find the chunk that answers them, on the fixed corpus in tests/fixtures/corpus."""

from __future__ import annotations

import pytest

from retrieval import ChunkStore, PermissionFilter

from .conftest import CorpusDocument, load_corpus

# (question worded differently from the text, file that answers it, words of the answering chunk)
PARAPHRASES = [
    (
        "Can I fly business class on a long overnight trip?",
        "travel_policy.md",
        "approved by a vice president",
    ),
    ("What is the nightly hotel cap in London?", "travel_policy.md", "300 dollars per night"),
    ("How much can I spend on food per day when on a business trip?", "travel_policy.md", "meal allowance"),
    (
        "What revenue goal does the western territory have for the third quarter?",
        "q3_sales_targets.txt",
        "West",
    ),
    ("When do sales reps earn extra commission?", "q3_sales_targets.txt", "Commission accelerators"),
    (
        "How quickly must regulators be told about a breach of customer data?",
        "incident_response.md",
        "72 hours",
    ),
    ("What should we do with a hacked server?", "incident_response.md", "Isolate compromised hosts"),
    ("How many weeks off do new parents get?", "parental_leave.md", "20 weeks"),
    ("I forgot my login credentials, how do I get back in?", "it_password_reset.txt", "Forgot password"),
    (
        "Why is my account blocked after typing the wrong password several times?",
        "it_password_reset.txt",
        "locked",
    ),
    ("How long do we keep server logs?", "data_retention.md", "logs are retained for 90 days"),
    ("When is lunch served in the canteen?", "office_facilities.txt", "lunch from 12 to 2"),
    ("Where can I leave my bike?", "office_facilities.txt", "Bicycles"),
    ("What trainings must I finish during my first week?", "onboarding.md", "compliance trainings"),
    ("How long is the trial period for new employees?", "onboarding.md", "probation period"),
]


@pytest.fixture
async def loaded(chunk_store: ChunkStore, corpus: list[CorpusDocument]) -> ChunkStore:
    await load_corpus(chunk_store, corpus, "tenant-a")
    return chunk_store


def _rank(store: ChunkStore, question: str, file_name: str, needle: str) -> int | None:
    results = store.search(PermissionFilter("tenant-a", ["Everyone"]), question, k=5)
    for rank, doc in enumerate(results):
        if doc.metadata["file_name"] == file_name and needle in doc.page_content:
            return rank
    return None


async def test_every_paraphrase_finds_its_chunk_in_the_top_three(loaded: ChunkStore) -> None:
    misses = [q for q, f, n in PARAPHRASES if (r := _rank(loaded, q, f, n)) is None or r > 2]
    assert misses == []


async def test_most_paraphrases_rank_their_chunk_first(loaded: ChunkStore) -> None:
    ranks = [_rank(loaded, q, f, n) for q, f, n in PARAPHRASES]
    mrr = sum(1.0 / (r + 1) for r in ranks if r is not None) / len(ranks)
    first = sum(r == 0 for r in ranks)
    assert first >= 13, ranks
    assert mrr >= 0.9


async def test_unrelated_question_scores_lower_than_a_matching_one(loaded: ChunkStore) -> None:
    scope = PermissionFilter("tenant-a", ["Everyone"])
    matching = loaded.search(scope, "How many weeks of paid leave for a new parent?", 1)[0].metadata["score"]
    unrelated = loaded.search(scope, "recipe for chocolate chip cookies", 1)[0].metadata["score"]
    assert matching > unrelated + 0.2
