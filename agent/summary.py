"""Short, deterministic summaries of a turn that keep its tickers, names and figures.

An older turn goes back into the model's context as its summary only, so the summary must
carry what a later question may lean on: the company, the metric, the number and its
period ("Apple's gross margin was 44.1% in FY2023"). Phrasing is cheap to regenerate;
the figures are not. `extractive_summary` picks the answer's one or two sentences densest
in figures and entities that also share words with the question, and keeps them verbatim.

The orchestrator may ask the model for a summary instead (`DEXTER_SUMMARIZE_LLM`) and
falls back to this one whenever that call fails; it costs no tokens and about a millisecond.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Money, percentages, multiples and scaled numbers, fiscal periods, years, and other
# numbers that carry a decimal point or thousands separators. Order matters: at any
# position the first alternative that matches wins, so longer forms come first.
_FIGURE = re.compile(
    r"""
    [-−+]?[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:trillion|billion|million|thousand|bn|tn|[TBMK])\b)?
    | [-−+]?\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|bps\b|basis\spoints\b|pp\b|x\b)
    | \d[\d,]*(?:\.\d+)?\s?(?:trillion|billion|million|thousand)\b
    | \bFY\s?'?\d{2,4}\b
    | \b[QH][1-4]\s?(?:FY\s?)?'?\d{2,4}\b
    | \b[1-4][QH]\s?'?\d{2,4}\b
    | \b(?:19|20)\d{2}\b
    | \b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b
    | \b\d+\.\d+\b
    """,
    re.VERBOSE | re.IGNORECASE,
)
_TICKER = re.compile(r"(?<![\w$])\$?[A-Z]{2,6}(?:\.[A-B])?\b")  # AAPL, BRK.B, and NVIDIA
_NAME_WORD = r"[A-Z][A-Za-z]*[a-z][A-Za-z]*"  # capitalised with a lower-case letter: JPMorgan
_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s(?:&\s)?{_NAME_WORD})*")
_WORD = re.compile(r"[a-z0-9]+")
_STEMMER = snowballstemmer.stemmer("english")
# What analysts call one metric several ways, as word sequences; the longest match wins
# ("net interest income" over "net income", "gross profit margin" over "profit").
_METRIC_TERMS = {
    "netinterestincome": ("net interest income", "nii"),
    "grossmargin": ("gross profit margin", "gross profit margins", "gross margin", "gross margins"),
    "operatingmargin": tuple(
        f"{kind} {margin}"
        for kind in ("operating", "op", "ebit")
        for margin in ("margin", "margins")
    ),
    "freecashflow": ("free cash flow", "free cash flows", "fcf"),
    "eps": ("diluted eps", "diluted earnings per share", "earnings per share", "eps"),
    "rnd": ("r d spending", "r d budget", "r d", "research and development"),
    "netincome": (
        "net income",
        "net profit",
        "net profits",
        "net earnings",
        "bottom line",
        "profit",
        "profits",
    ),
    "revenue": ("top line", "total revenue", "total revenues", "revenue", "revenues", "sales"),
}


def _phrase_index(
    terms: dict[str, tuple[str, ...]],
) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """First word -> (phrase words, term), longest phrase first."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for term, names in terms.items():
        for name in names:
            words = tuple(name.split())
            index.setdefault(words[0], []).append((words, term))
    for phrases in index.values():
        phrases.sort(key=lambda phrase: -len(phrase[0]))
    return index


_METRIC_PHRASES = _phrase_index(_METRIC_TERMS)

# Word lists read best as text, hence the split() calls.
# Upper-case words that are finance vocabulary, not tickers.
_NOT_TICKERS = frozenset(
    """AI API CAGR CEO CET CFO CPI EBIT EBITDA EPS ETF EU EV FCF FED FX GAAP GDP IPO LLM
    NII OK PE ROA ROE ROIC ROTCE SEC TTM UK US USA USD YOY YTD AND THE FOR""".split()  # noqa: SIM905
)
# Capitalised words that open sentences or name periods, not companies.
_NOT_NAMES = frozenset(
    """A About After Also An And As At Because Before Both But By Compared Despite Down
    During Earlier Fiscal For From Going Growth Here How However If In It Its Key Meanwhile
    Net Note On Operating Over Overall Q Revenue Since So That The Their Then There These
    This Those Through To Total Up We What When Where Which While Why With Year Yes You
    January February March April May June July August September October November December
    Gross Free Cash Margin Sales Earnings Income Figures Source Sources Compare Give Put Has
    Have Is Are Can Could Would Should Did Does Do Tell Show Pull List Explain Remind Using
    Take Same Please Let Break Summarize Summarise Who Whose Was Were Any Of Rank Order Sort
    Rate Name Go Back Now Ok Okay Thanks Thank Great Cool Nice Just Again Still""".split()  # noqa: SIM905
)
# Words that carry no topic; shared with `agent.context` for its lexical scoring.
STOPWORDS = frozenset(
    """a about after again against all also am an and any are as at be been before being
    between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just
    let me more most my no nor not now of off on once only or other our out over own same
    she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom
    why will with would you your yours tell give show please pull get got much many back
    going earlier mentioned remind compare compared versus vs said gave""".split()  # noqa: SIM905
)

