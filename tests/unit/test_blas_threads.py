import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting import models
from forecasts.forecasting.blas_threads import SET_THREADS, one_blas_thread, openblas
from forecasts.forecasting.engine import forecast_many
from forecasts.forecasting.model_choice import MIN_SERIES

pytestmark = pytest.mark.skipif(openblas() is None, reason="numpy is not linked to an OpenBLAS that sets threads")


def set_threads(count: int) -> int:
    return getattr(openblas(), SET_THREADS)(count)


def blas_threads() -> int:
    current = set_threads(1)
    set_threads(current)
    return current


@pytest.fixture
def two_blas_threads():
    previous = set_threads(2)
    yield
    set_threads(previous)


def test_one_blas_thread_runs_the_block_on_one_thread_and_puts_the_count_back(two_blas_threads):
    with one_blas_thread():
        assert blas_threads() == 1
    assert blas_threads() == 2
    with pytest.raises(RuntimeError), one_blas_thread():
        raise RuntimeError("a failing block")
    assert blas_threads() == 2


def test_the_engine_fits_and_chooses_models_on_one_blas_thread(two_blas_threads, monkeypatch):
    seen: list[int] = []
    fit = models.prophet_fit_predict

    def counting_fit(*args, **kwargs):
        seen.append(blas_threads())
        return fit(*args, **kwargs)

    monkeypatch.setattr(models, "prophet_fit_predict", counting_fit)
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=120)
    frame = pd.concat(
        pd.DataFrame({"series_id": name, "date": days, "qty": rng.poisson(20, days.size).astype(float)})
        for name in range(MIN_SERIES)
    )
    forecast = forecast_many(frame, horizon=7)
    # Prophet runs in the model choice's backtest (enough series for one) and in the forecast of each series.
    assert len(seen) > MIN_SERIES and set(seen) == {1}
    assert forecast["model"].eq(models.PROPHET).all()
    assert blas_threads() == 2
