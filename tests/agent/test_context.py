"""Context selection over hand-made histories: vectors are chosen so relevance is known."""

from __future__ import annotations

import numpy as np
import pytest

from agent.context import (
    MESSAGE_OVERHEAD_TOKENS,
    SUMMARY_LEAD,
    ContextSelection,
    recent_entities,
    select_context,
)
from agent.tokens import count_tokens
from stores.models import Turn, embedding_from_bytes, embedding_to_bytes

DIM = 8


def axis(i: int, lean: float = 0.0, dim: int = DIM) -> np.ndarray:
    """A unit vector along axis `i`, leaning `lean` towards the last axis."""
    vector = np.zeros(dim, dtype=np.float32)
    vector[i] = 1.0
    vector[-1] += lean
    return vector / np.linalg.norm(vector)


def turn(seq: int, question: str, answer: str, summary: str = "", vector=None) -> Turn:
    """A turn as a store returns it: counts filled in, the vector decoded from bytes."""
    return Turn(
        question=question,
        answer=answer,
        summary=summary,
        embedding=embedding_from_bytes(embedding_to_bytes(vector)),
        question_tokens=count_tokens(question),
        answer_tokens=count_tokens(answer),
        summary_tokens=count_tokens(summary),
        seq=seq,
    )


def thread(size: int, *, vectors: bool = True) -> list[Turn]:
    """`size` turns about unrelated topics; turn 2 is about Apple's gross margin."""
    turns = []
    for seq in range(1, size + 1):
        if seq == 2:
            question = "What was Apple's gross margin in FY2023?"
            answer = "Apple (AAPL) reported a gross margin of 44.1% in FY2023, up from 43.3%."
            summary = "Apple (AAPL) gross margin was 44.1% in FY2023."
            vector = axis(0)
        else:
            question = f"What is the weather pattern number {seq} in Lisbon?"
            answer = f"Lisbon weather pattern {seq} brings mild rain and some wind. " * 3
            summary = f"Lisbon weather pattern {seq}: mild rain."
            vector = axis(1 + seq % (DIM - 2))
        turns.append(turn(seq, question, answer, summary, vector if vectors else None))
    return turns


def rendered_tokens(selection: ContextSelection) -> int:
    messages = selection.messages()
    return sum(count_tokens(m["content"]) for m in messages) + MESSAGE_OVERHEAD_TOKENS * len(
        messages
    )


APPLE_QUERY = "Going back to Apple's gross margin, how does it compare with Microsoft's?"


def test_the_recent_turns_are_always_sent_in_full() -> None:
    turns = thread(12)

    selection = select_context(turns, "Something else entirely", query_embedding=axis(DIM - 2))

    recent = [e for e in selection.entries if e.mode == "full"]
    assert [e.seq for e in recent] == [11, 12]
    assert [e.text for e in recent] == [turns[10].answer, turns[11].answer]


def test_an_older_relevant_turn_is_sent_as_its_summary_and_unrelated_ones_are_not() -> None:
    turns = thread(12)

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0, lean=0.2))

    assert selection.seqs == (2, 11, 12)
    older = selection.entries[0]
    assert older.mode == "summary" and older.text == turns[1].summary
    assert older.score is not None and older.score > 0.5
    assert selection.scoring == "embedding"


def test_a_clear_match_keeps_loosely_related_turns_out() -> None:
    turns = thread(12)
    turns[5] = turn(6, "Lisbon again?", "Mild rain.", "Lisbon: mild rain.", axis(0, lean=2.0))
    query = axis(0, lean=0.3)  # cosine 0.96 with turn 2, 0.68 with turn 6

    clear = select_context(turns, APPLE_QUERY, query_embedding=query)
    loose = select_context(turns, APPLE_QUERY, query_embedding=query, similarity_margin=1.0)

    assert clear.seqs == (2, 11, 12)
    assert loose.seqs == (2, 6, 11, 12)


def test_entries_come_back_in_chronological_order() -> None:
    turns = thread(20)
    query = axis(0, lean=0.5)  # close to turn 2, and somewhat to every turn leaning last

    selection = select_context(
        turns, APPLE_QUERY, query_embedding=query, min_similarity=0.0, similarity_margin=1.0
    )

    positions = [e.position for e in selection.entries]
    assert positions == sorted(positions) and len(positions) > 3


@pytest.mark.parametrize("budget", [0, 5, 20, 40, 80, 120, 200, 400, 2000])
def test_the_token_budget_is_never_exceeded(budget: int) -> None:
    turns = thread(15)
    turns[-1] = turn(15, "And the long version?", "A very long answer about margins. " * 400)

    selection = select_context(
        turns, APPLE_QUERY, query_embedding=axis(0), token_budget=budget, min_similarity=0.0
    )

    assert selection.tokens <= budget
    assert rendered_tokens(selection) == selection.tokens  # the accounting is what is sent


