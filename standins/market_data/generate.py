"""Write the market-data stand-in's fixtures: one `<TICKER>.json` per company, beside this file.

Run `python standins/market_data/generate.py` after changing a figure; the output is
deterministic (fixed seeds), so an unchanged run leaves `git diff` empty.

What is real and what is made up:
- Annual revenue, gross profit, operating income, net income, diluted EPS, R&D, total
  assets, equity, cash, debt, operating cash flow, capex, buybacks and fiscal-year-end share
  prices are close to what each company reported for fiscal 2019-2024 (split-adjusted).
- Everything else is derived so the statements stay internally consistent: quarters split
  each year by a seasonal pattern, balance-sheet lines are shares of total assets, cash-flow
  lines close to the change in cash, metrics are computed from the statements.
- Daily prices for 2024 H2 are a seeded random walk pinned to the real first and last close.
- News, filings, filing text, insider trades (fictional people) and estimates are synthetic.
The field names and response shapes follow docs.financialdatasets.ai.
"""

from __future__ import annotations

import calendar
import json
import math
import random
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# Run as a script: make the repository importable for the derivation it shares.
sys.path.insert(0, str(HERE.parents[1]))

from standins.trailing import trailing_row  # noqa: E402

B = 1_000_000_000
YEARS = (2019, 2020, 2021, 2022, 2023, 2024)
PRICE_START = date(2024, 8, 1)
PRICE_END = date(2024, 12, 31)
MARKET_HOLIDAYS = {date(2024, 7, 4), date(2024, 9, 2), date(2024, 11, 28), date(2024, 12, 25)}
TTM_QUARTERS = 8
QUARTERLY_SEGMENT_QUARTERS = 4
QUARTERLY_METRIC_QUARTERS = 4

Row = dict[str, Any]


@dataclass(frozen=True)
class Company:
    """Reported annual figures (billions, fiscal 2019-2024) plus a few shape parameters.

    Balance-sheet lists and `prices` have seven entries: fiscal 2018 first, as the opening
    balance of 2019.
    """

    ticker: str
    name: str
    cik: int
    fiscal_year_ends: tuple[str, ...]
    revenue: tuple[float, ...]
    gross_profit: tuple[float, ...]
    operating_income: tuple[float, ...]
    net_income: tuple[float, ...]
    eps_diluted: tuple[float, ...]
    research: tuple[float, ...]
    dividends_per_share: tuple[float, ...]
    tax_rate: tuple[float, ...]
    total_assets: tuple[float, ...]
    equity: tuple[float, ...]
    cash: tuple[float, ...]
    debt: tuple[float, ...]
    operating_cash_flow: tuple[float, ...]
    capex: tuple[float, ...]
    buybacks: tuple[float, ...]
    prices: tuple[float, ...]
    quarter_weights: tuple[float, float, float, float]
    segments: dict[str, dict[str, tuple[float, ...]]]
    balance_mix: dict[str, float]
    daily_start_close: float
    daily_end_close: float
    daily_volume: float
    industry: str
    products: str
    bank: bool = False
    extra_headlines: tuple[str, ...] = field(default=())


PRODUCT = "srt:ProductOrServiceAxis"
BUSINESS = "us-gaap:StatementBusinessSegmentsAxis"
GEOGRAPHY = "srt:StatementGeographicalAxis"

