"""Write bench/data/threads.jsonl: research threads with follow-ups labelled by what they need.

    .venv/bin/python -m bench.make_threads            # rewrites the file, byte for byte

Each line is one thread: `{"id", "turns": [{"question", "answer", "kind", "needs"?}]}`.
A thread is 20–60 turns about a handful of companies: explicit questions, pronoun
follow-ups, returns to topics from far back, comparisons across them, and the odd
general or macro question. Everything is drawn from seeded templates over the figures
below, so the file is reproducible.

`needs` lists the earlier turns (0-based) a follow-up cannot be answered without:

- a pronoun follow-up ("How did that change since 2021?", "And what about Microsoft?",
  "What was its operating margin that year?") needs the previous turn;
- a return ("Remind me what gross margin you gave me for Apple earlier?") needs the one
  earlier turn that stated that company's figure for that metric — returns are only
  generated for (company, metric) pairs stated in exactly one turn, so the label is
  never a guess between several;
- a comparison of two earlier figures needs both turns; "How does that compare with
  AMD's from earlier?" needs the previous turn and AMD's.

Explicit questions and general questions have no `needs`: they stand alone.

The figures are approximate annual values from company filings (fiscal years as each
company reports them; billions of US dollars), good enough to read like real research;
do not use them as data.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

SEED = 20261128
THREADS = 36
MIN_TURNS, MAX_TURNS = 20, 60
YEARS = (2021, 2022, 2023, 2024)
OUTPUT = Path(__file__).parent / "data" / "threads.jsonl"

Series = tuple[float, float, float, float]


@dataclass(frozen=True)
class Company:
    """A company's approximate annual figures, FY2021–FY2024, and what drove them."""

    ticker: str
    name: str
    group: str
    fiscal_note: str
    driver: str
    detail: str
    revenue: Series
    net_income: Series
    eps: Series
    operating_income: Series | None = None
    gross_margin: Series | None = None
    fcf: Series | None = None
    rnd: Series | None = None
    nii: Series | None = None

    def series(self, metric: str) -> Series | None:
        """The metric's four yearly values; operating margin is derived, not stored."""
        if metric == "operating_margin":
            if self.operating_income is None:
                return None
            a, b, c, d = (
                round(100 * income / revenue, 1)
                for income, revenue in zip(self.operating_income, self.revenue, strict=True)
            )
            return (a, b, c, d)
        return getattr(self, metric)

    def metrics(self) -> list[str]:
        return [m for m in METRICS if self.series(m) is not None]