_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_MD_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_MD_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_BOLD_LINE = re.compile(r"^\s*(\*\*|__)[^*_]+\1\s*$")  # a bold line used as a heading
_MD_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_MD_QUOTE = re.compile(r"^\s*>+\s?")
_MD_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_AUTOLINK = re.compile(r"<(https?://[^>|\s]+)(?:\|([^>]+))?>")
_MD_EMPHASIS = re.compile(r"(?<![\w*~])(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1(?![\w*~])")
_MD_CODE = re.compile(r"`([^`]*)`")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SPACES = re.compile(r"\s+")

# A sentence ends at . ! or ? followed by space and a capital, digit, $ or quote, except
# after the abbreviations finance prose is full of ("Inc.", "vs.", "U.S.").
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[$€£A-Z0-9])")
_ABBREVIATIONS = (
    "inc.",
    "corp.",
    "co.",
    "ltd.",
    "plc.",
    "vs.",
    "e.g.",
    "i.e.",
    "approx.",
    "no.",
    "u.s.",
    "st.",
    "mr.",
    "ms.",
    "dr.",
    "jan.",
    "feb.",
    "aug.",
    "sept.",
    "oct.",
    "nov.",
    "dec.",
)
_MIN_SENTENCE_WORDS = 3
_TABLE_WEIGHT = 0.7


def key_figures(text: str) -> list[str]:
    """The figures in `text`, first occurrence order, without repeats.

    >>> key_figures("Revenue was $383.3 billion in FY2023, down 2.8%.")
    ['$383.3 billion', 'FY2023', '2.8%']
    """
    seen: dict[str, None] = {}
    for match in _FIGURE.finditer(text):
        seen.setdefault(match.group().strip().rstrip(","), None)
    return list(seen)


def key_entities(text: str) -> list[str]:
    """Tickers and capitalised company-like names in `text`, first occurrence order.

    A heuristic, not a named-entity model: upper-case words of 2–6 letters that are not
    finance acronyms, and runs of capitalised words less those that usually open a
    sentence or name a metric ("What", "Revenue").
    """
    seen: dict[str, None] = {}
    for match in _TICKER.finditer(text):
        ticker = match.group().lstrip("$")
        if ticker not in _NOT_TICKERS:
            seen.setdefault(ticker, None)
    for match in _NAME.finditer(text):
        name = _name(match.group().split())
        if name:
            seen.setdefault(name, None)
    return list(seen)


def mentioned_names(text: str) -> list[str]:
    """The entities of `key_entities` that `text` plainly uses as names, first seen first.

    Stricter, for searching with: a capitalised word that only ever opens a sentence
    ("Yeah", "Glad", "Remember") is more likely a word than a name unless a ticker follows
    it ("Apple (AAPL) reported"), and an upper-case word counts as a ticker in parentheses
    or after "$" ("Apple (AAPL)", "$NVDA").
    """
    seen: dict[str, None] = {}
    for match in _TICKER.finditer(text):
        ticker = match.group().lstrip("$")
        in_parentheses = _char_before(text, match.start(), string.whitespace) == "("
        if ticker not in _NOT_TICKERS and (match.group()[0] == "$" or in_parentheses):
            seen.setdefault(ticker, None)
    for match in _NAME.finditer(text):
        words = match.group().split()
        named = text.startswith(" (", match.end())  # "Apple (AAPL) reported"
        if _char_before(text, match.start(), " \t\"'(*-•") in _SENTENCE_ENDS and not named:
            words = words[1:]  # "Remember Jon": only the first word is in doubt
        name = _name(words)
        if name:
            seen.setdefault(name, None)
    return list(seen)


_SENTENCE_ENDS = ("", ".", "!", "?", ":", ";", "\n")


