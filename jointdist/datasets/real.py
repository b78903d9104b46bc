"""Real multivariate series that ship with packages jointdist already depends on.

Nothing is downloaded: the data are the CSV files bundled with ``arch`` (``arch.data``)
and ``sktime`` (``sktime.datasets``).  Every loader returns a DataFrame with a sorted
:class:`pandas.DatetimeIndex` without duplicates and without missing values, one column
per series, after the data set's default transform; :func:`real_dataset_info` (or
``load_real(name, return_info=True)``) tells how it was built and how the real-data
benchmark (:func:`jointdist.evaluation.run_real_benchmark`) forecasts it.

==============  =========  =======  ==========================================  =========
name            frequency  horizon  series (default transform)                  rows
==============  =========  =======  ==========================================  =========
equity_index    daily      21       S&P 500, Nasdaq adjusted closes (log)        5031
markets         daily      21       S&P 500, Nasdaq, WTI, VIX (log)              1253
oil             monthly    12       Brent, WTI spot (log)                        393
credit          monthly    12       Moody's AAA, BAA yields (levels, percent)    1200
us_change       quarterly  8        five US quarterly changes (as given)         187
==============  =========  =======  ==========================================  =========

Gaps and missing values
    Daily series are on trading days: weekends and exchange holidays are simply absent
    (the index has no ``freq``).  The WTI and VIX files have empty rows on days when the
    commodity or options market was closed while the stock market was open (and vice
    versa); those rows are dropped, and multi-series panels keep only the dates on
    which *every* series has a value (an inner join): no value is ever filled in.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["RealDataInfo", "list_real", "load_real", "real_dataset_info"]


@dataclass(frozen=True)
class RealDataInfo:
    """How a real data set is built, and how the real-data benchmark forecasts it.

    Attributes
    ----------
    name : str
        Name for :func:`load_real`.
    description : str
        One line on what the series are.
    columns : tuple of str
        Column names of the loaded frame, in order.
    frequency : {"daily", "monthly", "quarterly"}
        Sampling frequency ("daily" means trading days: the index has gaps).
    pandas_freq : str or None
        Offset alias of a regular index (``"MS"``, ``"QS-JAN"``), None for trading days
        or mid-month dates.
    transform : {"log", "none"}
        The default transform applied by :func:`load_real`: ``"log"`` takes the
        natural log of prices (so increments are log returns), ``"none"`` keeps the
        published values (yields in percent, changes in percent).
    horizon : int
        Forecast horizon of the benchmark: 21 (a trading month) for daily data, 12 for
        monthly, 8 for quarterly.
    min_context : int
        Fewest rows of history the benchmark accepts at an origin (its context is
        ``min(origin, 504)`` rows, so the earliest origins may have less than 504).
    long_short : tuple of float
        Weights of the long-short portfolio of the risk backtest (long the first
        series, short the second: an index spread, the Brent-WTI spread, the BAA-AAA
        default spread, consumption minus income).
    source : str
        Package loader(s) the data come from.
    package, extra : str
        Python package that ships the data and the jointdist extra that installs it.
    missing : str
        How gaps and missing values of the source were handled.
    """

    name: str
    description: str
    columns: tuple
    frequency: str
    pandas_freq: str | None
    transform: str
    horizon: int
    min_context: int
    long_short: tuple
    source: str
    package: str
    extra: str
    missing: str


_NO_MISSING = "none in the source"
_REGISTRY = {
    "equity_index": RealDataInfo(
        name="equity_index",
        description="S&P 500 and Nasdaq Composite adjusted closes, daily 1999-2018",
        columns=("SP500", "NASDAQ"), frequency="daily", pandas_freq=None, transform="log",
        horizon=21, min_context=252, long_short=(1.0, -1.0),
        source="arch.data.sp500, arch.data.nasdaq ('Adj Close')", package="arch",
        extra="garch", missing="none in the source; both files have the same 5031 "
                               "trading days"),
    "markets": RealDataInfo(
        name="markets",
        description="S&P 500, Nasdaq, WTI crude spot and the VIX, daily on their common "
                    "trading days 2014-2018",
        columns=("SP500", "NASDAQ", "WTI", "VIX"), frequency="daily", pandas_freq=None,
        transform="log", horizon=21, min_context=252, long_short=(1.0, -1.0, 0.0, 0.0),
        source="arch.data.sp500, arch.data.nasdaq, arch.data.wti, arch.data.vix",
        package="arch", extra="garch",
        missing="WTI and VIX rows without a value are dropped, then an inner join on "
                "the dates where all four series have a value (2014-01-03 to "
                "2018-12-28)"),
    "oil": RealDataInfo(
        name="oil",
        description="Brent and WTI crude spot prices, monthly (mid-month) 1987-2020",
        columns=("Brent", "WTI"), frequency="monthly", pandas_freq=None, transform="log",
        horizon=12, min_context=120, long_short=(1.0, -1.0), source="arch.data.crude",
        package="arch", extra="garch", missing=_NO_MISSING),
    "credit": RealDataInfo(
        name="credit",
        description="Moody's AAA and BAA corporate bond yields (percent), monthly "
                    "1919-2018",
        columns=("AAA", "BAA"), frequency="monthly", pandas_freq="MS", transform="none",
        horizon=12, min_context=120, long_short=(-1.0, 1.0), source="arch.data.default",
        package="arch", extra="garch", missing=_NO_MISSING),
    "us_change": RealDataInfo(
        name="us_change",
        description="Quarterly percentage changes of US consumption, income, production, "
                    "savings and the unemployment rate, 1970Q1-2016Q3",
        columns=("Consumption", "Income", "Production", "Savings", "Unemployment"),
        frequency="quarterly", pandas_freq="QS-JAN", transform="none", horizon=8,
        min_context=60, long_short=(1.0, -1.0, 0.0, 0.0, 0.0),
        source="sktime.datasets.load_uschange", package="sktime", extra="sktime",
        missing=_NO_MISSING + " (the quarter labels become quarter-start dates)"),
}

_TRANSFORMS = ("default", "log", "none")


def list_real() -> pd.DataFrame:
    """The real data sets of :func:`load_real`, one row each.

    Returns
    -------
    DataFrame
        Indexed by name, with the fields of :class:`RealDataInfo` as columns.  Nothing
        is loaded (no optional package is imported).
    """
    rows = [vars(info) for info in _REGISTRY.values()]
    return pd.DataFrame(rows).set_index("name")


def real_dataset_info(name: str) -> RealDataInfo:
    """The :class:`RealDataInfo` record of the data set ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown real data set {name!r}; available: "
                         f"{', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