COMPANIES = [
    Company(
        ticker="AAPL",
        name="Apple",
        group="big tech",
        fiscal_note="its fiscal year ends in late September",
        driver=(
            "a richer mix of Services, which carries gross margins above 70%, and resilient "
            "iPhone pricing"
        ),
        detail="iPhone is roughly half of revenue, and Services reached $96.2 billion in FY2024",
        revenue=(365.8, 394.3, 383.3, 391.0),
        net_income=(94.7, 99.8, 97.0, 93.7),
        eps=(5.61, 6.11, 6.13, 6.08),
        operating_income=(108.9, 119.4, 114.3, 123.2),
        gross_margin=(41.8, 43.3, 44.1, 46.2),
        fcf=(93.0, 111.4, 99.6, 108.8),
        rnd=(21.9, 26.3, 29.9, 31.4),
    ),
    Company(
        ticker="MSFT",
        name="Microsoft",
        group="big tech",
        fiscal_note="its fiscal year ends in June",
        driver=(
            "Azure growing close to 30% a year and more Microsoft 365 seats moving to premium tiers"
        ),
        detail="Intelligent Cloud, its largest segment, brought in $105.4 billion in FY2024",
        revenue=(168.1, 198.3, 211.9, 245.1),
        net_income=(61.3, 72.7, 72.4, 88.1),
        eps=(8.05, 9.65, 9.68, 11.8),
        operating_income=(69.9, 83.4, 88.5, 109.4),
        gross_margin=(68.9, 68.4, 68.9, 69.8),
        fcf=(56.1, 65.1, 59.5, 74.1),
        rnd=(20.7, 24.5, 27.2, 29.5),
    ),
    Company(
        ticker="GOOGL",
        name="Alphabet",
        group="big tech",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "a rebound in Search advertising and Google Cloud turning profitable after the 2023 "
            "cost cuts"
        ),
        detail="Google Cloud revenue reached $43.2 billion in 2024",
        revenue=(257.6, 282.8, 307.4, 350.0),
        net_income=(76.0, 60.0, 73.8, 100.1),
        eps=(5.61, 4.56, 5.8, 8.04),
        operating_income=(78.7, 74.8, 84.3, 112.4),
        gross_margin=(56.9, 55.4, 56.6, 58.2),
        fcf=(67.0, 60.0, 69.5, 72.8),
        rnd=(31.6, 39.5, 45.4, 49.3),
    ),
    Company(
        ticker="AMZN",
        name="Amazon",
        group="big tech",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "AWS margins recovering and a regionalised fulfilment network lowering the cost to "
            "serve"
        ),
        detail="AWS generated $107.6 billion of revenue and most of the operating income in 2024",
        revenue=(469.8, 514.0, 574.8, 638.0),
        net_income=(33.4, -2.7, 30.4, 59.2),
        eps=(3.24, -0.27, 2.9, 5.53),
        operating_income=(24.9, 12.2, 36.9, 68.6),
        gross_margin=(42.0, 43.8, 47.0, 48.9),
        fcf=(-9.1, -11.6, 32.2, 38.2),
        rnd=(56.1, 73.2, 85.6, 88.5),
    ),
    Company(
        ticker="META",
        name="Meta Platforms",
        group="big tech",
        fiscal_note="its fiscal year is the calendar year",
        driver="the 2023 'year of efficiency' headcount cuts and a recovery in ad pricing",
        detail="Reality Labs lost about $17.7 billion in 2024",
        revenue=(117.9, 116.6, 134.9, 164.5),
        net_income=(39.4, 23.2, 39.1, 62.4),
        eps=(13.77, 8.59, 14.87, 23.86),
        operating_income=(46.8, 28.9, 46.8, 69.4),
        gross_margin=(80.8, 78.3, 80.8, 81.7),
        fcf=(39.1, 19.0, 43.0, 52.1),
        rnd=(24.7, 35.3, 38.5, 43.9),
    ),
    Company(
        ticker="NVDA",
        name="NVIDIA",
        group="semiconductors",
        fiscal_note="its fiscal year ends in late January, so FY2024 is mostly calendar 2023",
        driver=(
            "surging demand for Hopper data-center GPUs from cloud providers building AI capacity"
        ),
        detail="Data Center revenue was $47.5 billion in FY2024, over three-quarters of the total",
        revenue=(16.7, 26.9, 27.0, 60.9),
        net_income=(4.3, 9.8, 4.4, 29.8),
        eps=(1.73, 3.85, 1.74, 11.93),
        operating_income=(4.5, 10.0, 4.2, 33.0),
        gross_margin=(62.3, 64.9, 56.9, 72.7),
        fcf=(4.7, 8.1, 3.8, 27.0),
        rnd=(3.9, 5.3, 7.3, 8.7),
    ),
    Company(
        ticker="AMD",
        name="AMD",
        group="semiconductors",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "Xilinx amortisation weighing on GAAP profit while EPYC server CPUs and MI300 GPUs grew"
        ),
        detail="the Data Center segment roughly doubled to $12.6 billion in 2024",
        revenue=(16.4, 23.6, 22.7, 25.8),
        net_income=(3.2, 1.3, 0.9, 1.6),
        eps=(2.57, 0.84, 0.53, 1.0),
        operating_income=(3.6, 1.3, -0.1, 1.9),
        gross_margin=(48.2, 44.9, 46.1, 49.4),
        fcf=(3.2, 3.1, 1.1, 2.4),
        rnd=(2.8, 5.0, 5.9, 6.5),
    ),
    Company(
        ticker="INTC",
        name="Intel",
        group="semiconductors",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "share losses in PC and server CPUs, heavy foundry spending and large 2024 impairments"
        ),
        detail="Intel Foundry posted an operating loss of about $13.4 billion in 2024",
        revenue=(79.0, 63.1, 54.2, 53.1),
        net_income=(19.9, 8.0, 1.7, -18.8),
        eps=(4.86, 1.94, 0.4, -4.38),
        operating_income=(19.5, 2.3, 0.1, -11.7),
        gross_margin=(55.4, 42.6, 40.0, 32.7),
        fcf=(9.7, -9.6, -14.3, -15.7),
        rnd=(15.2, 17.5, 16.0, 16.5),
    ),
    Company(
        ticker="AVGO",
        name="Broadcom",
        group="semiconductors",
        fiscal_note=(
            "its fiscal year ends in early November; per-share figures reflect the 2024 10-for-1 "
            "split"
        ),
        driver=(
            "the VMware acquisition adding software revenue and amortisation, plus custom AI chips"
        ),
        detail="AI-related semiconductor revenue reached about $12.2 billion in FY2024",
        revenue=(27.5, 33.2, 35.8, 51.6),
        net_income=(6.7, 11.5, 14.1, 5.9),
        eps=(1.5, 2.65, 3.3, 1.23),
        operating_income=(8.5, 14.2, 16.2, 13.5),
        gross_margin=(61.0, 66.5, 68.9, 63.0),
        fcf=(13.3, 16.3, 17.6, 19.4),
        rnd=(4.9, 4.9, 5.3, 9.3),
    ),
    Company(
        ticker="TSLA",
        name="Tesla",
        group="autos",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "repeated vehicle price cuts squeezing automotive margins, partly offset by energy "
            "storage"
        ),
        detail="energy generation and storage revenue grew to about $10.1 billion in 2024",
        revenue=(53.8, 81.5, 96.8, 97.7),
        net_income=(5.5, 12.6, 15.0, 7.1),
        eps=(1.63, 3.62, 4.3, 2.04),
        operating_income=(6.5, 13.7, 8.9, 7.1),
        gross_margin=(25.3, 25.6, 18.2, 17.9),
        fcf=(5.0, 7.6, 4.4, 3.6),
        rnd=(2.6, 3.1, 4.0, 4.5),
    ),
    Company(
        ticker="F",
        name="Ford",
        group="autos",
        fiscal_note="its fiscal year is the calendar year",
        driver="strong Ford Pro commercial profits offset by multi-billion-dollar Model e losses",
        detail=(
            "Ford Pro earned about $9.0 billion of EBIT in 2024 while Model e lost about $5.1 "
            "billion"
        ),
        revenue=(136.3, 158.1, 176.2, 185.0),
        net_income=(17.9, -2.0, 4.3, 5.9),
        eps=(4.45, -0.49, 1.08, 1.46),
        operating_income=(4.5, 6.3, 5.5, 5.2),
        fcf=(9.7, 9.1, 6.8, 6.7),
        rnd=(7.6, 7.8, 8.2, 8.0),
    ),
    Company(
        ticker="GM",
        name="General Motors",
        group="autos",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "strong pickup and SUV pricing in North America, offset in 2024 by China restructuring"
        ),
        detail="GM North America generates the bulk of its adjusted EBIT",
        revenue=(127.0, 156.7, 171.8, 187.4),
        net_income=(10.0, 9.9, 10.1, 6.0),
        eps=(6.7, 6.13, 7.32, 6.37),
        operating_income=(9.3, 10.3, 9.3, 12.8),
        fcf=(1.8, 9.4, 11.7, 14.0),
        rnd=(7.9, 9.8, 9.9, 9.2),
    ),
    Company(
        ticker="NFLX",
        name="Netflix",
        group="media",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "the paid-sharing crackdown, price rises and the ad tier lifting revenue faster than "
            "content spend"
        ),
        detail="paid memberships passed 300 million at the end of 2024",
        revenue=(29.7, 31.6, 33.7, 39.0),
        net_income=(5.1, 4.5, 5.4, 8.7),
        eps=(11.24, 9.95, 12.03, 19.83),
        operating_income=(6.2, 5.6, 7.0, 10.4),
        gross_margin=(41.6, 39.4, 41.5, 46.1),
        fcf=(-0.1, 1.6, 6.9, 6.9),
        rnd=(2.3, 2.7, 2.7, 2.9),
    ),
    Company(
        ticker="DIS",
        name="Disney",
        group="media",
        fiscal_note="its fiscal year ends around the start of October",
        driver="streaming moving from heavy losses to profit and record theme-park results",
        detail="the Experiences segment earned about $9.3 billion of operating income in FY2024",
        revenue=(67.4, 82.7, 88.9, 91.4),
        net_income=(2.0, 3.2, 2.4, 5.0),
        eps=(1.09, 1.75, 1.29, 2.72),
        operating_income=(7.8, 12.1, 12.9, 15.6),
        fcf=(2.0, 1.1, 4.9, 8.6),
    ),
    Company(
        ticker="JPM",
        name="JPMorgan Chase",
        group="banks",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "higher interest rates lifting net interest income and the First Republic deal in May "
            "2023"
        ),
        detail="its CET1 ratio was 15.7% at the end of 2024",
        revenue=(121.6, 128.7, 158.1, 177.6),
        net_income=(48.3, 37.7, 49.6, 58.5),
        eps=(15.36, 12.09, 16.23, 19.75),
        nii=(52.3, 66.7, 89.3, 92.6),
    ),
    Company(
        ticker="BAC",
        name="Bank of America",
        group="banks",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "rate-driven interest income gains offset by deposit costs and its low-yield bond book"
        ),
        detail="deposits were about $1.9 trillion at the end of 2024",
        revenue=(89.1, 95.0, 98.6, 101.9),
        net_income=(32.0, 27.5, 26.5, 27.1),
        eps=(3.57, 3.19, 3.08, 3.21),
        nii=(42.9, 52.5, 56.9, 56.1),
    ),
    Company(
        ticker="GS",
        name="Goldman Sachs",
        group="banks",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "a rebound in investment banking fees and record equities trading after exiting "
            "consumer lending"
        ),
        detail="assets under supervision passed $3.1 trillion in 2024",
        revenue=(59.3, 47.4, 46.3, 53.5),
        net_income=(21.6, 11.3, 8.5, 14.3),
        eps=(59.45, 30.06, 22.87, 40.54),
        nii=(6.5, 7.7, 6.4, 8.1),
    ),
    Company(
        ticker="V",
        name="Visa",
        group="payments",
        fiscal_note="its fiscal year ends in September",
        driver="steady growth in payments volume and a recovery in cross-border travel spending",
        detail="payments volume grew about 8% in constant dollars in FY2024",
        revenue=(24.1, 29.3, 32.7, 35.9),
        net_income=(12.3, 15.0, 17.3, 19.7),
        eps=(5.63, 7.0, 8.28, 9.73),
        operating_income=(15.8, 18.8, 21.0, 23.6),
        fcf=(14.5, 17.9, 19.7, 18.7),
    ),
    Company(
        ticker="MA",
        name="Mastercard",
        group="payments",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "cross-border volume growth and fast-growing value-added services such as fraud tools"
        ),
        detail="value-added services revenue grew about 17% in 2024",
        revenue=(18.9, 22.2, 25.1, 28.2),
        net_income=(8.7, 9.9, 11.2, 12.9),
        eps=(8.76, 10.22, 11.83, 13.89),
        operating_income=(10.1, 12.3, 14.0, 15.6),
        fcf=(8.7, 10.1, 11.6, 14.3),
    ),
    Company(
        ticker="WMT",
        name="Walmart",
        group="retail",
        fiscal_note=(
            "its fiscal year ends in January; per-share figures reflect the 2024 3-for-1 split"
        ),
        driver=(
            "grocery share gains with higher-income shoppers and fast-growing e-commerce and ads"
        ),
        detail="global e-commerce sales passed $100 billion in FY2024",
        revenue=(559.2, 572.8, 611.3, 648.1),
        net_income=(13.5, 13.7, 11.7, 15.5),
        eps=(1.58, 1.62, 1.42, 1.91),
        operating_income=(22.5, 25.9, 20.4, 27.0),
        gross_margin=(24.3, 25.1, 23.5, 24.1),
        fcf=(25.8, 11.1, 12.0, 15.1),
    ),
    Company(
        ticker="COST",
        name="Costco",
        group="retail",
        fiscal_note="its fiscal year ends around the start of September",
        driver=(
            "membership fee income and renewal rates above 90%, helped by the 2024 fee increase"
        ),
        detail="membership fees were about $4.8 billion in FY2024",
        revenue=(196.0, 227.0, 242.3, 254.5),
        net_income=(5.0, 5.8, 6.3, 7.4),
        eps=(11.27, 13.14, 14.16, 16.56),
        operating_income=(6.7, 7.8, 8.1, 9.3),
        gross_margin=(11.1, 10.5, 10.6, 10.9),
        fcf=(5.4, 3.5, 6.7, 7.4),
    ),
    Company(
        ticker="TGT",
        name="Target",
        group="retail",
        fiscal_note="its fiscal year ends around the start of February",
        driver=(
            "2022 inventory markdowns followed by a margin recovery while discretionary demand "
            "stayed weak"
        ),
        detail="comparable sales were roughly flat in 2024",
        revenue=(106.0, 109.1, 107.4, 106.6),
        net_income=(6.9, 2.8, 4.1, 4.1),
        eps=(14.1, 5.98, 8.94, 8.86),
        operating_income=(8.9, 3.8, 5.7, 5.6),
        gross_margin=(28.3, 23.6, 26.5, 28.2),
        fcf=(5.6, -0.6, 4.8, 4.5),
    ),
    Company(
        ticker="KO",
        name="Coca-Cola",
        group="staples",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "price increases across its brands offsetting flat unit case volumes and currency "
            "headwinds"
        ),
        detail="2024 free cash flow was depressed by a roughly $6 billion tax litigation deposit",
        revenue=(38.7, 43.0, 45.8, 47.1),
        net_income=(9.8, 9.5, 10.7, 10.6),
        eps=(2.25, 2.19, 2.47, 2.46),
        operating_income=(10.3, 10.9, 11.3, 10.0),
        gross_margin=(60.3, 58.1, 59.5, 60.8),
        fcf=(11.3, 9.5, 9.7, 4.7),
    ),
    Company(
        ticker="PEP",
        name="PepsiCo",
        group="staples",
        fiscal_note="its fiscal year is the calendar year",
        driver="pricing in snacks and beverages while volumes declined, especially at Frito-Lay",
        detail="Frito-Lay North America remains its most profitable division",
        revenue=(79.5, 86.4, 91.5, 91.9),
        net_income=(7.6, 8.9, 9.1, 9.6),
        eps=(5.49, 6.42, 6.56, 6.95),
        operating_income=(11.2, 11.5, 12.0, 12.9),
        gross_margin=(53.4, 53.0, 54.2, 54.6),
        fcf=(7.4, 5.6, 7.9, 7.2),
    ),
    Company(
        ticker="XOM",
        name="ExxonMobil",
        group="energy",
        fiscal_note="its fiscal year is the calendar year",
        driver="oil and gas prices, which spiked in 2022, plus rising Permian and Guyana output",
        detail="the Pioneer Natural Resources acquisition closed in May 2024",
        revenue=(285.6, 413.7, 344.6, 339.2),
        net_income=(23.0, 55.7, 36.0, 33.7),
        eps=(5.39, 13.26, 8.89, 7.84),
        fcf=(36.0, 58.4, 36.1, 30.7),
    ),
    Company(
        ticker="CVX",
        name="Chevron",
        group="energy",
        fiscal_note="its fiscal year is the calendar year",
        driver="lower oil and gas prices and refining margins after the 2022 peak",
        detail="the Hess acquisition was held up by arbitration through 2024",
        revenue=(162.5, 246.3, 200.9, 202.8),
        net_income=(15.6, 35.5, 21.4, 17.7),
        eps=(8.14, 18.28, 11.36, 9.72),
        fcf=(21.1, 37.6, 19.8, 15.0),
    ),
    Company(
        ticker="JNJ",
        name="Johnson & Johnson",
        group="pharma",
        fiscal_note=(
            "its fiscal year is the calendar year; 2023 includes the Kenvue separation gain"
        ),
        driver=(
            "the Kenvue consumer-health separation and growth in oncology drugs such as Darzalex"
        ),
        detail="Innovative Medicine sales were about $57 billion in 2024",
        revenue=(93.8, 94.9, 85.2, 88.8),
        net_income=(20.9, 17.9, 35.2, 14.1),
        eps=(7.81, 6.73, 13.76, 5.79),
        gross_margin=(68.2, 67.3, 68.8, 69.1),
        fcf=(19.8, 17.2, 18.2, 19.8),
        rnd=(14.7, 14.6, 15.1, 17.2),
    ),
    Company(
        ticker="PFE",
        name="Pfizer",
        group="pharma",
        fiscal_note="its fiscal year is the calendar year",
        driver=(
            "the collapse in COVID vaccine and Paxlovid sales after 2022 and the $43 billion "
            "Seagen deal"
        ),
        detail=(
            "COVID products fell from about $57 billion of revenue in 2022 to about $11 billion "
            "in 2024"
        ),
        revenue=(81.3, 100.3, 58.5, 63.6),
        net_income=(22.0, 31.4, 2.1, 8.0),
        eps=(3.85, 5.47, 0.37, 1.41),
        fcf=(29.9, 26.0, 4.8, 9.8),
        rnd=(13.8, 11.4, 10.7, 10.8),
    ),
]
BY_TICKER = {c.ticker: c for c in COMPANIES}