COMPANIES = (
    Company(
        ticker="AAPL",
        name="Apple Inc.",
        cik=320193,
        fiscal_year_ends=(
            "2019-09-28",
            "2020-09-26",
            "2021-09-25",
            "2022-09-24",
            "2023-09-30",
            "2024-09-28",
        ),
        revenue=(260.174, 274.515, 365.817, 394.328, 383.285, 391.035),
        gross_profit=(98.392, 104.956, 152.836, 170.782, 169.148, 180.683),
        operating_income=(63.930, 66.288, 108.949, 119.437, 114.301, 123.216),
        net_income=(55.256, 57.411, 94.680, 99.803, 96.995, 93.736),
        eps_diluted=(2.97, 3.28, 5.61, 6.11, 6.13, 6.08),
        research=(16.217, 18.752, 21.914, 26.251, 29.915, 31.370),
        dividends_per_share=(0.75, 0.795, 0.85, 0.90, 0.94, 0.98),
        tax_rate=(0.159, 0.144, 0.133, 0.162, 0.147, 0.241),
        total_assets=(365.725, 338.516, 323.888, 351.002, 352.755, 352.583, 364.980),
        equity=(107.147, 90.488, 65.339, 63.090, 50.672, 62.146, 56.950),
        cash=(25.913, 48.844, 38.016, 34.940, 23.646, 29.965, 29.943),
        debt=(114.483, 108.047, 112.436, 124.719, 120.069, 111.088, 106.629),
        operating_cash_flow=(69.391, 80.674, 104.038, 122.151, 110.543, 118.254),
        capex=(10.495, 7.309, 11.085, 10.708, 10.959, 9.447),
        buybacks=(66.897, 72.358, 85.971, 89.402, 77.550, 94.949),
        prices=(56.44, 54.70, 112.28, 146.92, 150.43, 171.21, 227.79),
        quarter_weights=(0.30, 0.24, 0.21, 0.25),
        segments={
            PRODUCT: {
                "IPhone": (0.547, 0.502, 0.525, 0.521, 0.523, 0.514),
                "Mac": (0.099, 0.104, 0.096, 0.102, 0.077, 0.077),
                "IPad": (0.082, 0.086, 0.087, 0.074, 0.074, 0.068),
                "WearablesHomeandAccessories": (0.094, 0.112, 0.105, 0.105, 0.104, 0.095),
                "Service": (0.178, 0.196, 0.187, 0.198, 0.222, 0.246),
            },
            BUSINESS: {
                "AmericasSegment": (0.449, 0.454, 0.419, 0.430, 0.424, 0.427),
                "EuropeSegment": (0.232, 0.250, 0.244, 0.241, 0.246, 0.259),
                "GreaterChinaSegment": (0.168, 0.147, 0.187, 0.188, 0.189, 0.171),
                "JapanSegment": (0.083, 0.078, 0.078, 0.066, 0.063, 0.064),
                "RestOfAsiaPacificSegment": (0.068, 0.071, 0.072, 0.075, 0.078, 0.079),
            },
        },
        balance_mix={
            "current_assets": 0.40,
            "inventory": 0.018,
            "receivables": 0.16,
            "ppe": 0.12,
            "goodwill": 0.0,
            "current_liabilities": 0.42,
            "payables": 0.18,
            "deferred_revenue": 0.024,
            "retained_earnings": -0.1,
        },
        daily_start_close=216.75,
        daily_end_close=250.42,
        daily_volume=52e6,
        industry="consumer electronics",
        products="iPhone, Mac, iPad, wearables and services",
        extra_headlines=(
            "Apple rolls out Apple Intelligence features to more languages",
            "Apple's services revenue hits another record as App Store grows",
        ),
    ),
    Company(
        ticker="MSFT",
        name="Microsoft Corporation",
        cik=789019,
        fiscal_year_ends=(
            "2019-06-30",
            "2020-06-30",
            "2021-06-30",
            "2022-06-30",
            "2023-06-30",
            "2024-06-30",
        ),
        revenue=(125.843, 143.015, 168.088, 198.270, 211.915, 245.122),
        gross_profit=(82.933, 96.937, 115.856, 135.620, 146.052, 171.008),
        operating_income=(42.959, 52.959, 69.916, 83.383, 88.523, 109.433),
        net_income=(39.240, 44.281, 61.271, 72.738, 72.361, 88.136),
        eps_diluted=(5.06, 5.76, 8.05, 9.65, 9.68, 11.80),
        research=(16.876, 19.269, 20.716, 24.512, 27.195, 29.510),
        dividends_per_share=(1.84, 2.04, 2.24, 2.48, 2.72, 3.00),
        tax_rate=(0.10, 0.165, 0.138, 0.131, 0.19, 0.182),
        total_assets=(258.848, 286.556, 301.311, 333.779, 364.840, 411.976, 512.163),
        equity=(82.718, 102.330, 118.304, 141.988, 166.542, 206.223, 268.477),
        cash=(11.946, 11.356, 13.576, 14.224, 13.931, 34.704, 18.315),
        debt=(81.808, 78.366, 70.998, 67.775, 58.120, 59.965, 67.127),
        operating_cash_flow=(52.185, 60.675, 76.740, 89.035, 87.582, 118.548),
        capex=(13.925, 15.441, 20.622, 23.886, 28.107, 44.477),
        buybacks=(19.543, 22.968, 27.385, 32.696, 22.245, 17.254),
        prices=(98.61, 133.96, 203.51, 270.90, 256.83, 340.54, 446.95),
        quarter_weights=(0.24, 0.25, 0.25, 0.26),
        segments={
            BUSINESS: {
                "ProductivityAndBusinessProcesses": (0.33, 0.32, 0.32, 0.32, 0.33, 0.32),
                "IntelligentCloud": (0.31, 0.34, 0.36, 0.38, 0.41, 0.43),
                "MorePersonalComputing": (0.36, 0.34, 0.32, 0.30, 0.26, 0.25),
            },
        },
        balance_mix={
            "current_assets": 0.42,
            "inventory": 0.006,
            "receivables": 0.12,
            "ppe": 0.26,
            "goodwill": 0.2,
            "current_liabilities": 0.25,
            "payables": 0.04,
            "deferred_revenue": 0.12,
            "retained_earnings": 0.6,
        },
        daily_start_close=456.73,
        daily_end_close=421.50,
        daily_volume=21e6,
        industry="software and cloud services",
        products="Azure, Microsoft 365, Windows, Xbox and LinkedIn",
        extra_headlines=(
            "Microsoft expands Azure AI capacity with new data-centre investments",
            "Microsoft 365 Copilot adoption widens among large enterprise customers",
        ),
    ),
    Company(
        ticker="NVDA",
        name="NVIDIA Corporation",
        cik=1045810,
        fiscal_year_ends=(
            "2019-01-27",
            "2020-01-26",
            "2021-01-31",
            "2022-01-30",
            "2023-01-29",
            "2024-01-28",
        ),
        revenue=(11.716, 10.918, 16.675, 26.914, 26.974, 60.922),
        gross_profit=(7.171, 6.768, 10.396, 17.475, 15.356, 44.301),
        operating_income=(3.804, 2.846, 4.532, 10.041, 4.224, 32.972),
        net_income=(4.141, 2.796, 4.332, 9.752, 4.368, 29.760),
        eps_diluted=(0.17, 0.11, 0.17, 0.39, 0.17, 1.19),
        research=(2.376, 2.829, 3.924, 5.268, 7.339, 8.675),
        dividends_per_share=(0.015, 0.016, 0.016, 0.016, 0.016, 0.016),
        tax_rate=(0.01, 0.07, 0.02, 0.02, 0.03, 0.12),
        total_assets=(9.841, 8.292, 17.315, 28.791, 44.187, 41.182, 65.728),
        equity=(5.762, 7.469, 12.204, 16.893, 26.612, 22.101, 42.978),
        cash=(4.002, 0.782, 10.896, 0.847, 1.990, 3.389, 7.280),
        debt=(2.0, 1.988, 1.991, 6.963, 10.946, 10.954, 9.709),
        operating_cash_flow=(3.743, 4.761, 5.822, 9.108, 5.641, 28.090),
        capex=(0.600, 0.489, 1.128, 0.976, 1.833, 1.069),
        buybacks=(1.579, 0.0, 0.0, 0.0, 10.039, 9.533),
        prices=(6.05, 3.80, 6.10, 13.00, 22.90, 20.30, 61.00),
        quarter_weights=(0.20, 0.22, 0.26, 0.32),
        segments={
            BUSINESS: {
                "ComputeAndNetworking": (0.25, 0.28, 0.41, 0.58, 0.56, 0.78),
                "Graphics": (0.75, 0.72, 0.59, 0.42, 0.44, 0.22),
            },
        },
        balance_mix={
            "current_assets": 0.62,
            "inventory": 0.08,
            "receivables": 0.13,
            "ppe": 0.06,
            "goodwill": 0.09,
            "current_liabilities": 0.16,
            "payables": 0.04,
            "deferred_revenue": 0.01,
            "retained_earnings": 0.7,
        },
        daily_start_close=124.30,
        daily_end_close=134.29,
        daily_volume=250e6,
        industry="accelerated computing and graphics processors",
        products="data-centre GPUs, networking, gaming GPUs and automotive platforms",
        extra_headlines=(
            "Nvidia's Blackwell GPUs enter volume production for cloud providers",
            "Nvidia joins the Dow Jones Industrial Average",
        ),
    ),
    Company(
        ticker="GOOGL",
        name="Alphabet Inc.",
        cik=1652044,
        fiscal_year_ends=(
            "2019-12-31",
            "2020-12-31",
            "2021-12-31",
            "2022-12-31",
            "2023-12-31",
            "2024-12-31",
        ),
        revenue=(161.857, 182.527, 257.637, 282.836, 307.394, 350.018),
        gross_profit=(89.961, 97.795, 146.698, 156.633, 174.062, 203.712),
        operating_income=(34.231, 41.224, 78.714, 74.842, 84.293, 112.390),
        net_income=(34.343, 40.269, 76.033, 59.972, 73.795, 100.118),
        eps_diluted=(2.46, 2.93, 5.61, 4.56, 5.80, 8.04),
        research=(26.018, 27.573, 31.562, 39.500, 45.427, 49.326),
        dividends_per_share=(0.0, 0.0, 0.0, 0.0, 0.0, 0.60),
        tax_rate=(0.133, 0.162, 0.162, 0.159, 0.139, 0.164),
        total_assets=(232.792, 275.909, 319.616, 359.268, 365.264, 402.392, 450.256),
        equity=(177.628, 201.442, 222.544, 251.635, 256.144, 283.379, 325.084),
        cash=(16.701, 18.498, 26.465, 20.945, 21.879, 24.048, 23.466),
        debt=(4.012, 4.554, 14.817, 14.817, 14.701, 13.253, 10.883),
        operating_cash_flow=(54.520, 65.124, 91.652, 91.495, 101.746, 125.299),
        capex=(23.548, 22.281, 24.640, 31.485, 32.251, 52.535),
        buybacks=(18.396, 31.149, 50.274, 59.296, 61.504, 62.222),
        prices=(52.25, 66.97, 87.59, 144.85, 88.23, 139.69, 189.30),
        quarter_weights=(0.23, 0.24, 0.25, 0.28),
        segments={
            BUSINESS: {
                "GoogleServices": (0.932, 0.920, 0.920, 0.894, 0.887, 0.872),
                "GoogleCloud": (0.055, 0.072, 0.074, 0.093, 0.108, 0.124),
                "OtherBets": (0.013, 0.008, 0.006, 0.013, 0.005, 0.004),
            },
            GEOGRAPHY: {
                "UnitedStates": (0.46, 0.47, 0.46, 0.48, 0.47, 0.49),
                "EuropeMiddleEastAndAfrica": (0.31, 0.30, 0.31, 0.29, 0.29, 0.29),
                "AsiaPacific": (0.17, 0.17, 0.17, 0.16, 0.17, 0.16),
                "OtherAmericas": (0.06, 0.06, 0.06, 0.07, 0.07, 0.06),
            },
        },
        balance_mix={
            "current_assets": 0.42,
            "inventory": 0.0,
            "receivables": 0.11,
            "ppe": 0.34,
            "goodwill": 0.07,
            "current_liabilities": 0.18,
            "payables": 0.02,
            "deferred_revenue": 0.01,
            "retained_earnings": 0.75,
        },
        daily_start_close=182.99,
        daily_end_close=189.30,
        daily_volume=28e6,
        industry="internet search, advertising and cloud computing",
        products="Search, YouTube, Android, Google Cloud and Other Bets",
        extra_headlines=(
            "Alphabet unveils Willow quantum chip as Google Cloud growth accelerates",
            "Alphabet pays its first quarterly dividend and expands buyback",
        ),
    ),
    Company(
        ticker="AMZN",
        name="Amazon.com, Inc.",
        cik=1018724,
        fiscal_year_ends=(
            "2019-12-31",
            "2020-12-31",
            "2021-12-31",
            "2022-12-31",
            "2023-12-31",
            "2024-12-31",
        ),
        revenue=(280.522, 386.064, 469.822, 513.983, 574.785, 637.959),
        gross_profit=(114.986, 152.757, 197.478, 225.152, 270.046, 311.671),
        operating_income=(14.541, 22.899, 24.879, 12.248, 36.852, 68.593),
        net_income=(11.588, 21.331, 33.364, -2.722, 30.425, 59.248),
        eps_diluted=(1.15, 2.09, 3.24, -0.27, 2.90, 5.53),
        research=(35.931, 42.740, 56.052, 73.213, 85.622, 88.544),
        dividends_per_share=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        tax_rate=(0.17, 0.117, 0.054, 0.542, 0.19, 0.133),
        total_assets=(162.648, 225.248, 321.195, 420.549, 462.675, 527.854, 624.894),
        equity=(43.549, 62.060, 93.404, 138.245, 146.043, 201.875, 285.970),
        cash=(31.750, 36.092, 42.122, 36.220, 53.888, 73.387, 78.779),
        debt=(23.495, 23.414, 31.816, 48.744, 67.150, 58.314, 52.623),
        operating_cash_flow=(38.514, 66.064, 46.327, 46.752, 84.946, 115.877),
        capex=(16.861, 40.140, 61.053, 63.645, 52.729, 83.004),
        buybacks=(0.0, 0.0, 0.0, 6.0, 0.0, 0.0),
        prices=(75.10, 92.39, 162.85, 166.72, 84.00, 151.94, 219.39),
        quarter_weights=(0.22, 0.23, 0.24, 0.31),
        segments={
            BUSINESS: {
                "NorthAmericaSegment": (0.61, 0.61, 0.59, 0.61, 0.61, 0.61),
                "InternationalSegment": (0.27, 0.27, 0.27, 0.23, 0.23, 0.22),
                "AmazonWebServicesSegment": (0.12, 0.12, 0.14, 0.16, 0.16, 0.17),
            },
        },
        balance_mix={
            "current_assets": 0.30,
            "inventory": 0.06,
            "receivables": 0.09,
            "ppe": 0.48,
            "goodwill": 0.04,
            "current_liabilities": 0.30,
            "payables": 0.16,
            "deferred_revenue": 0.03,
            "retained_earnings": 0.55,
        },
        daily_start_close=197.20,
        daily_end_close=219.39,
        daily_volume=40e6,
        industry="e-commerce, cloud computing and digital advertising",
        products="online stores, third-party seller services, AWS, advertising and Prime",
        extra_headlines=(
            "Amazon Web Services launches new Trainium chips for AI training",
            "Amazon posts record Black Friday and Cyber Monday sales",
        ),
    ),
    Company(
        ticker="TSLA",
        name="Tesla, Inc.",
        cik=1318605,
        fiscal_year_ends=(
            "2019-12-31",
            "2020-12-31",
            "2021-12-31",
            "2022-12-31",
            "2023-12-31",
            "2024-12-31",
        ),
        revenue=(24.578, 31.536, 53.823, 81.462, 96.773, 97.690),
        gross_profit=(4.069, 6.630, 13.606, 20.853, 17.660, 17.450),
        operating_income=(-0.069, 1.994, 6.523, 13.656, 8.891, 7.076),
        net_income=(-0.862, 0.721, 5.519, 12.556, 14.997, 7.091),
        eps_diluted=(-0.33, 0.21, 1.63, 3.62, 4.30, 2.04),
        research=(1.343, 1.491, 2.593, 3.075, 3.969, 4.540),
        dividends_per_share=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        tax_rate=(-0.15, 0.25, 0.11, 0.08, -0.50, 0.20),
        total_assets=(29.740, 34.309, 52.148, 62.131, 82.338, 106.618, 122.070),
        equity=(4.923, 6.618, 22.225, 30.189, 44.704, 62.634, 72.913),
        cash=(3.686, 6.268, 19.384, 17.576, 16.253, 16.398, 16.139),
        debt=(11.0, 11.634, 10.583, 6.834, 2.973, 4.350, 7.5),
        operating_cash_flow=(2.405, 5.943, 11.497, 14.724, 13.256, 14.923),
        capex=(1.327, 3.157, 6.482, 7.158, 8.898, 11.339),
        buybacks=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        prices=(22.19, 27.89, 235.22, 352.26, 123.18, 248.48, 403.84),
        quarter_weights=(0.23, 0.24, 0.26, 0.27),
        segments={
            BUSINESS: {
                "AutomotiveSegment": (0.84, 0.86, 0.88, 0.87, 0.85, 0.79),
                "EnergyGenerationAndStorageSegment": (0.06, 0.06, 0.05, 0.05, 0.06, 0.10),
                "ServicesAndOther": (0.10, 0.08, 0.07, 0.08, 0.09, 0.11),
            },
        },
        balance_mix={
            "current_assets": 0.45,
            "inventory": 0.12,
            "receivables": 0.04,
            "ppe": 0.40,
            "goodwill": 0.005,
            "current_liabilities": 0.25,
            "payables": 0.12,
            "deferred_revenue": 0.03,
            "retained_earnings": 0.4,
        },
        daily_start_close=209.86,
        daily_end_close=403.84,
        daily_volume=95e6,
        industry="electric vehicles and energy storage",
        products="electric vehicles, Megapack and Powerwall storage, solar and services",
        extra_headlines=(
            "Tesla unveils its Cybercab robotaxi concept at 'We, Robot' event",
            "Tesla energy storage deployments reach a quarterly record",
        ),
    ),
    Company(
        ticker="JPM",
        name="JPMorgan Chase & Co.",
        cik=19617,
        fiscal_year_ends=(
            "2019-12-31",
            "2020-12-31",
            "2021-12-31",
            "2022-12-31",
            "2023-12-31",
            "2024-12-31",
        ),
        revenue=(115.627, 119.543, 121.649, 128.695, 158.104, 177.556),
        gross_profit=(115.627, 119.543, 121.649, 128.695, 158.104, 177.556),
        operating_income=(44.545, 35.396, 59.562, 46.166, 61.612, 75.083),
        net_income=(36.431, 29.131, 48.334, 37.676, 49.552, 58.471),
        eps_diluted=(10.72, 8.88, 15.36, 12.09, 16.23, 19.75),
        research=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        dividends_per_share=(3.40, 3.60, 3.80, 4.00, 4.10, 4.80),
        tax_rate=(0.182, 0.177, 0.188, 0.184, 0.196, 0.221),
        total_assets=(2622.532, 2687.379, 3386.071, 3743.567, 3665.743, 3875.393, 4002.814),
        equity=(256.515, 261.330, 279.354, 294.127, 292.332, 327.878, 344.758),
        cash=(278.8, 263.6, 527.6, 740.8, 567.2, 624.2, 469.3),
        debt=(282.031, 291.498, 281.685, 301.005, 295.865, 391.825, 401.418),
        operating_cash_flow=(6.046, -79.910, 78.084, 107.119, 12.974, -42.012),
        capex=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        buybacks=(24.121, 6.397, 18.448, 3.162, 9.824, 18.841),
        prices=(97.62, 139.40, 127.07, 158.35, 134.10, 170.10, 239.71),
        quarter_weights=(0.26, 0.25, 0.25, 0.24),
        segments={
            BUSINESS: {
                "ConsumerAndCommunityBanking": (0.48, 0.43, 0.41, 0.43, 0.45, 0.40),
                "CorporateAndInvestmentBank": (0.34, 0.41, 0.42, 0.37, 0.31, 0.40),
                "AssetAndWealthManagement": (0.12, 0.12, 0.14, 0.14, 0.13, 0.12),
                "Corporate": (0.06, 0.04, 0.03, 0.06, 0.11, 0.08),
            },
        },
        balance_mix={
            "current_assets": 0.0,
            "inventory": 0.0,
            "receivables": 0.03,
            "ppe": 0.008,
            "goodwill": 0.014,
            "current_liabilities": 0.0,
            "payables": 0.08,
            "deferred_revenue": 0.0,
            "retained_earnings": 1.0,
            "deposits": 0.62,
        },
        daily_start_close=201.70,
        daily_end_close=239.71,
        daily_volume=9e6,
        industry="banking and financial services",
        products="consumer banking, investment banking, commercial banking and asset management",
        bank=True,
        extra_headlines=(
            "JPMorgan raises its net interest income outlook",
            "JPMorgan's investment banking fees jump as deal activity recovers",
        ),
    ),
)