def _import(module: str, info: RealDataInfo):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"load_real({info.name!r}) needs the {info.package!r} package, which ships "
            f"these data ({info.source}); install it with pip install "
            f"'jointdist[{info.extra}]' (or pip install {info.package}).") from exc


def _arch_frame(module: str, info: RealDataInfo) -> pd.DataFrame:
    frame = _import(f"arch.data.{module}", info).load()
    frame.index = pd.DatetimeIndex(frame.index)
    return frame


def _equity(info):
    sp = _arch_frame("sp500", info)["Adj Close"].rename("SP500")
    nq = _arch_frame("nasdaq", info)["Adj Close"].rename("NASDAQ")
    return pd.concat([sp, nq], axis=1, join="inner")


def _markets(info):
    parts = [_arch_frame("sp500", info)["Adj Close"].rename("SP500"),
             _arch_frame("nasdaq", info)["Adj Close"].rename("NASDAQ"),
             _arch_frame("wti", info)["DCOILWTICO"].rename("WTI").dropna(),
             _arch_frame("vix", info)["vix"].rename("VIX").dropna()]
    frame = pd.concat(parts, axis=1, join="inner")
    return frame.loc["2014-01-01":"2018-12-31"]


def _oil(info):
    return _arch_frame("crude", info)[["Brent", "WTI"]]


def _credit(info):
    frame = _arch_frame("default", info)[["AAA", "BAA"]]
    frame.index.freq = "MS"
    return frame


def _us_change(info):
    datasets = _import("sktime.datasets", info)
    quarter, _ = datasets.load_uschange("Quarter")
    consumption, others = datasets.load_uschange("Consumption")
    frame = pd.concat([consumption, others], axis=1)
    # "1970 Q1" -> the first day of the quarter
    periods = pd.PeriodIndex(quarter.astype(str).str.replace(" ", ""), freq="Q")
    starts = pd.DatetimeIndex(periods.to_timestamp(how="start"))
    regular = pd.date_range(starts[0], periods=len(starts), freq="QS-JAN")
    frame.index = regular if regular.equals(starts) else starts
    return frame[list(info.columns)]


_LOADERS = {"equity_index": _equity, "markets": _markets, "oil": _oil, "credit": _credit,
            "us_change": _us_change}


def load_real(name: str, *, transform: str = "default", return_info: bool = False):
    """Load a real multivariate data set (bundled with arch or sktime; no download).

    Parameters
    ----------
    name : str
        One of :func:`list_real`: ``"equity_index"``, ``"markets"``, ``"oil"``,
        ``"credit"``, ``"us_change"``.
    transform : {"default", "log", "none"}, default="default"
        ``"default"`` applies the data set's documented transform (see
        :class:`RealDataInfo`: log prices, yields and changes as published); ``"none"``
        gives the published values; ``"log"`` takes logs (strictly positive data only).
    return_info : bool, default=False
        Also return the :class:`RealDataInfo` record.

    Returns
    -------
    frame : DataFrame of shape (n_rows, n_series)
        Sorted DatetimeIndex named ``"date"``, no duplicates, no missing values, float64
        columns named as in ``info.columns``.
    info : RealDataInfo
        Only when ``return_info=True``.

    Raises
    ------
    ValueError
        For an unknown name or transform, or logs of non-positive data.
    ImportError
        When the package that ships the data (``info.package``) is not installed; the
        message names it and the jointdist extra that installs it.

    Examples
    --------
    >>> from jointdist.datasets import load_real
    >>> y, info = load_real("credit", return_info=True)
    >>> y.shape, info.horizon, info.transform
    ((1200, 2), 12, 'none')
    """
    info = real_dataset_info(name)
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform must be one of {_TRANSFORMS}; got {transform!r}.")
    frame = _LOADERS[name](info).astype(np.float64)
    frame = frame[list(info.columns)]
    frame.columns = pd.Index(list(info.columns))
    frame.index.name = "date"
    # the guarantees of the docstring: refuse rather than return something else
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise RuntimeError(f"{name}: the source index is not sorted and unique.")
    if frame.isna().any().any():
        raise RuntimeError(f"{name}: missing values left after the documented handling.")
    kind = info.transform if transform == "default" else transform
    if kind == "log":
        if not (frame > 0).all().all():
            raise ValueError(f"{name}: logs need strictly positive values; use "
                             f"transform='none'.")
        frame = np.log(frame)
    return (frame, info) if return_info else frame
