import json

import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting.backtest import run_backtest, summarise
from orchestration.cli import main


def write(path, frame: pd.DataFrame):
    frame.to_csv(path, index=False)
    return path


def daily_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=120).strftime("%Y-%m-%d")
    frames = [
        pd.DataFrame({"series_id": "fast", "date": dates, "qty": rng.poisson(20, 120)}),
        pd.DataFrame({"series_id": "slow", "date": dates, "qty": np.where(np.arange(120) % 5 == 0, 3, 0)}),
    ]
    return pd.concat(frames, ignore_index=True)


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    status = main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_commands_are_registered_with_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: cmi {command}" in capsys.readouterr().out


def test_forecast_daily_csv(tmp_path, capsys):
    source = write(tmp_path / "daily.csv", daily_frame())
    out = tmp_path / "out" / "forecast.csv"
    status, _, err = run(capsys, "forecast", "--input", str(source), "--horizon", "7", "--out", str(out))
    assert status == 0, err
    forecast = pd.read_csv(out)
    assert list(forecast.columns) == ["series_id", "date", "p50", "p90", "model"]
    assert forecast.groupby("series_id").size().to_dict() == {"fast": 7, "slow": 7}
    expected_dates = pd.date_range("2024-04-30", periods=7).strftime("%Y-%m-%d").tolist()
    assert forecast.loc[forecast["series_id"] == "fast", "date"].tolist() == expected_dates
    assert dict(forecast.drop_duplicates("series_id")[["series_id", "model"]].values) == {
        "fast": "prophet",
        "slow": "tsb",
    }
    assert (forecast["p50"] >= 0).all() and (forecast["p50"] <= forecast["p90"]).all()


def test_forecast_weekly_csv_keeps_the_weekday(tmp_path, capsys):
    rng = np.random.default_rng(1)
    thursdays = pd.date_range("2023-01-05", periods=30, freq="7D")
    frame = pd.DataFrame({"series_id": "w", "date": thursdays.strftime("%Y-%m-%d"), "qty": rng.poisson(50, 30)})
    out = tmp_path / "weekly.csv"
    status, _, err = run(
        capsys,
        "forecast",
        "--input",
        str(write(tmp_path / "in.csv", frame)),
        "--horizon",
        "4",
        "--freq",
        "W",
        "--out",
        str(out),
    )
    assert status == 0, err
    dates = pd.to_datetime(pd.read_csv(out)["date"])
    assert (dates.dt.day_of_week == 3).all()
    assert dates.tolist() == [thursdays[-1] + pd.Timedelta(weeks=k) for k in range(1, 5)]


def test_forecast_uses_regressor_values_given_after_the_history(tmp_path, capsys):
    rng = np.random.default_rng(2)
    dates = pd.date_range("2024-01-01", periods=130)
    promo = (np.arange(130) % 10 < 2).astype(int)
    qty = rng.poisson(20 + 30 * promo).astype(float)
    qty[120:] = np.nan  # the last ten rows only carry the planned promotions
    frame = pd.DataFrame({"series_id": "p", "date": dates.strftime("%Y-%m-%d"), "qty": qty, "promo": promo})
    out = tmp_path / "out.csv"
    status, _, err = run(
        capsys, "forecast", "--input", str(write(tmp_path / "in.csv", frame)), "--horizon", "10", "--out", str(out)
    )
    assert status == 0, err
    forecast = pd.read_csv(out)
    on_promo = promo[120:] == 1
    assert forecast["p50"][on_promo].min() > forecast["p50"][~on_promo].max() + 15


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("series_id,date\nA,2024-01-01\n", "missing columns: qty"),
        ("series_id,date,qty\nA,2024-01-01,3\nA,2024-13-01,3\n", "line 3: date '2024-13-01' is not a date"),
        ("series_id,date,qty\nA,2024-01-01,three\n", "line 2: qty 'three' is not a number"),
        ("series_id,date,qty\nA,2024-01-01,3\nA,2024-01-01,4\n", "more than one row for 2024-01-01"),
        ("series_id,date,qty\nA,2024-01-03,3\nA,2024-01-11,4\n", "same weekday"),
        ("", "the file is empty"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path, capsys, content, message):
    source = tmp_path / "bad.csv"
    source.write_text(content)
    status, out, err = run(
        capsys, "forecast", "--input", str(source), "--horizon", "2", "--freq", "W", "--out", str(tmp_path / "o.csv")
    )
    assert status == 2
    assert err.count("\n") == 1 and str(source) in err and message in err
    assert not (tmp_path / "o.csv").exists()


def test_missing_input_file_exits_2(tmp_path, capsys):
    status, _, err = run(capsys, "backtest", "--input", str(tmp_path / "nope.csv"), "--horizon", "2", "--origins", "1")
    assert status == 2 and "no such file" in err


def test_backtest_prints_the_same_numbers_as_the_library(tmp_path, capsys):
    frame = daily_frame()
    source = write(tmp_path / "daily.csv", frame)
    status, out, err = run(
        capsys, "backtest", "--input", str(source), "--horizon", "7", "--origins", "2", "--per-series"
    )
    assert status == 0, err
    report = json.loads(out)
    expected = summarise(run_backtest(frame.assign(date=pd.to_datetime(frame["date"])), 7, 2, "D"), by_series=True)
    assert report["methods"] == expected["methods"]
    assert set(report["by_series"]) == {"fast", "slow"}
    assert report["series"] == 2 and report["periods_scored"] == 28 and report["season"] == 7