# dates -----------------------------------------------------------------------------------


def _months_before(day: date, months: int) -> date:
    """`day` moved back whole months; a month-end date stays a month-end."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(year, month, last)
    return date(year, month, min(day.day, last))


def _quarter_ends(fiscal_end: date) -> list[date]:
    return [
        _months_before(fiscal_end, 9),
        _months_before(fiscal_end, 6),
        _months_before(fiscal_end, 3),
        fiscal_end,
    ]


def _iso(day: date) -> str:
    return day.isoformat()


# statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One reporting period: its end date, label and the figures that drive every line."""

    end: date
    fiscal_period: str
    kind: str
    share: float
    index: int
    balance_position: float


def _money(billions: float) -> int:
    return round(billions * B)


def _ratio(value: float | None, digits: int = 4) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, digits)


def _interpolate(series: tuple[float, ...], position: float) -> float:
    """A balance-sheet value `position` years after fiscal 2018 (0 = FY2018, 6 = FY2024)."""
    low = min(math.floor(position), len(series) - 2)
    fraction = position - low
    return series[low] + (series[low + 1] - series[low]) * fraction


def _periods(company: Company) -> dict[str, list[Period]]:
    annual: list[Period] = []
    quarterly: list[Period] = []
    for index, (year, end_text) in enumerate(zip(YEARS, company.fiscal_year_ends, strict=True)):
        end = date.fromisoformat(end_text)
        annual.append(Period(end, f"{year}-FY", "annual", 1.0, index, index + 1.0))
        for number, (quarter_end, weight) in enumerate(
            zip(_quarter_ends(end), company.quarter_weights, strict=True), start=1
        ):
            quarterly.append(
                Period(
                    quarter_end, f"{year}-Q{number}", "quarterly", weight, index, index + number / 4
                )
            )
    return {"annual": annual, "quarterly": quarterly}