def _char_before(text: str, start: int, skipping: str) -> str:
    """The character before `start` once `skipping` characters are passed; "" at the start."""
    index = start
    while index > 0 and text[index - 1] in skipping:
        index -= 1
    return text[index - 1] if index else ""


def _name(words: list[str]) -> str:
    """A run of capitalised words as a name, less sentence openers and metric words."""
    words = [w for w in words if w not in _NOT_NAMES]
    while words and words[0] == "&":
        words.pop(0)
    return " ".join(words)


def content_terms(text: str) -> list[str]:
    """Lower-case word stems of `text` that carry topic: no stopwords.

    "Apple's gross margins" -> ["appl", "grossmargin"]; "camped" and "camping" both give
    "camp"; a metric's usual names give one term ("top line", "sales" -> "revenue").
    Shared by the summariser's question overlap and `agent.context`'s lexical scoring, so
    both agree on a "word". Snowball's English stemmer measured +5 points of BM25 recall
    on LoCoMo over folding plurals alone (`python -m bench.context`).
    """
    terms = []
    for word in _metric_words(_WORD.findall(text.lower())):
        term = _term(word)
        if term:
            terms.append(term)
    return terms


def _metric_words(words: list[str]) -> list[str]:
    """`words` with each metric's names, one word or several, replaced by one term."""
    out: list[str] = []
    index = 0
    while index < len(words):
        for phrase, term in _METRIC_PHRASES.get(words[index], ()):
            if tuple(words[index : index + len(phrase)]) == phrase:
                out.append(term)
                index += len(phrase)
                break
        else:
            out.append(words[index])
            index += 1
    return out


@lru_cache(maxsize=65_536)
def _term(word: str) -> str:
    """`word` as a topic term ("margins" -> "margin"), or "" for a stopword."""
    if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
        return ""
    if not word.isalpha():
        return word
    return _STEMMER.stemWord(word)


def strip_markdown(text: str) -> str:
    """The prose of a Markdown answer, one line per paragraph, bullet or table row.

    Markup goes (emphasis, links, code, quotes, list marks); headings (and lines wholly in
    bold, which serve as headings), rules and code blocks go entirely. A table becomes one
    line like "Revenue: FY2022 $394.3B, FY2023 $383.3B" so its figures stay attached to
    what they measure.
    """
    return "\n".join(line for line, _ in _prose_lines(text))


def split_sentences(text: str) -> list[str]:
    """The sentences of a Markdown answer, keeping "Inc." and "$383.3" whole."""
    return [sentence for sentence, _ in _sentences(text)]


def _prose_lines(text: str) -> list[tuple[str, bool]]:
    """(line, is a table) for each line of prose in `text`; a whole table is one line."""
    lines: list[tuple[str, bool]] = []
    table: list[list[str]] = []
    in_fence = False

    def end_table() -> None:
        if len(table) > 1:
            lines.append((_table_line(table[0], table[1:]), True))
        table.clear()

    for raw in text.splitlines():
        if _MD_FENCE.match(raw):
            in_fence = not in_fence
            continue
        line = raw.strip()
        if not in_fence and (line.startswith("|") or line.count("|") >= 2):
            if not _MD_TABLE_SEPARATOR.match(raw):
                table.append([_inline(cell) for cell in line.strip("|").split("|")])
            continue
        end_table()
        if in_fence or _MD_HEADING.match(raw) or _MD_RULE.match(raw) or _MD_BOLD_LINE.match(raw):
            continue
        line = _inline(_MD_QUOTE.sub("", _MD_LIST_MARK.sub("", line)))
        if line:
            lines.append((line, False))
    end_table()
    return lines


def _sentences(text: str) -> list[tuple[str, bool]]:
    """(sentence, is a table) in order; a table stays one "sentence", figures and all."""
    sentences: list[tuple[str, bool]] = []
    for line, table in _prose_lines(text):
        if table:
            sentences.append((line, True))
            continue
        start = 0
        for match in _SENTENCE_END.finditer(line):
            before = line[start : match.start()]
            if before.lower().endswith(_ABBREVIATIONS):
                continue
            sentences.append((before.strip(), table))
            start = match.end()
        sentences.append((line[start:].strip(), table))
    return [(sentence, table) for sentence, table in sentences if sentence]