def test_older_turns_go_before_recent_ones_when_the_budget_is_tight() -> None:
    turns = thread(12)
    full = select_context(turns, APPLE_QUERY, query_embedding=axis(0))
    recent_only = sum(e.tokens for e in full.entries if e.mode == "full")

    tight = select_context(turns, APPLE_QUERY, query_embedding=axis(0), token_budget=recent_only)
    tighter = select_context(
        turns, APPLE_QUERY, query_embedding=axis(0), token_budget=recent_only - 1
    )

    assert tight.seqs == (11, 12)
    assert tighter.seqs == (12,) and tighter.entries[0].text == turns[11].answer


def test_an_answer_too_long_for_the_budget_is_cut_not_dropped() -> None:
    long_answer = "Apple's revenue rose in every region. " * 600
    turns = [turn(1, "Tell me everything about Apple.", long_answer)]

    selection = select_context(turns, "And its margins?", token_budget=300)

    (entry,) = selection.entries
    assert entry.mode == "full" and entry.text.endswith("…")
    assert long_answer.startswith(entry.text[:-2].rstrip())
    assert selection.tokens <= 300


def test_max_turns_caps_the_count_recent_turns_first() -> None:
    turns = thread(20)

    capped = select_context(
        turns, APPLE_QUERY, query_embedding=axis(0, lean=0.5), max_turns=3, min_similarity=0.0
    )
    tiny = select_context(turns, APPLE_QUERY, query_embedding=axis(0), max_turns=1)
    none = select_context(turns, APPLE_QUERY, query_embedding=axis(0), max_turns=0)

    assert len(capped.entries) == 3 and capped.seqs[-2:] == (19, 20)
    assert tiny.seqs == (20,)
    assert none.entries == () and none.history_tokens > 0


def test_with_no_recent_window_only_relevant_turns_are_sent() -> None:
    turns = thread(12)

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0), recent=0)

    assert selection.seqs == (2,)


def test_without_a_query_embedding_turns_are_scored_lexically() -> None:
    turns = thread(12)

    selection = select_context(turns, APPLE_QUERY, query_embedding=None)

    assert selection.seqs == (2, 11, 12)
    assert selection.scoring == "lexical"


def test_turns_stored_without_vectors_are_scored_lexically_next_to_the_others() -> None:
    turns = thread(12)
    turns[1] = turn(2, turns[1].question, turns[1].answer, turns[1].summary, vector=None)

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0))

    assert 2 in selection.seqs
    assert selection.scoring == "mixed"


def test_vectors_of_another_dimension_fall_back_to_lexical() -> None:
    turns = thread(12)
    old = turns[1]
    turns[1] = turn(2, old.question, old.answer, old.summary, vector=axis(0, dim=DIM * 2))

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0))

    assert 2 in selection.seqs
    assert selection.scoring == "mixed"


def test_a_turn_without_a_summary_is_summarised_on_the_fly() -> None:
    turns = thread(12)
    old = turns[1]
    turns[1] = turn(2, old.question, old.answer, summary="", vector=axis(0))

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0))

    entry = selection.entries[0]
    assert entry.mode == "summary" and "44.1%" in entry.text


def test_an_exact_repeat_is_sent_once() -> None:
    turns = thread(12)
    turns[4] = turn(5, turns[1].question, turns[1].answer, turns[1].summary, axis(0))

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0))

    assert selection.seqs == (5, 11, 12)


def test_an_empty_history_selects_nothing() -> None:
    selection = select_context([], "What was Apple's revenue?", query_embedding=axis(0))

    assert selection.entries == () and selection.messages() == []
    assert selection.tokens == selection.history_tokens == selection.tokens_avoided == 0
    assert selection.scoring == "none"


def test_messages_pair_each_question_with_its_answer_or_summary() -> None:
    turns = thread(12)

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0))

    messages = selection.messages()
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[0]["content"] == turns[1].question
    assert messages[1]["content"] == SUMMARY_LEAD + turns[1].summary
    assert messages[-1]["content"] == turns[-1].answer


def test_the_tokens_avoided_are_the_rest_of_the_history() -> None:
    turns = thread(30)

    selection = select_context(turns, APPLE_QUERY, query_embedding=axis(0))

    whole = sum(t.question_tokens + t.answer_tokens + 2 * MESSAGE_OVERHEAD_TOKENS for t in turns)
    assert selection.history_tokens == whole
    assert selection.tokens_avoided == whole - selection.tokens > 0


def test_recent_entities_name_what_that_company_refers_to() -> None:
    turns = [
        turn(1, "What was Tesla's revenue?", "Tesla (TSLA) reported $97.7 billion."),
        turn(2, "And Microsoft?", "Microsoft (MSFT) reported $245.1 billion."),
    ]

    assert recent_entities(turns, last=1) == ["MSFT", "Microsoft"]
    assert recent_entities(turns)[:2] == ["MSFT", "Microsoft"]
    assert "Tesla" in recent_entities(turns)
    assert recent_entities(turns, last=0) == []