def _income(company: Company, period: Period) -> Row:
    i, share = period.index, period.share
    revenue = company.revenue[i] * share
    gross = company.gross_profit[i] * share
    operating = company.operating_income[i] * share
    net = company.net_income[i] * share
    research = company.research[i] * share
    tax_rate = company.tax_rate[i]
    pretax = net / (1 - tax_rate)
    interest = revenue * (0.012 if not company.bank else 0.0)
    preferred = revenue * 0.009 if company.bank else 0.0
    diluted_shares = company.net_income[i] / company.eps_diluted[i]
    eps_diluted = company.eps_diluted[i] * share
    return {
        "ticker": company.ticker,
        "report_period": _iso(period.end),
        "fiscal_period": period.fiscal_period,
        "period": period.kind,
        "currency": "USD",
        "revenue": _money(revenue),
        "cost_of_revenue": _money(revenue - gross),
        "gross_profit": _money(gross),
        "operating_expense": _money(gross - operating),
        "selling_general_and_administrative_expenses": _money(gross - operating - research),
        "research_and_development": _money(research),
        "operating_income": _money(operating),
        "interest_expense": _money(interest),
        "ebit": _money(pretax + interest),
        "income_tax_expense": _money(pretax - net),
        "net_income_discontinued_operations": 0,
        "net_income_non_controlling_interests": 0,
        "net_income": _money(net),
        "net_income_common_stock": _money(net - preferred),
        "preferred_dividends_impact": _money(preferred),
        "consolidated_income": _money(net),
        "earnings_per_share": round(eps_diluted * 1.006, 2),
        "earnings_per_share_diluted": round(eps_diluted, 2),
        "dividends_per_common_share": round(company.dividends_per_share[i] * share, 3),
        "weighted_average_shares": round(diluted_shares * 0.994 * B),
        "weighted_average_shares_diluted": round(diluted_shares * B),
    }


def _balance(company: Company, period: Period) -> Row:
    mix = company.balance_mix
    position = period.balance_position
    assets = _interpolate(company.total_assets, position)
    equity = _interpolate(company.equity, position)
    cash = _interpolate(company.cash, position)
    debt = _interpolate(company.debt, position)
    liabilities = assets - equity
    inventory = mix["inventory"] * assets
    receivables = mix["receivables"] * assets
    current_assets = max(mix["current_assets"] * assets, cash + inventory + receivables)
    current_investments = max(current_assets - cash - inventory - receivables - 0.02 * assets, 0)
    ppe = mix["ppe"] * assets
    goodwill = mix["goodwill"] * assets
    tax_assets = 0.015 * assets
    non_current_assets = assets - current_assets
    non_current_investments = max(
        non_current_assets - ppe - goodwill - tax_assets - 0.03 * assets, 0
    )
    current_liabilities = mix["current_liabilities"] * assets
    current_debt = 0.1 * debt
    shares = _interpolate(
        (
            company.net_income[0] / company.eps_diluted[0],
            *(n / e for n, e in zip(company.net_income, company.eps_diluted, strict=True)),
        ),
        position,
    )
    row: Row = {
        "ticker": company.ticker,
        "report_period": _iso(period.end),
        "fiscal_period": period.fiscal_period,
        "period": period.kind,
        "currency": "USD",
        "total_assets": _money(assets),
        "current_assets": _money(current_assets),
        "cash_and_equivalents": _money(cash),
        "inventory": _money(inventory),
        "current_investments": _money(current_investments),
        "trade_and_non_trade_receivables": _money(receivables),
        "non_current_assets": _money(non_current_assets),
        "property_plant_and_equipment": _money(ppe),
        "goodwill_and_intangible_assets": _money(goodwill),
        "investments": _money(current_investments + non_current_investments),
        "non_current_investments": _money(non_current_investments),
        "outstanding_shares": round(shares * 0.99 * B),
        "tax_assets": _money(tax_assets),
        "total_liabilities": _money(liabilities),
        "current_liabilities": _money(current_liabilities),
        "current_debt": _money(current_debt),
        "trade_and_non_trade_payables": _money(mix["payables"] * assets),
        "deferred_revenue": _money(mix["deferred_revenue"] * assets),
        "deposit_liabilities": _money(mix.get("deposits", 0.0) * assets),
        "non_current_liabilities": _money(liabilities - current_liabilities),
        "non_current_debt": _money(debt - current_debt),
        "tax_liabilities": _money(0.012 * assets),
        "shareholders_equity": _money(equity),
        "retained_earnings": _money(mix["retained_earnings"] * equity),
        "accumulated_other_comprehensive_income": _money(-0.015 * equity),
        "total_debt": _money(debt),
    }
    if company.bank:
        for name in (
            "current_assets",
            "current_liabilities",
            "non_current_assets",
            "non_current_liabilities",
            "inventory",
        ):
            row[name] = None
    return row


