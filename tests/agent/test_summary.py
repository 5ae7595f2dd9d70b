"""Extractive summaries keep who, what and how much; Markdown does not survive them."""

from __future__ import annotations

from agent.summary import (
    content_terms,
    extractive_summary,
    key_entities,
    key_figures,
    mentioned_names,
    split_sentences,
    strip_markdown,
)

REPORT = """## Apple FY2023 results

Great question! Here is what I found.

**Apple Inc. (AAPL)** reported total net sales of **$383.3 billion** in FY2023, down 2.8%
from $394.3B in FY2022. Gross margin expanded to 44.1% as Services grew to $85.2 billion.
See [the 10-K](https://www.sec.gov/Archives/aapl-10k.htm) for details.

| Metric | FY2022 | FY2023 |
|---|---|---|
| Revenue | $394.3B | $383.3B |
| EPS | $6.11 | $6.13 |

- iPhone revenue fell 2% to $200.6B
- Analysts were *broadly* unsurprised.
"""


def test_figures_tickers_and_names_are_kept() -> None:
    summary = extractive_summary("What was Apple's revenue in FY2023?", REPORT)

    for kept in ("AAPL", "Apple", "$383.3 billion", "FY2023", "2.8%"):
        assert kept in summary
    assert len(summary) <= 300


def test_markdown_is_stripped() -> None:
    summary = extractive_summary("What was Apple's revenue and margin?", REPORT)
    plain = strip_markdown(REPORT)

    for markup in ("**", "##", "|", "](", "https://", "- iPhone", "*broadly*"):
        assert markup not in summary
        assert markup not in plain
    assert "See the 10-K for details." in plain
    assert "iPhone revenue fell 2% to $200.6B" in plain
    assert strip_markdown("The `net_income` field and __bold__ x*y") == (
        "The net_income field and bold x*y"
    )


def test_a_table_becomes_one_line_that_keeps_its_figures() -> None:
    peers = (
        "| Company | Net income FY2023 |\n|---|---|\n"
        "| JPMorgan Chase (JPM) | $49.6 billion |\n| Bank of America (BAC) | $26.5 billion |\n"
    )

    assert strip_markdown(peers) == (
        "Net income FY2023: JPMorgan Chase (JPM) $49.6 billion; Bank of America (BAC) $26.5 billion"
    )
    assert "Revenue: FY2022 $394.3B, FY2023 $383.3B; EPS: FY2022 $6.11" in strip_markdown(REPORT)


def test_the_summary_is_deterministic() -> None:
    question = "How did Apple do in FY2023?"

    assert len({extractive_summary(question, REPORT) for _ in range(5)}) == 1


def test_a_short_answer_is_kept_whole() -> None:
    answer = "Microsoft's gross margin was 69.8% in FY2024."

    assert extractive_summary("What was Microsoft's gross margin?", answer) == answer
    assert extractive_summary("Thanks!", "You're welcome.") == "You're welcome."
    assert extractive_summary("Hello?", "") == ""


def test_the_company_asked_about_is_prefixed_when_the_answer_omits_it() -> None:
    summary = extractive_summary("What is NVIDIA's gross margin?", "It reached 72.7% in FY2024.")

    assert summary == "NVIDIA: It reached 72.7% in FY2024."


def test_commentary_without_figures_gives_way_to_sentences_with_them() -> None:
    answer = (
        "Costco (COST) reported revenue of $254.5 billion in FY2024, up 5.0%. "
        "The main factor was membership fee income and strong renewal rates. "
        "Net income was $7.4 billion, or $16.56 per share."
    )

    summary = extractive_summary("How much revenue did Costco report?", answer)

    assert summary == (
        "Costco (COST) reported revenue of $254.5 billion in FY2024, up 5.0%. "
        "Net income was $7.4 billion, or $16.56 per share."
    )


def test_a_long_answer_is_clipped_at_a_word() -> None:
    answer = "Alphabet's revenue grew 14% to $350.0 billion in 2024 " + "and more " * 80 + "."

    summary = extractive_summary("Alphabet revenue?", answer, max_chars=120)

    assert len(summary) <= 120 and summary.endswith("…")
    assert "$350.0 billion" in summary


def test_key_figures_finds_money_percentages_multiples_and_periods() -> None:
    text = (
        "Q3 2024 revenue rose 12% to $1.2B; EPS was $6.13 on 1,200 million shares; it trades "
        "at 25x earnings; FY24 guidance was cut by 45 bps; 1H24 margin was 38.5%."
    )

    assert key_figures(text) == [
        "Q3 2024",
        "12%",
        "$1.2B",
        "$6.13",
        "1,200 million",
        "25x",
        "FY24",
        "45 bps",
        "1H24",
        "38.5%",
    ]


def test_key_entities_finds_tickers_and_company_names() -> None:
    text = "Apple (AAPL) beat Microsoft Corp. while JPMorgan Chase and Johnson & Johnson lagged."

    assert key_entities(text) == [
        "AAPL",
        "Apple",
        "Microsoft Corp",
        "JPMorgan Chase",
        "Johnson & Johnson",
    ]
    assert key_entities("The EPS and GAAP figures rose.") == []


def test_sentences_split_at_full_stops_not_at_decimals_or_abbreviations() -> None:
    text = "Apple Inc. earned $97.0 billion. Margins vs. peers were 44.1%. Done!"

    assert split_sentences(text) == [
        "Apple Inc. earned $97.0 billion.",
        "Margins vs. peers were 44.1%.",
        "Done!",
    ]


def test_content_terms_drop_stopwords_and_stem() -> None:
    assert content_terms("What were Apple's profits in 2023?") == ["appl", "netincom", "2023"]
    assert content_terms("camped") == content_terms("camping") == ["camp"]


def test_a_metric_is_one_term_whatever_an_analyst_calls_it() -> None:
    assert content_terms("top line") == content_terms("sales") == content_terms("revenues")
    assert content_terms("FCF") == content_terms("free cash flow")
    assert content_terms("EPS") == content_terms("diluted earnings per share")
    assert content_terms("R&D spending") == content_terms("research and development")
    assert content_terms("net interest income") != content_terms("net income")
    assert content_terms("gross profit margin") == content_terms("gross margins")


def test_mentioned_names_are_names_used_as_names_not_words_opening_a_sentence() -> None:
    text = (
        "Bank of America (BAC) reported $26.5 billion. Currency moves hurt. "
        "Starting from that, Tesla grew. Yeah, and $NVDA too."
    )

    assert mentioned_names(text) == ["BAC", "NVDA", "America", "Tesla"]
    assert mentioned_names("Microsoft (MSFT) reported $245.1 billion.") == ["MSFT", "Microsoft"]
    assert mentioned_names("Glad you asked. Remember Jon?") == ["Jon"]