def extractive_summary(
    question: str, answer: str, *, max_sentences: int = 2, max_chars: int = 300
) -> str:
    """One or two sentences of `answer` that keep its figures and names, in original order.

    Sentences are scored by figures (weight 2), entities and words shared with the
    question (1.5 each), divided by their length so a dense clause beats a rambling one;
    a table counts for less than prose, which also says whose figures they are. The
    question's companies are prefixed ("Apple: ...") when the chosen sentences omit them,
    since "Gross margin was 44.1%" alone no longer says whose it was.
    """
    sentences = _sentences(answer)
    if not sentences:
        return ""
    question_terms = set(content_terms(question))
    candidates = [
        _Candidate.of(position, sentence, table, question_terms)
        for position, (sentence, table) in enumerate(sentences)
    ]
    candidates = [c for c in candidates if c.words >= _MIN_SENTENCE_WORDS or c.figures]
    if any(c.figures for c in candidates):
        # Commentary with neither a figure nor a word of the question ("The main factor
        # was ...") is what a later question can most easily do without.
        candidates = [c for c in candidates if c.figures or c.overlap]
    if not candidates:
        return _clip(" ".join(sentence for sentence, _ in sentences), max_chars)

    # Greedy, and each pick re-scores the rest on the figures they would add, so a table
    # that repeats the prose's numbers does not take the second slot.
    chosen: list[tuple[int, str]] = []
    seen_figures: frozenset[str] = frozenset()
    length = 0
    while candidates and len(chosen) < max_sentences:
        best = max(candidates, key=lambda c: (c.score(seen_figures), -c.position))
        candidates.remove(best)
        if chosen and length + 1 + len(best.text) > max_chars:
            continue
        chosen.append((best.position, best.text))
        seen_figures |= best.figures
        length += len(best.text) + (1 if len(chosen) > 1 else 0)
    body = " ".join(sentence for _, sentence in sorted(chosen))

    missing = [e for e in key_entities(question) if e.lower() not in body.lower()]
    if missing:
        body = f"{', '.join(missing[:2])}: {body}"
    return _clip(body, max_chars)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A sentence of the answer and what it would contribute to a summary."""

    position: int
    text: str
    words: int
    figures: frozenset[str]
    entities: int
    overlap: int
    table: bool

    @classmethod
    def of(cls, position: int, sentence: str, table: bool, question_terms: set[str]) -> _Candidate:
        return cls(
            position=position,
            text=_with_full_stop(sentence),
            words=len(sentence.split()),
            figures=frozenset(_canonical(figure) for figure in key_figures(sentence)),
            entities=len(key_entities(sentence)),
            overlap=len(question_terms.intersection(content_terms(sentence))),
            table=table,
        )

    def score(self, seen_figures: frozenset[str]) -> float:
        new_figures = len(self.figures - seen_figures)
        raw = (2 * new_figures + 1.5 * self.entities + 1.5 * self.overlap) / (1 + self.words / 30)
        return raw * _TABLE_WEIGHT if self.table else raw


def _inline(text: str) -> str:
    text = _MD_IMAGE_OR_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _MD_CODE.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    previous = None
    while previous != text:
        previous, text = text, _MD_EMPHASIS.sub(r"\2", text)
    return _SPACES.sub(" ", text).strip()


def _table_line(header: list[str], rows: list[list[str]]) -> str:
    """A table as one line that keeps every figure next to its row and column.

    Two columns (the usual company/figure or year/figure table) read "Net income FY2023:
    JPMorgan Chase $49.6 billion; Bank of America $26.5 billion"; wider tables give each
    row its column names: "Revenue: FY2022 $394.3B, FY2023 $383.3B; EPS: ...".
    """
    if len(header) == 2:
        cells = "; ".join(" ".join(c for c in row[:2] if c) for row in rows)
        return f"{header[1]}: {cells}" if header[1] else cells
    described = []
    for row in rows:
        label, values = row[0], row[1:]
        pairs = [
            f"{name} {value}".strip() if name else value
            for name, value in zip(header[1:], values, strict=False)
            if value
        ]
        described.append(f"{label}: {', '.join(pairs)}" if label else ", ".join(pairs))
    return "; ".join(described)


_UNIT_WORDS = (
    ("trillion", "t"),
    ("billion", "b"),
    ("million", "m"),
    ("thousand", "k"),
    ("percent", "%"),
    ("bn", "b"),
    ("tn", "t"),
    (" ", ""),
    (",", ""),
)


def _canonical(figure: str) -> str:
    """One key for "$383.3 billion" and "$383.3B", so a repeated figure is seen as such."""
    figure = figure.lower()
    for word, short in _UNIT_WORDS:
        figure = figure.replace(word, short)
    return figure


def _with_full_stop(sentence: str) -> str:
    return sentence if sentence[-1] in ".!?" else f"{sentence}."


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:") + "…"