@dataclass(frozen=True)
class Metric:
    name: str
    synonyms: tuple[str, ...]
    kind: str  # money (billions), percent, or per-share dollars


METRICS = {
    "revenue": Metric("revenue", ("revenue", "sales", "top line", "total revenue"), "money"),
    "net_income": Metric("net income", ("net income", "profit", "bottom line"), "money"),
    "gross_margin": Metric("gross margin", ("gross margin", "gross profit margin"), "percent"),
    "operating_margin": Metric(
        "operating margin", ("operating margin", "op margin", "EBIT margin"), "percent"
    ),
    "eps": Metric("diluted EPS", ("EPS", "earnings per share", "diluted EPS"), "share"),
    "fcf": Metric("free cash flow", ("free cash flow", "FCF"), "money"),
    "rnd": Metric(
        "R&D spending", ("R&D spending", "R&D", "research and development budget"), "money"
    ),
    "nii": Metric("net interest income", ("net interest income", "NII"), "money"),
}

GENERAL = [
    (
        "What was US CPI inflation in 2023?",
        "US consumer prices rose **3.4%** in the 12 months to December 2023, down from 6.5% a year "
        "earlier and a peak of 9.1% in June 2022. Core CPI, which strips out food and energy, was "
        "3.9%. Shelter costs were the largest contributor, while energy prices fell about 2% over "
        "the year. By December 2024 headline inflation had eased further to 2.9%.",
    ),
    (
        "Where did the 10-year Treasury yield end 2023?",
        "The 10-year Treasury yield finished 2023 at about **3.88%**, essentially where it started "
        "the year, after touching roughly 5.0% in October 2023, its highest level since 2007. The "
        "late-year rally came as investors priced in Federal Reserve rate cuts for 2024. It ended "
        "2024 higher, near 4.57%.",
    ),
    (
        "What did the S&P 500 return in 2023?",
        "The S&P 500 gained **24.2%** on a price basis in 2023, or about 26.3% including "
        "dividends, "
        "after falling 19.4% in 2022. Gains were concentrated in a handful of mega-cap technology "
        "stocks; the equal-weighted index rose only about 11.6%. In 2024 the index added another "
        "23.3% on a price basis.",
    ),
    (
        "What is the current fed funds target range?",
        "The Federal Reserve held its target range at **5.25%–5.50%** from July 2023 until "
        "September 2024, when it cut by 50 basis points. Two further 25 bp cuts followed, leaving "
        "the range at 4.25%–4.50% at the end of 2024. Policymakers signalled a slower pace of cuts "
        "for 2025.",
    ),
    (
        "How fast did the US economy grow in 2023?",
        "Real GDP grew **2.5%** in 2023, up from 1.9% in 2022, defying widespread recession "
        "forecasts. Consumer spending, which is roughly 68% of the economy, did most of the work, "
        "helped by a strong labour market with unemployment near 3.7%. Growth was about 2.8% in "
        "2024.",
    ),
    (
        "What's the difference between GAAP and non-GAAP EPS?",
        "GAAP EPS follows accounting standards exactly, so it includes items such as stock-based "
        "compensation, acquisition amortisation, restructuring charges and one-off gains. Non-GAAP "
        "(or adjusted) EPS removes items management considers non-recurring or non-cash. The gap "
        "can be large: for acquisitive companies adjusted EPS is often 20% to 50% higher. Always "
        "check the reconciliation table in the earnings release.",
    ),
    (
        "How is free cash flow calculated?",
        "Free cash flow is usually **operating cash flow minus capital expenditures**. It "
        "shows the "
        "cash a business generates after maintaining and expanding its asset base, which "
        "is what is "
        "available for dividends, buybacks, acquisitions or debt reduction. Some companies also "
        "subtract finance-lease principal payments, so compare definitions before comparing "
        "companies.",
    ),
    (
        "What does operating margin tell me that gross margin doesn't?",
        "Gross margin only subtracts the direct cost of goods or services sold. Operating margin "
        "also subtracts operating expenses such as R&D, sales and marketing, and general and "
        "administrative costs, so it shows how efficiently the whole business runs. Two companies "
        "with a 60% gross margin can have operating margins of 10% and 40% depending on how much "
        "they spend to grow.",
    ),
    (
        "How should I think about P/E ratios across sectors?",
        "A P/E ratio compares share price with earnings per share, so it reflects expected growth "
        "and risk. Fast-growing software and semiconductor companies often trade at 30x to 50x "
        "earnings, consumer staples around 20x, and banks and energy companies at 8x to 12x. "
        "Compare a company with its own history and its sector rather than with the whole market.",
    ),
    (
        "What is a CET1 ratio?",
        "Common Equity Tier 1 (CET1) is a bank's highest-quality capital, mainly common equity and "
        "retained earnings, divided by its risk-weighted assets. Regulators set minimums of 4.5% "
        "plus buffers; large US banks typically run between 11% and 16%. A higher ratio means more "
        "loss-absorbing capacity but can weigh on return on equity.",
    ),
]