def _cash_flow(company: Company, period: Period, opening_position: float) -> Row:
    i, share = period.index, period.share
    revenue = company.revenue[i] * share
    net = company.net_income[i] * share
    operating = company.operating_cash_flow[i] * share
    capex = -company.capex[i] * share
    buybacks = -company.buybacks[i] * share
    shares = company.net_income[i] / company.eps_diluted[i]
    dividends = -company.dividends_per_share[i] * shares * share
    debt_change = _interpolate(company.debt, period.balance_position) - _interpolate(
        company.debt, opening_position
    )
    cash_change = _interpolate(company.cash, period.balance_position) - _interpolate(
        company.cash, opening_position
    )
    acquisitions = -0.004 * revenue
    fx = -0.0005 * revenue
    financing = buybacks + dividends + debt_change
    investments = cash_change - operating - capex - acquisitions - financing - fx
    return {
        "ticker": company.ticker,
        "report_period": _iso(period.end),
        "fiscal_period": period.fiscal_period,
        "period": period.kind,
        "currency": "USD",
        "net_income": _money(net),
        "depreciation_and_amortization": _money(0.035 * revenue),
        "share_based_compensation": _money((0.005 if company.bank else 0.03) * revenue),
        "net_cash_flow_from_operations": _money(operating),
        "capital_expenditure": _money(capex),
        "business_acquisitions_and_disposals": _money(acquisitions),
        "investment_acquisitions_and_disposals": _money(investments),
        "net_cash_flow_from_investing": _money(capex + acquisitions + investments),
        "issuance_or_repayment_of_debt_securities": _money(debt_change),
        "issuance_or_purchase_of_equity_shares": _money(buybacks),
        "dividends_and_other_cash_distributions": _money(dividends),
        "net_cash_flow_from_financing": _money(financing),
        "change_in_cash_and_equivalents": _money(cash_change),
        "effect_of_exchange_rate_changes": _money(fx),
        "ending_cash_balance": _money(_interpolate(company.cash, period.balance_position)),
        "free_cash_flow": _money(operating + capex),
    }


def _statements(company: Company) -> dict[str, list[Row]]:
    periods = _periods(company)
    income: list[Row] = []
    balance: list[Row] = []
    cash_flow: list[Row] = []
    for kind in ("annual", "quarterly"):
        step = 1.0 if kind == "annual" else 0.25
        for period in periods[kind]:
            income.append(_income(company, period))
            balance.append(_balance(company, period))
            cash_flow.append(_cash_flow(company, period, period.balance_position - step))
    return {
        "income_statements": _newest_first(income),
        "balance_sheets": _newest_first(balance),
        "cash_flow_statements": _newest_first(cash_flow),
    }


