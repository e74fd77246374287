"""`cmi forecast` and `cmi backtest`: the forecasting engine on any CSV of series, outside the nightly run.

Input: a CSV with columns `series_id,date,qty`, dates as YYYY-MM-DD, one row per series and period. Optional:
`censored` (true/false: the location was out of stock, so `qty` is not demand) and any other numeric columns,
which are regressors known in advance (a promotion flag, a holiday flag, a planned price). A blank `qty` is an
unknown quantity. For `forecast`, a series' history ends at its last row with a quantity; rows after it carry
the regressors' values for the forecast dates (regressors are used only when every forecast date has them).
For `backtest`, the regressors' actual values in each forecast window are used, as they are known in advance.

Bad input exits with status 2 and one line on stderr naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REQUIRED_COLUMNS = ("series_id", "date", "qty")
OUTPUT_COLUMNS = ["series_id", "date", "p50", "p90", "model"]
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n", ""}


class InputError(Exception):
    """The input file cannot be used; the message says why, in one line."""


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from error
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


def _first_bad_row(bad) -> str:
    """File line of the first flagged row (the header is line 1)."""
    return str(int(bad.to_numpy().nonzero()[0][0]) + 2)


def read_series_csv(path: Path):
    """Read and check a series CSV; returns ``(frame, regressor_names)`` with parsed dates, numeric ``qty`` (NaN
    when blank), a boolean ``censored`` column when present and numeric regressors. Raises InputError."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as error:
        raise InputError("no such file") from error
    except pd.errors.EmptyDataError as error:
        raise InputError("the file is empty") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"not a readable CSV ({str(error).splitlines()[0]})") from error
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(f"missing columns: {', '.join(missing)} (expected {','.join(REQUIRED_COLUMNS)})")
    if frame.empty:
        raise InputError("no rows after the header")

    frame["series_id"] = frame["series_id"].str.strip()
    if (frame["series_id"] == "").any():
        raise InputError(f"row on line {_first_bad_row(frame['series_id'] == '')} has no series_id")
    raw_dates = frame["date"].str.strip()
    dates = pd.to_datetime(raw_dates, format="ISO8601", errors="coerce")
    if dates.isna().any():
        line = _first_bad_row(dates.isna())
        value = raw_dates[dates.isna()].iloc[0]
        raise InputError(f"line {line}: date {value!r} is not a date as YYYY-MM-DD")
    frame["date"] = dates.dt.tz_localize(None) if dates.dt.tz is not None else dates
    frame["date"] = frame["date"].dt.normalize()

    def numeric(column: str) -> pd.Series:
        text = frame[column].str.strip()
        values = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = values.isna() & (text != "")
        if bad.any():
            raise InputError(f"line {_first_bad_row(bad)}: {column} {text[bad].iloc[0]!r} is not a number")
        return values.astype(float)

    frame["qty"] = numeric("qty")
    if "censored" in frame.columns:
        flags = frame["censored"].str.strip().str.lower()
        bad = ~flags.isin(_TRUE | _FALSE)
        if bad.any():
            value = frame["censored"][bad].iloc[0]
            raise InputError(f"line {_first_bad_row(bad)}: censored {value!r} is not true or false")
        frame["censored"] = flags.isin(_TRUE)
    regressors = [column for column in frame.columns if column not in (*REQUIRED_COLUMNS, "censored")]
    for column in regressors:
        frame[column] = numeric(column)

    duplicated = frame.duplicated(["series_id", "date"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise InputError(f"series {row['series_id']!r} has more than one row for {row['date'].date()}")
    without_quantities = sorted(set(frame["series_id"]) - set(frame.loc[frame["qty"].notna(), "series_id"]))
    if without_quantities:
        raise InputError(f"series {without_quantities[0]!r} has no quantities")
    return frame, regressors


def _split_history(frame, regressors: list[str]):
    """History rows (up to each series' last quantity) and the future rows after it (regressor values)."""
    last_known = frame.loc[frame["qty"].notna()].groupby("series_id")["date"].max()
    is_history = frame["date"] <= frame["series_id"].map(last_known)
    future = frame.loc[~is_history, ["series_id", "date", *regressors]]
    return frame.loc[is_history].reset_index(drop=True), future.reset_index(drop=True)


def _progress_bar(total_label: str):
    """A tqdm bar on stderr (silent when stderr is not a terminal) fed by the engine's progress callback."""
    from tqdm import tqdm

    bar = tqdm(desc=total_label, unit="series", file=sys.stderr, disable=None, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _fail(command: str, path: Path, message: str) -> int:
    print(f"cmi {command}: error: {path}: {message}", file=sys.stderr)
    return 2


def cmd_forecast(args: argparse.Namespace) -> int:
    path = Path(args.input)
    try:
        frame, regressors = read_series_csv(path)
    except InputError as error:
        return _fail("forecast", path, str(error))
    from forecasts.forecasting.engine import forecast_many

    history, future = _split_history(frame, regressors)
    if regressors and future.empty:
        print(
            f"cmi forecast: note: regressor columns {', '.join(regressors)} are not used: no rows after the "
            "history give their values for the forecast dates",
            file=sys.stderr,
        )
    used = regressors if not future.empty else []
    started = time.perf_counter()
    bar, update = _progress_bar("forecast")
    try:
        forecast = forecast_many(
            history,
            args.horizon,
            args.freq,
            countries=dict.fromkeys(history["series_id"].unique(), args.country) if args.country else None,
            n_jobs=args.jobs,
            progress=update,
            regressors=used or None,
            future_regressors=future.dropna(subset=used) if used else None,
        )
    except ValueError as error:
        return _fail("forecast", path, str(error))
    finally:
        bar.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = forecast[OUTPUT_COLUMNS].assign(date=forecast["date"].dt.strftime("%Y-%m-%d"))
    written.to_csv(out, index=False, float_format="%.4f")
    n_series = forecast["series_id"].nunique()
    models = forecast.drop_duplicates("series_id")["model"].value_counts()
    print(
        f"wrote {len(forecast)} rows for {n_series} series to {out} in {time.perf_counter() - started:.1f} s "
        f"({', '.join(f'{model} {count}' for model, count in models.items())})",
        file=sys.stderr,
    )
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    path = Path(args.input)
    try:
        frame, regressors = read_series_csv(path)
    except InputError as error:
        return _fail("backtest", path, str(error))
    from forecasts.forecasting.backtest import run_backtest, summarise

    frame, _ = _split_history(frame, regressors)  # rows after a series' last quantity have nothing to score
    started = time.perf_counter()
    bar, update = _progress_bar("backtest")
    try:
        backtest = run_backtest(
            frame,
            args.horizon,
            args.origins,
            args.freq,
            args.season,
            countries=dict.fromkeys(frame["series_id"].unique(), args.country) if args.country else None,
            regressors=regressors,
            n_jobs=args.jobs,
            progress=update,
        )
    except ValueError as error:
        return _fail("backtest", path, str(error))
    finally:
        bar.close()
    summary = {"input": str(path), "regressors": regressors, **summarise(backtest, by_series=args.per_series)}
    summary["seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(summary, indent=2))
    return 0


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, metavar="CSV", help="series_id,date,qty[,censored,regressors...]")
    parser.add_argument("--horizon", required=True, type=_positive_int, metavar="N", help="periods to forecast")
    parser.add_argument(
        "--freq",
        choices=["D", "W", "M"],
        default="D",
        help="D: daily (default), W: weekly, M: monthly (one row per calendar month, any day of it; forecasts are "
        "dated the 1st)",
    )
    parser.add_argument(
        "--country", metavar="CC", help="add this country's public holidays to Prophet (daily data), e.g. DE"
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes (default 1; workers start only for large inputs, as a series takes milliseconds)",
    )


def register(commands: argparse._SubParsersAction) -> None:
    forecast = commands.add_parser(
        "forecast",
        help="forecast every series of a CSV (p50, p90 and the model used)",
        description="Forecast the N periods after each series' last date with the engine (Prophet, TSB or a "
        "baseline by demand class, or the model a backtest on the class chooses) and write "
        "series_id,date,p50,p90,model. Weekly dates keep the input's "
        "weekday. Extra numeric columns are regressors; give their future values in rows after the history.",
    )
    _add_common(forecast)
    forecast.add_argument("--out", required=True, metavar="CSV", help="where to write the forecast")
    forecast.set_defaults(handler=cmd_forecast)

    backtest = commands.add_parser(
        "backtest",
        help="rolling-origin backtest of the engine against naive baselines, as JSON",
        description="Forecast the last K x N periods of every series from the data before them, N periods "
        "at a time, with the engine, a seasonal naive and a naive forecast, and print WAPE, bias and MASE "
        "(scale: in-sample seasonal naive before the first origin) for each as JSON.",
    )
    _add_common(backtest)
    backtest.add_argument("--origins", required=True, type=_positive_int, metavar="K", help="forecast origins")
    backtest.add_argument(
        "--season",
        type=_positive_int,
        metavar="S",
        help="season of the seasonal naive and of MASE (default: 7 daily, 52 weekly, 12 monthly)",
    )
    backtest.add_argument("--per-series", action="store_true", help="also report the metrics of every series")
    backtest.set_defaults(handler=cmd_backtest)