CAVEATS = [
    "Figures are as reported in the annual report, and {fiscal_note}.",
    "Keep in mind that one-off items such as restructuring charges and tax benefits can distort "
    "year-over-year comparisons.",
    "Analysts generally expected a result in this range, so the stock's reaction was muted.",
    "I can break this down by segment or compare it with peers if that would help.",
    "For context, {detail}.",
    "Management's guidance for the following year pointed to continued but slower growth.",
    "Currency movements shaved a little off reported growth; in constant currency the change "
    "would have looked slightly better.",
    "The quarterly pattern was uneven, with the strongest results late in the year.",
    "Sell-side estimates for the next year have drifted higher since the report.",
    "Capital returns through dividends and buybacks continued at a similar pace.",
    "The shares trade at a premium to the broader market, so expectations are high.",
]


def fmt(metric: str, value: float) -> str:
    """A figure as an analyst would write it: $383.3 billion, 44.1%, $6.13."""
    kind = METRICS[metric].kind
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "share":
        return f"-${-value:.2f}" if value < 0 else f"${value:.2f}"
    return f"-${-value:.1f} billion" if value < 0 else f"${value:.1f} billion"


def change(metric: str, new: float, old: float) -> str:
    """The move from `old` to `new`: percentage points for margins, per cent otherwise."""
    if METRICS[metric].kind == "percent":
        points = new - old
        if abs(points) < 0.05:
            return "flat"
        return f"{'up' if points > 0 else 'down'} {abs(points):.1f} percentage points"
    if old <= 0 or new <= 0:
        return (
            "swinging from "
            + ("a loss" if old <= 0 else "a profit")
            + (" to a profit" if new > 0 else " to a loss")
        )
    pct = 100 * (new - old) / old
    return f"{'up' if pct >= 0 else 'down'} {abs(pct):.1f}%"