def _with_trailing(statements: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """`statements` plus their recent trailing-twelve-month rows.

    The stand-in derives TTM rows the same way at request time, so the fixtures store only
    annual and quarterly rows; this copy feeds the TTM metrics.
    """
    result = {}
    for name, rows in statements.items():
        quarters = sorted(
            (r for r in rows if r["period"] == "quarterly"), key=lambda r: r["report_period"]
        )
        trailing = []
        for end in range(len(quarters) - TTM_QUARTERS, len(quarters)):
            window = quarters[end - 3 : end + 1]
            trailing.append(trailing_row(window, point_in_time=name == "balance_sheets"))
        result[name] = _newest_first([*rows, *trailing])
    return result


def _newest_first(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (row["period"], row["report_period"]), reverse=True)


# metrics ---------------------------------------------------------------------------------


def _price_at(company: Company, position: float) -> float:
    """Share price `position` fiscal years after FY2018, geometric between year-end prices."""
    low = min(math.floor(position), len(company.prices) - 2)
    fraction = position - low
    start, end = company.prices[low], company.prices[low + 1]
    return start * math.pow(end / start, fraction)


def _growth(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return (now - before) / abs(before)


def _metrics(
    company: Company,
    statements: dict[str, list[Row]],
    price_override: float | None,
    kind: str,
    report_period: str,
) -> Row:
    def pick(name: str, when: str, period_kind: str) -> Row | None:
        return next(
            (
                r
                for r in statements[name]
                if r["report_period"] == when and r["period"] == period_kind
            ),
            None,
        )

    income = pick("income_statements", report_period, kind)
    balance = pick("balance_sheets", report_period, kind)
    cash = pick("cash_flow_statements", report_period, kind)
    assert income and balance and cash
    earlier = [
        r
        for r in statements["income_statements"]
        if r["period"] == kind and r["report_period"] < report_period
    ]
    step_back = 1 if kind == "annual" else 4
    prior_income = earlier[step_back - 1] if len(earlier) >= step_back else None
    prior_balance = (
        pick("balance_sheets", prior_income["report_period"], kind) if prior_income else None
    )
    prior_cash = (
        pick("cash_flow_statements", prior_income["report_period"], kind) if prior_income else None
    )
    scale = 4 if kind == "quarterly" else 1
    end = date.fromisoformat(report_period)
    position = _position(company, end)
    price = price_override or _price_at(company, position)
    shares = balance["outstanding_shares"]
    market_cap = price * shares
    enterprise_value = market_cap + balance["total_debt"] - balance["cash_and_equivalents"]
    revenue = income["revenue"] * scale
    net = income["net_income"] * scale
    ebitda = (income["ebit"] + cash["depreciation_and_amortization"]) * scale
    fcf = cash["free_cash_flow"] * scale
    equity = balance["shareholders_equity"]
    assets = balance["total_assets"]
    eps = income["earnings_per_share_diluted"] * scale
    current_assets = balance["current_assets"]
    current_liabilities = balance["current_liabilities"]

    def divide(a: float | None, b: float | None) -> float | None:
        if a is None or b is None or b == 0:
            return None
        return a / b

    eps_growth = _growth(
        income["earnings_per_share_diluted"],
        prior_income["earnings_per_share_diluted"] if prior_income else None,
    )
    pe = divide(price, eps) if eps > 0 else None
    receivables = balance["trade_and_non_trade_receivables"]
    inventory = balance["inventory"]
    cost = income["cost_of_revenue"] * scale
    dso = divide(receivables * 365, revenue)
    dio = divide((inventory or 0) * 365, cost) if cost else None
    return {
        "ticker": company.ticker,
        "report_period": report_period,
        "period": kind,
        "currency": "USD",
        "market_cap": round(market_cap),
        "enterprise_value": round(enterprise_value),
        "price_to_earnings_ratio": _ratio(pe, 2),
        "price_to_book_ratio": _ratio(divide(market_cap, equity), 2),
        "price_to_sales_ratio": _ratio(divide(market_cap, revenue), 2),
        "enterprise_value_to_ebitda_ratio": _ratio(divide(enterprise_value, ebitda), 2),
        "enterprise_value_to_revenue_ratio": _ratio(divide(enterprise_value, revenue), 2),
        "free_cash_flow_yield": _ratio(divide(fcf, market_cap)),
        "peg_ratio": _ratio(
            divide(pe, eps_growth * 100) if pe and eps_growth and eps_growth > 0 else None, 2
        ),
        "gross_margin": _ratio(divide(income["gross_profit"], income["revenue"])),
        "operating_margin": _ratio(divide(income["operating_income"], income["revenue"])),
        "net_margin": _ratio(divide(income["net_income"], income["revenue"])),
        "return_on_equity": _ratio(divide(net, equity)),
        "return_on_assets": _ratio(divide(net, assets)),
        "return_on_invested_capital": _ratio(
            divide(income["operating_income"] * scale * 0.85, equity + balance["total_debt"])
        ),
        "asset_turnover": _ratio(divide(revenue, assets)),
        "inventory_turnover": _ratio(divide(cost, inventory) if inventory else None, 2),
        "receivables_turnover": _ratio(divide(revenue, receivables), 2),
        "days_sales_outstanding": _ratio(dso, 1),
        "operating_cycle": _ratio((dso or 0) + (dio or 0), 1) if dso is not None else None,
        "working_capital_turnover": _ratio(
            divide(revenue, current_assets - current_liabilities)
            if current_assets is not None
            else None,
            2,
        ),
        "current_ratio": _ratio(divide(current_assets, current_liabilities), 2),
        "quick_ratio": _ratio(
            divide((current_assets or 0) - (inventory or 0), current_liabilities), 2
        ),
        "cash_ratio": _ratio(divide(balance["cash_and_equivalents"], current_liabilities), 2),
        "operating_cash_flow_ratio": _ratio(
            divide(cash["net_cash_flow_from_operations"] * scale, current_liabilities), 2
        ),
        "debt_to_equity": _ratio(divide(balance["total_debt"], equity), 2),
        "debt_to_assets": _ratio(divide(balance["total_debt"], assets)),
        "interest_coverage": _ratio(divide(income["ebit"], income["interest_expense"]), 1),
        "revenue_growth": _ratio(
            _growth(income["revenue"], prior_income["revenue"] if prior_income else None)
        ),
        "earnings_growth": _ratio(
            _growth(income["net_income"], prior_income["net_income"] if prior_income else None)
        ),
        "book_value_growth": _ratio(
            _growth(equity, prior_balance["shareholders_equity"] if prior_balance else None)
        ),
        "earnings_per_share_growth": _ratio(eps_growth),
        "free_cash_flow_growth": _ratio(
            _growth(cash["free_cash_flow"], prior_cash["free_cash_flow"] if prior_cash else None)
        ),
        "operating_income_growth": _ratio(
            _growth(
                income["operating_income"],
                prior_income["operating_income"] if prior_income else None,
            )
        ),
        "ebitda_growth": None,
        "payout_ratio": _ratio(
            divide(-cash["dividends_and_other_cash_distributions"], income["net_income"])
            if income["net_income"] > 0
            else None
        ),
        "earnings_per_share": round(eps, 2),
        "book_value_per_share": _ratio(divide(equity, shares), 2),
        "free_cash_flow_per_share": _ratio(divide(fcf, shares), 2),
    }


def _position(company: Company, day: date) -> float:
    """Fiscal years after FY2018 at `day`, for interpolating prices and balances."""
    ends = [date.fromisoformat(d) for d in company.fiscal_year_ends]
    start = ends[0] - timedelta(days=365)
    points = [start, *ends]
    for index in range(len(points) - 1):
        if day <= points[index + 1]:
            span = (points[index + 1] - points[index]).days
            return index + (day - points[index]).days / span
    return len(points) - 1 + (day - points[-1]).days / 365


def _all_metrics(company: Company, statements: dict[str, list[Row]]) -> list[Row]:
    """Annual and TTM metrics for every stored period, quarterly ones for the latest quarters."""
    quarters = [
        r["report_period"] for r in statements["income_statements"] if r["period"] == "quarterly"
    ]
    recent = set(sorted(quarters)[-QUARTERLY_METRIC_QUARTERS:])
    rows = []
    for row in statements["income_statements"]:
        if row["period"] == "quarterly" and row["report_period"] not in recent:
            continue
        rows.append(_metrics(company, statements, None, row["period"], row["report_period"]))
    return _newest_first(rows)


# prices ----------------------------------------------------------------------------------


def _trading_days() -> list[date]:
    days = []
    day = PRICE_START
    while day <= PRICE_END:
        if day.weekday() < 5 and day not in MARKET_HOLIDAYS:
            days.append(day)
        day += timedelta(days=1)
    return days


def _prices(company: Company) -> list[Row]:
    """Daily bars: a seeded random walk bent so it starts and ends at the real closes."""
    rng = random.Random(f"{company.ticker}-prices")
    days = _trading_days()
    volatility = 0.028 if company.ticker in {"TSLA", "NVDA"} else 0.014
    steps = [rng.gauss(0, volatility) for _ in days[1:]]
    walk = [0.0]
    for step in steps:
        walk.append(walk[-1] + step)
    drift = math.log(company.daily_end_close / company.daily_start_close)
    count = len(days) - 1
    closes = [
        company.daily_start_close * math.exp(walk[i] - walk[-1] * i / count + drift * i / count)
        for i in range(len(days))
    ]
    rows = []
    previous = closes[0]
    for day, close in zip(days, closes, strict=True):
        open_ = previous * (1 + rng.gauss(0, volatility / 4))
        high = max(open_, close) * (1 + abs(rng.gauss(0, volatility / 2)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, volatility / 2)))
        stamp = datetime(day.year, day.month, day.day, 4, 0)
        rows.append(
            {
                "open": round(open_, 2),
                "close": round(close, 2),
                "high": round(high, 2),
                "low": round(low, 2),
                "volume": round(company.daily_volume * math.exp(rng.gauss(0, 0.3))),
                "time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "time_milliseconds": int((stamp - datetime(1970, 1, 1)).total_seconds() * 1000),
            }
        )
        previous = close
    return rows


def _price_snapshot(company: Company, prices: list[Row]) -> Row:
    last, before = prices[-1], prices[-2]
    change = last["close"] - before["close"]
    stamp = datetime(2024, 12, 31, 21, 0)
    return {
        "ticker": company.ticker,
        "price": last["close"],
        "day_change": round(change, 2),
        "day_change_percent": round(change / before["close"] * 100, 2),
        "time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "time_milliseconds": int((stamp - datetime(1970, 1, 1)).total_seconds() * 1000),
    }


# segments --------------------------------------------------------------------------------


def _segments(company: Company, statements: dict[str, list[Row]]) -> list[Row]:
    rows = []
    income = [r for r in statements["income_statements"] if r["period"] != "ttm"]
    quarters = sorted(r["report_period"] for r in income if r["period"] == "quarterly")
    recent_quarters = set(quarters[-QUARTERLY_SEGMENT_QUARTERS:])
    for row in income:
        if row["period"] == "quarterly" and row["report_period"] not in recent_quarters:
            continue
        year_index = int(row["fiscal_period"][:4]) - YEARS[0]
        items = []
        for axis, segments in company.segments.items():
            for segment, shares in segments.items():
                items.append(
                    {
                        "key": f"{company.ticker.lower()}:{segment}Member",
                        "axis": axis,
                        "value": round(row["revenue"] * shares[year_index]),
                        "segment": segment,
                    }
                )
        rows.append(
            {
                "ticker": company.ticker,
                "report_period": row["report_period"],
                "period": row["period"],
                "items": items,
            }
        )
    return _newest_first(rows)


# filings and their text ------------------------------------------------------------------


def _accession(company: Company, filed: date, rng: random.Random) -> str:
    return f"{company.cik:010d}-{filed.year % 100:02d}-{rng.randint(1, 999_999):06d}"


def _filing(company: Company, kind: str, report: date, filed: date, rng: random.Random) -> Row:
    accession = _accession(company, filed, rng)
    folder = accession.replace("-", "")
    return {
        "cik": company.cik,
        "accession_number": accession,
        "filing_type": kind,
        "report_date": _iso(report),
        "ticker": company.ticker,
        "url": f"https://www.sec.gov/Archives/edgar/data/{company.cik}/{folder}/{accession}-index.htm",
    }


def _filings(company: Company, statements: dict[str, list[Row]]) -> list[Row]:
    rng = random.Random(f"{company.ticker}-filings")
    rows = []
    for row in statements["income_statements"]:
        end = date.fromisoformat(row["report_period"])
        if row["period"] == "annual":
            rows.append(_filing(company, "10-K", end, end + timedelta(days=34), rng))
        elif row["period"] == "quarterly" and not row["fiscal_period"].endswith("Q4"):
            rows.append(_filing(company, "10-Q", end, end + timedelta(days=33), rng))
    for row in statements["income_statements"]:
        if row["period"] == "quarterly" and row["report_period"] >= "2024-01-01":
            end = date.fromisoformat(row["report_period"])
            release = end + timedelta(days=28)
            if release <= PRICE_END:
                rows.append(_filing(company, "8-K", release, release, rng))
    return sorted(rows, key=lambda r: (r["report_date"], r["filing_type"]), reverse=True)


def _billions(value: float) -> str:
    return f"${value / B:,.1f} billion"


def _change(now: float, before: float) -> str:
    pct = (now - before) / abs(before) * 100
    direction = "increased" if pct >= 0 else "decreased"
    return f"{direction} {abs(pct):.0f}%"


RISKS = (
    (
        "Macroeconomic conditions",
        "Adverse macroeconomic conditions, including inflation, "
        "slower growth or recession, changes in interest rates and currency fluctuations, could "
        "materially reduce demand for the Company's offerings and increase its costs.",
    ),
    (
        "Competition",
        "The markets for the Company's products and services are highly "
        "competitive and characterised by rapid technological change; competitors with greater "
        "resources or lower prices could reduce the Company's market share and margins.",
    ),
    (
        "Supply chain and third parties",
        "The Company depends on third parties for components, "
        "manufacturing, logistics and cloud capacity. Disruptions, shortages or cost increases at "
        "these partners could delay shipments and raise costs.",
    ),
    (
        "Cybersecurity and data protection",
        "Security breaches, ransomware and other attacks "
        "could compromise the Company's systems and customer data, leading to lost revenue, "
        "remediation costs, litigation and reputational harm.",
    ),
    (
        "Regulation and legal proceedings",
        "The Company is subject to complex and changing laws "
        "on competition, privacy, taxation, trade and the environment in many jurisdictions. "
        "Investigations, fines or new rules could require changes to business practices.",
    ),
    (
        "International operations",
        "A significant share of revenue comes from outside the "
        "United States. Tariffs, export controls, political tensions and public-health events "
        "could affect operations and demand in those markets.",
    ),
    (
        "Talent",
        "The Company's success depends on attracting and retaining highly skilled "
        "employees; competition for talent, especially in engineering and AI, is intense.",
    ),
    (
        "Stock price volatility",
        "The price of the Company's stock has been and may continue to "
        "be volatile, and may decline regardless of operating performance.",
    ),
)


def _annual_items(company: Company, statements: dict[str, list[Row]], year: int) -> list[Row]:
    annual = {
        int(r["fiscal_period"][:4]): r
        for r in statements["income_statements"]
        if r["period"] == "annual"
    }
    cash = {
        int(r["fiscal_period"][:4]): r
        for r in statements["cash_flow_statements"]
        if r["period"] == "annual"
    }
    now, before = annual[year], annual[year - 1]
    segments = ", ".join(name for axis in company.segments.values() for name in axis)
    risk_text = "\n\n".join(f"{title}\n{body}" for title, body in RISKS)
    mdna = (
        f"Fiscal {year} compared with fiscal {year - 1}. Total net revenue "
        f"{_change(now['revenue'], before['revenue'])} to {_billions(now['revenue'])}, compared "
        f"with {_billions(before['revenue'])}. Gross margin was "
        f"{now['gross_profit'] / now['revenue'] * 100:.1f}% and operating income was "
        f"{_billions(now['operating_income'])}. Net income "
        f"{_change(now['net_income'], before['net_income'])} to {_billions(now['net_income'])}, "
        f"or ${now['earnings_per_share_diluted']:.2f} per diluted share. Cash generated by "
        f"operating activities was "
        f"{_billions(cash[year]['net_cash_flow_from_operations'])} and capital expenditures were "
        f"{_billions(-cash[year]['capital_expenditure'])}. Management believes existing cash, "
        f"marketable securities and access to credit markets are sufficient to meet its "
        f"liquidity needs for at least the next twelve months."
    )
    return [
        {
            "number": "Item-1",
            "name": "Business",
            "text": f"{company.name} operates in {company.industry}. The Company's principal "
            f"offerings are {company.products}. It reports its results in the following "
            f"segments: {segments}. The Company's fiscal year ended on "
            f"{now['report_period']}.",
        },
        {
            "number": "Item-1A",
            "name": "Risk Factors",
            "text": "The Company's business, financial condition and results of operations are "
            "subject to various risks, including those described below.\n\n" + risk_text,
        },
        {
            "number": "Item-7",
            "name": "Management's Discussion and Analysis of Financial "
            "Condition and Results of Operations",
            "text": mdna,
        },
        {
            "number": "Item-7A",
            "name": "Quantitative and Qualitative Disclosures About Market Risk",
            "text": "The Company is exposed to interest-rate risk on its investment portfolio and "
            "term debt, and to foreign-currency risk on revenue, costs and balances "
            "denominated in currencies other than the U.S. dollar. It uses derivatives to "
            "hedge part of these exposures.",
        },
        {
            "number": "Item-8",
            "name": "Financial Statements and Supplementary Data",
            "text": f"Consolidated statements of operations for fiscal {year}: net revenue "
            f"{_billions(now['revenue'])}; cost of revenue "
            f"{_billions(now['cost_of_revenue'])}; operating income "
            f"{_billions(now['operating_income'])}; net income "
            f"{_billions(now['net_income'])}.",
        },
    ]


def _quarter_items(company: Company, statements: dict[str, list[Row]], row: Row) -> list[Row]:
    quarters = [r for r in statements["income_statements"] if r["period"] == "quarterly"]
    prior = next(
        r
        for r in quarters
        if r["fiscal_period"] == f"{int(row['fiscal_period'][:4]) - 1}{row['fiscal_period'][4:]}"
    )
    return [
        {
            "number": "Part-1,Item-1",
            "name": "Financial Statements",
            "text": f"Condensed consolidated statements of operations for the quarter ended "
            f"{row['report_period']}: net revenue {_billions(row['revenue'])}; operating "
            f"income {_billions(row['operating_income'])}; net income "
            f"{_billions(row['net_income'])}.",
        },
        {
            "number": "Part-1,Item-2",
            "name": "Management's Discussion and Analysis of Financial "
            "Condition and Results of Operations",
            "text": f"Net revenue for the quarter {_change(row['revenue'], prior['revenue'])} year "
            f"over year to {_billions(row['revenue'])}. Operating income was "
            f"{_billions(row['operating_income'])} and diluted earnings per share were "
            f"${row['earnings_per_share_diluted']:.2f}.",
        },
        {
            "number": "Part-2,Item-1A",
            "name": "Risk Factors",
            "text": "There have been no material changes to the risk factors disclosed in the "
            "Company's most recent annual report on Form 10-K.",
        },
    ]


def _filing_items(
    company: Company, statements: dict[str, list[Row]], filings: list[Row]
) -> list[Row]:
    documents = []
    by_period = {(f["filing_type"], f["report_date"]): f for f in filings}
    for year in (2023, 2024):
        annual = next(
            r
            for r in statements["income_statements"]
            if r["period"] == "annual" and r["fiscal_period"] == f"{year}-FY"
        )
        filing = by_period[("10-K", annual["report_period"])]
        documents.append(
            {
                "ticker": company.ticker,
                "cik": str(company.cik),
                "filing_type": "10-K",
                "accession_number": filing["accession_number"],
                "year": year,
                "quarter": None,
                "items": _annual_items(company, statements, year),
            }
        )
    latest_quarter = next(
        r
        for r in statements["income_statements"]
        if r["period"] == "quarterly"
        and r["fiscal_period"].startswith("2024")
        and r["fiscal_period"].endswith("Q3")
    )
    filing = by_period[("10-Q", latest_quarter["report_period"])]
    documents.append(
        {
            "ticker": company.ticker,
            "cik": str(company.cik),
            "filing_type": "10-Q",
            "accession_number": filing["accession_number"],
            "year": 2024,
            "quarter": 3,
            "items": _quarter_items(company, statements, latest_quarter),
        }
    )
    return documents


# news, insiders, estimates ---------------------------------------------------------------

SOURCES = ("Reuters", "Bloomberg", "CNBC", "The Wall Street Journal", "MarketWatch", "Barron's")
AUTHORS = (
    "Dana Whitfield",
    "Rahul Mehta",
    "Chloe Martin",
    "Samuel Okafor",
    "Lena Fischer",
    "Marcus Bell",
)
INSIDERS = (
    ("Avery Collins", "Chief Executive Officer", False),
    ("Jordan Reyes", "Chief Financial Officer", False),
    ("Morgan Patel", "General Counsel", False),
    ("Riley Chen", "Director", True),
    ("Casey Thompson", "Director", True),
)


def _slug(text: str) -> str:
    return "-".join("".join(c for c in word if c.isalnum()) for word in text.lower().split())[:80]


def _news(company: Company, statements: dict[str, list[Row]], prices: list[Row]) -> list[Row]:
    rng = random.Random(f"{company.ticker}-news")
    short = company.name.split()[0].rstrip(",")
    latest = next(r for r in statements["income_statements"] if r["period"] == "quarterly")
    start, end = prices[0]["close"], prices[-1]["close"]
    headlines = [
        (f"{short} reports quarterly revenue of {_billions(latest['revenue'])}", "positive"),
        (
            f"{short} shares {'rise' if end >= start else 'fall'} "
            f"{abs(end / start - 1) * 100:.0f}% in the second half of 2024",
            "positive" if end >= start else "negative",
        ),
        (f"Analysts lift {short} price targets after earnings", "positive"),
        (f"{short} faces regulatory scrutiny in Europe", "negative"),
        (f"What {short}'s guidance says about 2025", "neutral"),
        *((headline, "positive") for headline in company.extra_headlines),
        (f"{short} to present at investor conference in December", "neutral"),
    ]
    rows = []
    day = datetime(2024, 12, 30, 14, 5)
    for title, sentiment in headlines:
        rows.append(
            {
                "ticker": company.ticker,
                "title": title,
                "author": rng.choice(AUTHORS),
                "source": rng.choice(SOURCES),
                "date": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "url": f"https://news.example.com/{company.ticker.lower()}/{_slug(title)}",
                "sentiment": sentiment,
            }
        )
        day -= timedelta(days=rng.randint(4, 12), hours=rng.randint(0, 8))
    return rows


def _insider_trades(company: Company, prices: list[Row]) -> list[Row]:
    rng = random.Random(f"{company.ticker}-insiders")
    rows = []
    holdings = {name: rng.randint(50_000, 3_000_000) for name, _, _ in INSIDERS}
    for _ in range(12):
        bar = rng.choice(prices)
        name, title, director = rng.choice(INSIDERS)
        shares = rng.randint(1_000, 60_000)
        sale = rng.random() < 0.8
        signed = -shares if sale else shares
        before = holdings[name]
        after = max(before + signed, 0)
        holdings[name] = after
        traded = date.fromisoformat(bar["time"][:10])
        price = round(bar["close"] * (1 + rng.uniform(-0.01, 0.01)), 2)
        rows.append(
            {
                "ticker": company.ticker,
                "issuer": company.name,
                "name": name,
                "title": title,
                "is_board_director": director,
                "transaction_date": _iso(traded),
                "transaction_shares": signed,
                "transaction_price_per_share": price,
                "transaction_value": round(signed * price, 2),
                "shares_owned_before_transaction": before,
                "shares_owned_after_transaction": after,
                "security_title": "Common Stock",
                "filing_date": _iso(traded + timedelta(days=2)),
            }
        )
    return sorted(rows, key=lambda r: r["filing_date"], reverse=True)


def _estimates(company: Company, statements: dict[str, list[Row]]) -> list[Row]:
    annual = next(r for r in statements["income_statements"] if r["period"] == "annual")
    quarters = [r for r in statements["income_statements"] if r["period"] == "quarterly"]
    growth = 0.18 if company.ticker in {"NVDA"} else 0.09
    end = date.fromisoformat(annual["report_period"])
    rows = []
    for year in range(1, 4):
        factor = (1 + growth) ** year
        rows.append(
            {
                "fiscal_period": _iso(_months_before(end, -12 * year)),
                "period": "annual",
                "revenue": round(annual["revenue"] * factor),
                "earnings_per_share": round(
                    annual["earnings_per_share_diluted"] * factor * 1.03, 2
                ),
            }
        )
    last_quarter = date.fromisoformat(quarters[0]["report_period"])
    for step in range(1, 5):
        base = quarters[4 - step]
        factor = 1 + growth
        rows.append(
            {
                "fiscal_period": _iso(_months_before(last_quarter, -3 * step)),
                "period": "quarterly",
                "revenue": round(base["revenue"] * factor),
                "earnings_per_share": round(base["earnings_per_share_diluted"] * factor, 2),
            }
        )
    return rows


# output ----------------------------------------------------------------------------------


def dataset(company: Company) -> dict[str, Any]:
    """Every endpoint's data for one company."""
    statements = _statements(company)
    trailing = _with_trailing(statements)
    prices = _prices(company)
    metrics = _all_metrics(company, trailing)
    latest_ttm = next(r for r in trailing["income_statements"] if r["period"] == "ttm")
    snapshot = _metrics(company, trailing, prices[-1]["close"], "ttm", latest_ttm["report_period"])
    filings = _filings(company, statements)
    return {
        "company": {"ticker": company.ticker, "name": company.name, "cik": company.cik},
        **statements,
        "financial_metrics": metrics,
        "financial_metrics_snapshot": snapshot,
        "price_snapshot": _price_snapshot(company, prices),
        "prices": prices,
        "news": _news(company, statements, prices),
        "filings": filings,
        "filing_items": _filing_items(company, statements, filings),
        "segmented_revenues": _segments(company, statements),
        "insider_trades": _insider_trades(company, prices),
        "analyst_estimates": _estimates(company, statements),
    }


def dumps(data: dict[str, Any]) -> str:
    """JSON with one list row per line: compact, yet readable in a diff."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list):
            rows = ",\n".join(json.dumps(row, separators=(",", ":")) for row in value)
            parts.append(f"{json.dumps(key)}:[\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    for company in COMPANIES:
        path = HERE / f"{company.ticker}.json"
        path.write_text(dumps(dataset(company)), encoding="utf-8")
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