def value(company: Company, metric: str, year: int) -> float:
    series = company.series(metric)
    assert series is not None
    return series[YEARS.index(year)]


@dataclass
class Thread:
    """The state of one conversation while it is generated."""

    rng: random.Random
    focus: list[Company]
    turns: list[dict] = field(default_factory=list)
    # (ticker, metric) -> [(turn, year)] for every turn that states that figure.
    mentions: dict[tuple[str, str], list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    current: tuple[Company, str, int] | None = None
    # (first turn, second turn, first company, second company, metric, year) of each
    # "And what about X?" that put two companies' figures for one metric side by side.
    pairs: list[tuple[int, int, Company, Company, str, int]] = field(default_factory=list)

    def add(
        self,
        question: str,
        answer: str,
        kind: str,
        *,
        states: list[tuple[Company, str, int]],
        needs: list[int] | None = None,
        topic: tuple[Company, str, int] | None = None,
    ) -> None:
        index = len(self.turns)
        turn: dict = {"question": question, "answer": answer, "kind": kind}
        if needs:
            turn["needs"] = sorted(set(needs))
        self.turns.append(turn)
        for company, metric, year in states:
            key = (company.ticker, metric)
            if not self.mentions[key] or self.mentions[key][-1][0] != index:
                self.mentions[key].append((index, year))
        self.current = topic

    def unique_anchors(self, before: int) -> list[tuple[str, str, int, int]]:
        """(ticker, metric, turn, year) of figures stated in exactly one turn before `before`."""
        return [
            (ticker, metric, places[0][0], places[0][1])
            for (ticker, metric), places in self.mentions.items()
            if len(places) == 1 and places[0][0] < before
        ]


def words(text: str) -> int:
    return len(text.split())


def pad(rng: random.Random, company: Company, sentences: list[str], low: int = 45) -> str:
    """Join `sentences` and add caveats until the answer reads at least `low` words."""
    caveats = rng.sample(CAVEATS, k=len(CAVEATS))
    extra = rng.randint(0, 4)
    text = " ".join(sentences)
    while caveats and (extra > 0 or words(text) < low):
        caveat = caveats.pop().format(fiscal_note=company.fiscal_note, detail=company.detail)
        text = f"{text} {caveat}"
        extra -= 1
    return text


def explicit_answer(
    rng: random.Random, company: Company, metric: str, year: int
) -> tuple[str, list]:
    """An answer stating `company`'s `metric` for `year`, with one supporting figure."""
    name, m = company.name, METRICS[metric]
    now = value(company, metric, year)
    lead = f"{name} ({company.ticker}) reported {m.name} of {fmt(metric, now)} in FY{year}"
    if year > YEARS[0]:
        before = value(company, metric, year - 1)
        lead += f", {change(metric, now, before)} from {fmt(metric, before)} in FY{year - 1}."
    else:
        lead += "."
    states = [(company, metric, year)]
    support_metric = "revenue" if metric != "revenue" else "net_income"
    support = value(company, support_metric, year)
    support_text = (
        f"That came on revenue of {fmt('revenue', support)}."
        if support_metric == "revenue"
        else f"Net income for the year was {fmt('net_income', support)}."
    )
    states.append((company, support_metric, year))
    driver = f"The main factor was {company.driver}."
    style = rng.random()
    if style < 0.25:
        body = (
            f"**{name} – FY{year}**\n\n- {m.name.capitalize()}: **{fmt(metric, now)}**\n"
            f"- {METRICS[support_metric].name.capitalize()}: {fmt(support_metric, support)}\n\n"
            + pad(rng, company, [lead, driver])
        )
    else:
        body = pad(rng, company, [lead, support_text, driver])
    return body, states


def trend_answer(rng: random.Random, company: Company, metric: str) -> tuple[str, list]:
    m = METRICS[metric]
    series = company.series(metric)
    assert series is not None
    states = [(company, metric, year) for year in YEARS]
    if rng.random() < 0.4:
        rows = "\n".join(
            f"| FY{y} | {fmt(metric, v)} |" for y, v in zip(YEARS, series, strict=True)
        )
        text = (
            f"Here is {company.name}'s {m.name} over the last four fiscal years:\n\n"
            f"| Year | {m.name.capitalize()} |\n|---|---|\n{rows}\n\n"
            + pad(
                rng,
                company,
                [
                    f"Over the period it moved {change(metric, series[-1], series[0])}, "
                    f"mostly because of {company.driver}."
                ],
            )
        )
    else:
        text = pad(
            rng,
            company,
            [
                f"{company.name}'s {m.name} went from {fmt(metric, series[0])} in FY2021 to "
                f"{fmt(metric, series[1])} in FY2022, {fmt(metric, series[2])} in FY2023 and "
                f"{fmt(metric, series[3])} in FY2024, {change(metric, series[3], series[0])} over "
                "the period.",
                f"The trend mostly reflects {company.driver}.",
            ],
        )
    return text, states


def peers_answer(rng: random.Random, company: Company, metric: str, year: int) -> tuple[str, list]:
    m = METRICS[metric]
    group = [c for c in COMPANIES if c.group == company.group and c.series(metric) is not None]
    others = [c for c in group if c is not company][:3]
    everyone = [company, *others]
    ranked = sorted(everyone, key=lambda c: value(c, metric, year), reverse=True)
    states = [(c, metric, year) for c in everyone]
    position = ranked.index(company) + 1
    if rng.random() < 0.5:
        rows = "\n".join(
            f"| {c.name} ({c.ticker}) | {fmt(metric, value(c, metric, year))} |" for c in ranked
        )
        text = f"| Company | {m.name.capitalize()} FY{year} |\n|---|---|\n{rows}\n\n" + pad(
            rng,
            company,
            [
                f"{company.name} ranks {position} of {len(ranked)} in its {company.group} peer "
                f"group on {m.name}."
            ],
        )
    else:
        listed = ", ".join(f"{c.name} {fmt(metric, value(c, metric, year))}" for c in others)
        text = pad(
            rng,
            company,
            [
                f"In FY{year} {company.name}'s {m.name} of "
                f"{fmt(metric, value(company, metric, year))} "
                f"compares with {listed}.",
                f"That puts it {position} of {len(ranked)} among these {company.group} "
                "peers, a gap "
                f"that largely reflects {company.driver}.",
            ],
        )
    return text, states


def driver_answer(rng: random.Random, company: Company, metric: str, year: int) -> tuple[str, list]:
    now = value(company, metric, year)
    text = pad(
        rng,
        company,
        [
            f"The main driver behind {company.name}'s {METRICS[metric].name} of "
            f"{fmt(metric, now)} in "
            f"FY{year} was {company.driver}.",
            f"It also helps to know that {company.detail}.",
        ],
    )
    return text, [(company, metric, year)]


def ask(rng: random.Random, company: Company, metric: str, year: int) -> str:
    who = rng.choice([company.name, company.name, company.ticker])
    what = rng.choice(METRICS[metric].synonyms)
    period = rng.choice([f"FY{year}", f"fiscal {year}", f"{year}"])
    return rng.choice(
        [
            f"What was {who}'s {what} in {period}?",
            f"How much {what} did {who} report for {period}?",
            f"Can you pull {who}'s {what} for {period}?",
            f"What's {who}'s {what} for {period}?",
            f"Give me {who}'s {what} for {period}.",
        ]
    )


def new_topic(thread: Thread) -> None:
    rng = thread.rng
    pool = thread.focus if rng.random() < 0.8 else COMPANIES
    company = rng.choice(pool)
    fresh = [m for m in company.metrics() if (company.ticker, m) not in thread.mentions]
    metric = rng.choice(fresh or company.metrics())
    year = rng.choice(YEARS[1:])
    answer, states = explicit_answer(rng, company, metric, year)
    thread.add(
        ask(rng, company, metric, year), answer, "new", states=states, topic=(company, metric, year)
    )


def follow_up(thread: Thread) -> None:
    """A question that only makes sense after the previous turn."""
    rng = thread.rng
    assert thread.current is not None
    company, metric, year = thread.current
    previous = [len(thread.turns) - 1]
    kinds = ["trend", "drivers", "peers", "what_about", "other_year", "other_metric"]
    kind = rng.choice(kinds)
    if kind == "trend":
        question = rng.choice(
            [
                "How did that change since 2021?",
                "How has that trended since FY2021?",
                "What's the trend over the last few years?",
                "Has it improved since 2021?",
            ]
        )
        answer, states = trend_answer(rng, company, metric)
        topic = (company, metric, year)
    elif kind == "drivers":
        question = rng.choice(
            [
                "What's driving that?",
                "Why did it move so much?",
                "What explains that number?",
            ]
        )
        answer, states = driver_answer(rng, company, metric, year)
        topic = (company, metric, year)
    elif kind == "peers":
        question = rng.choice(
            [
                "Compare that to its peers.",
                "How does that stack up against its peers?",
                "How does that compare with competitors?",
            ]
        )
        answer, states = peers_answer(rng, company, metric, year)
        topic = (company, metric, year)
    elif kind == "what_about":
        others = [c for c in COMPANIES if c is not company and c.series(metric) is not None]
        near = [c for c in others if c in thread.focus or c.group == company.group]
        other = rng.choice(near or others)
        who = rng.choice([other.name, other.ticker])
        question = rng.choice(
            [
                f"And what about {who}?",
                f"What about {who}?",
                f"Same question for {who}.",
                f"How about {who}?",
            ]
        )
        answer, states = explicit_answer(rng, other, metric, year)
        topic = (other, metric, year)
        here = len(thread.turns)
        thread.pairs.append((here - 1, here, company, other, metric, year))
    elif kind == "other_year":
        other_year = rng.choice([y for y in YEARS if y != year])
        question = rng.choice(
            [
                f"And in FY{other_year}?",
                f"What was it in {other_year}?",
                f"And for fiscal {other_year}?",
            ]
        )
        answer, states = explicit_answer(rng, company, metric, other_year)
        topic = (company, metric, other_year)
    else:
        other_metric = rng.choice([m for m in company.metrics() if m != metric])
        what = rng.choice(METRICS[other_metric].synonyms)
        question = rng.choice(
            [
                f"What was its {what} that year?",
                f"And its {what}?",
                f"How about its {what}?",
            ]
        )
        answer, states = explicit_answer(rng, company, other_metric, year)
        topic = (company, other_metric, year)
    thread.add(question, answer, f"follow_up:{kind}", states=states, needs=previous, topic=topic)


def go_back(thread: Thread, anchors: list[tuple[str, str, int, int]]) -> None:
    """A return to a figure stated once, far enough back that the thread moved on."""
    rng = thread.rng
    ticker, metric, anchor, year = rng.choice(anchors)
    company, m = BY_TICKER[ticker], METRICS[metric]
    who = rng.choice([company.name, company.ticker])
    what = rng.choice(m.synonyms)
    now = value(company, metric, year)
    kind = rng.choice(["remind", "year_before", "scenario", "versus_new"])
    if kind == "remind":
        question = rng.choice(
            [
                f"Remind me: what {what} did you give me for {who} earlier?",
                f"What was that {who} {what} figure you mentioned earlier?",
                f"Going back to {who} — what was the {what} number you quoted?",
            ]
        )
        answer = pad(
            rng,
            company,
            [
                f"Earlier I gave {company.name}'s {m.name} for FY{year} as {fmt(metric, now)}.",
                f"That figure reflects {company.driver}.",
            ],
        )
        states = [(company, metric, year)]
        topic = (company, metric, year)
    elif kind == "year_before" and year > YEARS[0]:
        before = value(company, metric, year - 1)
        question = rng.choice(
            [
                f"Going back to the {who} {what} you quoted earlier — how does it compare with the "
                "year before?",
                f"Earlier you gave me {who}'s {what}. What was it the year before that?",
            ]
        )
        answer = pad(
            rng,
            company,
            [
                f"The {m.name} I quoted for {company.name} was {fmt(metric, now)} in FY{year}; in "
                f"FY{year - 1} it was {fmt(metric, before)}, so it is "
                f"{change(metric, now, before)}.",
            ],
        )
        states = [(company, metric, year), (company, metric, year - 1)]
        topic = (company, metric, year - 1)
    elif kind == "scenario" and m.kind != "percent":
        question = rng.choice(
            [
                f"Using the {who} {what} number from earlier, what would a 10% increase look like?",
                f"Take the {what} you gave me for {who} before — what if it grew 15% next year?",
            ]
        )
        growth = 0.10 if "10%" in question else 0.15
        answer = pad(
            rng,
            company,
            [
                f"Starting from the FY{year} {m.name} of {fmt(metric, now)} I gave earlier, a "
                f"{growth:.0%} increase would take {company.name} to "
                f"{fmt(metric, now * (1 + growth))}.",
                "That is a simple scenario, not a forecast; consensus estimates may differ.",
            ],
        )
        states = [(company, metric, year)]
        topic = (company, metric, year)
    else:
        rivals = [
            c
            for c in COMPANIES
            if c is not company
            and c.group == company.group
            and c.series(metric) is not None
            and (c.ticker, metric) not in thread.mentions
        ]
        if not rivals:
            rivals = [c for c in COMPANIES if c is not company and c.series(metric) is not None]
        rival = rng.choice(rivals)
        rival_now = value(rival, metric, year)
        question = rng.choice(
            [
                f"How does the {who} {what} you mentioned earlier compare with {rival.name}'s?",
                f"Earlier you gave me {who}'s {what} — is {rival.ticker}'s higher or lower?",
            ]
        )
        answer = pad(
            rng,
            company,
            [
                f"For FY{year}, {company.name}'s {m.name} was {fmt(metric, now)} as I said "
                "earlier, "
                f"against {fmt(metric, rival_now)} for {rival.name} ({rival.ticker}).",
                f"{rival.name} is {'higher' if rival_now > now else 'lower'} on this measure.",
            ],
        )
        states = [(company, metric, year), (rival, metric, year)]
        topic = (rival, metric, year)
        kind = "versus_new"
    thread.add(question, answer, f"return:{kind}", states=states, needs=[anchor], topic=topic)


def compare_earlier(thread: Thread, pairs: list[tuple[tuple, tuple]]) -> None:
    """Two figures from earlier put side by side; needs both turns."""
    rng = thread.rng
    (ticker_a, metric_a, turn_a, year_a), (ticker_b, metric_b, turn_b, year_b) = rng.choice(pairs)
    a, b = BY_TICKER[ticker_a], BY_TICKER[ticker_b]
    va, vb = value(a, metric_a, year_a), value(b, metric_b, year_b)
    if metric_a == metric_b:
        what = rng.choice(METRICS[metric_a].synonyms)
        question = rng.choice(
            [
                f"How do the {a.name} and {b.name} {what} figures you gave me earlier compare?",
                f"Put {a.ticker}'s and {b.ticker}'s {what} from earlier side by side.",
            ]
        )
        verdict = f"{a.name if va > vb else b.name} comes out ahead on {METRICS[metric_a].name}."
    else:
        question = (
            f"Put the {a.name} {rng.choice(METRICS[metric_a].synonyms)} and the {b.name} "
            f"{rng.choice(METRICS[metric_b].synonyms)} you mentioned earlier side by side."
        )
        verdict = "They measure different things, so read them as context rather than a ranking."
    answer = pad(
        rng,
        a,
        [
            f"From earlier: {a.name}'s {METRICS[metric_a].name} was {fmt(metric_a, va)} in "
            f"FY{year_a}, and {b.name}'s {METRICS[metric_b].name} was {fmt(metric_b, vb)} in "
            f"FY{year_b}.",
            verdict,
        ],
    )
    states = [(a, metric_a, year_a), (b, metric_b, year_b)]
    thread.add(
        question,
        answer,
        "compare:earlier",
        states=states,
        needs=[turn_a, turn_b],
        topic=(a, metric_a, year_a),
    )


def versus_previous(thread: Thread, anchors: list[tuple[str, str, int, int]]) -> None:
    """A "How does that compare with AMD's from earlier?": needs the last turn and AMD's."""
    rng = thread.rng
    assert thread.current is not None
    company, metric, year = thread.current
    ticker, _, anchor, anchor_year = rng.choice(anchors)
    other = BY_TICKER[ticker]
    now, then = value(company, metric, year), value(other, metric, anchor_year)
    question = rng.choice(
        [
            f"How does that compare with the {other.name} figure from earlier?",
            f"Is that better or worse than what you told me for {other.ticker} before?",
        ]
    )
    answer = pad(
        rng,
        company,
        [
            f"{company.name}'s {METRICS[metric].name} of {fmt(metric, now)} in FY{year} "
            "compares with "
            f"{fmt(metric, then)} for {other.name} in FY{anchor_year}, the figure I gave earlier.",
            f"{company.name if now > then else other.name} is ahead on this measure.",
        ],
    )
    states = [(company, metric, year), (other, metric, anchor_year)]
    index = len(thread.turns)
    thread.add(
        question,
        answer,
        "compare:previous",
        states=states,
        needs=[index - 1, anchor],
        topic=(company, metric, year),
    )


def which_of_two(thread: Thread, pair: tuple[int, int, Company, Company, str, int]) -> None:
    """A vague question about a pair of companies a question or two ago: needs both turns.

    "Which of those two was higher?" names nothing; after an intervening question only the
    companies of the recent turns say what "those two" are.
    """
    rng = thread.rng
    first, second, a, b, metric, year = pair
    va, vb = value(a, metric, year), value(b, metric, year)
    question = rng.choice(
        [
            "Going back to the two companies before that — which one was higher?",
            "Of the two we compared a moment ago, which comes out ahead?",
            "Compare the two we discussed just before that.",
            "Which of those two did better on that measure?",
        ]
    )
    winner, loser = (a, b) if va > vb else (b, a)
    answer = pad(
        rng,
        winner,
        [
            f"{winner.name} comes out ahead: {a.name}'s {METRICS[metric].name} was "
            f"{fmt(metric, va)} in FY{year}, against {fmt(metric, vb)} for {b.name}.",
            f"{loser.name} trails on this measure.",
        ],
    )
    states = [(a, metric, year), (b, metric, year)]
    thread.add(
        question, answer, "vague:which_of_two", states=states, needs=[first, second], topic=None
    )


def rank_covered(thread: Thread, metric: str, anchors: list[tuple[str, str, int, int]]) -> None:
    """ "Which of them had the highest margin?" over every company the thread gave it for.

    Multi-hop: needs each turn that stated the metric, three or four of them, none named.
    """
    rng = thread.rng
    m = METRICS[metric]
    what = rng.choice(m.synonyms)
    question = rng.choice(
        [
            f"Of all the companies we've covered, which had the highest {what}?",
            f"Rank the companies we discussed by {what}.",
            f"Which of them had the best {what} in the figures you gave me?",
        ]
    )
    figures = sorted(
        (
            (value(BY_TICKER[ticker], metric, year), BY_TICKER[ticker], year)
            for ticker, _, _, year in anchors
        ),
        key=lambda item: -item[0],
    )
    ranked = "; ".join(
        f"{company.name} {fmt(metric, figure)} (FY{year})" for figure, company, year in figures
    )
    leader = figures[0][1]
    answer = pad(
        rng,
        leader,
        [
            f"From the figures earlier in this thread, by {m.name}: {ranked}.",
            f"{leader.name} leads on this measure.",
        ],
    )
    states = [(BY_TICKER[ticker], metric, year) for ticker, _, _, year in anchors]
    thread.add(
        question,
        answer,
        "multi_hop:rank",
        states=states,
        needs=[turn for _, _, turn, _ in anchors],
        topic=None,
    )


def general(thread: Thread) -> None:
    question, answer = thread.rng.choice(GENERAL)
    thread.add(question, answer, "general", states=[], topic=None)


def make_thread(rng: random.Random, length: int) -> list[dict]:
    """One thread about two sectors and two other companies, switching and coming back."""
    groups = sorted({c.group for c in COMPANIES})
    chosen_groups = rng.sample(groups, k=2)
    focus = [c for c in COMPANIES if c.group in chosen_groups]
    focus += rng.sample([c for c in COMPANIES if c not in focus], k=2)
    thread = Thread(rng, focus)
    new_topic(thread)
    while len(thread.turns) < length:
        index = len(thread.turns)
        # A return is only natural once the talk has moved on: two turns or more.
        anchors = thread.unique_anchors(before=index - 2)
        current = thread.current
        same_metric = [
            a
            for a in anchors
            if current is not None and a[1] == current[1] and a[0] != current[0].ticker
        ]
        pairs = [
            (x, y)
            for i, x in enumerate(anchors)
            for y in anchors[i + 1 :]
            if x[0] != y[0] and x[2] != y[2]
        ]
        options: list[tuple[float, Callable[[Thread], None]]] = [
            (0.2, new_topic),
            (0.08, general),
        ]
        if current is not None:
            options.append((0.42, follow_up))
        if anchors:
            options.append((0.2, partial(go_back, anchors=anchors)))
        if pairs:
            options.append((0.06, partial(compare_earlier, pairs=pairs)))
        if same_metric:
            options.append((0.05, partial(versus_previous, anchors=same_metric)))
        # A pair compared one to three questions ago, with something in between.
        recent_pairs = [p for p in thread.pairs if index - 4 <= p[1] <= index - 2]
        if recent_pairs:
            options.append((0.25, partial(which_of_two, pair=recent_pairs[-1])))
        by_metric: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
        for anchor in anchors:
            by_metric[anchor[1]].append(anchor)
        rankable = sorted(m for m, found in by_metric.items() if 3 <= len(found) <= 4)
        if rankable:
            metric = rng.choice(rankable)
            options.append((0.08, partial(rank_covered, metric=metric, anchors=by_metric[metric])))
        weights, actions = zip(*options, strict=True)
        rng.choices(actions, weights=weights)[0](thread)
    return thread.turns


def main() -> None:
    rng = random.Random(SEED)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for number in range(THREADS):
        length = rng.randint(MIN_TURNS, MAX_TURNS)
        turns = make_thread(random.Random(rng.getrandbits(64)), length)
        for turn in turns:
            assert 40 <= words(turn["answer"]) <= 200, turn
        lines.append(json.dumps({"id": f"thread-{number + 1:02d}", "turns": turns}))
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    total = sum(len(json.loads(line)["turns"]) for line in lines)
    print(f"wrote {len(lines)} threads, {total} turns to {OUTPUT}")


if __name__ == "__main__":
    main()
