"""Tests of jointdist.plotting (issue 15, item 14): fan charts on pandas time axes and
from predict_quantiles frames, band labels, and the pairwise scatter matrix."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest

from jointdist import HistoricalSimulation
from jointdist.plotting import plot_fan_chart, plot_pairwise_samples

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def prices():
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.standard_normal((200, 2)) @ [[1.0, 0.6], [0.0, 0.8]], axis=0)
    return pd.DataFrame(values, columns=["gold", "oil"],
                        index=pd.date_range("2025-01-01", periods=200, freq="D"))


def _render(fig):
    fig.savefig(io.BytesIO(), format="png")  # drawing raises on broken artists


def _median_line(ax):
    return next(line for line in ax.get_lines() if line.get_label() == "median")


def test_band_labels_are_coverages():
    samples = np.random.default_rng(1).standard_normal((300, 5, 1))
    fig = plot_fan_chart(samples, quantile_pairs=((0.05, 0.95), (0.25, 0.75), (0.1, 0.9)))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # 0.95 - 0.05 is 0.8999999999999999 in floating point: it was truncated to "89%"
    assert labels[:3] == ["90% band", "50% band", "80% band"]
    _render(fig)


def test_fan_chart_has_dates_for_pandas_history(prices):
    model = HistoricalSimulation(random_state=0).fit(prices)
    samples = model.predict_samples(10, 200)
    fig = plot_fan_chart(samples, prices, history_tail=30)
    ax = fig.axes[0]
    assert ax.get_title() == "gold" and fig.axes[1].get_title() == "oil"  # from the columns
    history_line = next(line for line in ax.get_lines() if line.get_label() == "history")
    x_history = pd.DatetimeIndex(history_line.get_xdata())
    assert x_history.equals(prices.index[-30:])
    x_future = pd.DatetimeIndex(_median_line(ax).get_xdata())
    assert x_future.equals(model.future_index(10))
    np.testing.assert_allclose(_median_line(ax).get_ydata(), np.median(samples[:, :, 0], 0))
    _render(fig)


def test_fan_chart_continues_a_period_index():
    rng = np.random.default_rng(2)
    monthly = pd.Series(np.cumsum(rng.standard_normal(48)), name="sales",
                        index=pd.period_range("2020-01", periods=48, freq="M"))
    samples = rng.standard_normal((100, 6, 1)) + monthly.iloc[-1]
    fig = plot_fan_chart(samples, monthly)
    x_future = pd.DatetimeIndex(_median_line(fig.axes[0]).get_xdata())
    assert x_future.equals(pd.period_range("2024-01", periods=6, freq="M").to_timestamp())
    assert fig.axes[0].get_title() == "sales"
    with pytest.raises(ValueError, match="future_index"):
        plot_fan_chart(samples, monthly, future_index=range(3))


def test_fan_chart_accepts_the_quantile_frame(prices):
    model = HistoricalSimulation(random_state=0).fit(prices)
    frame = model.predict_quantiles(8, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95), n_samples=400)
    fig = plot_fan_chart(frame, prices)
    ax = fig.axes[1]
    assert ax.get_title() == "oil"
    median = _median_line(ax)
    np.testing.assert_allclose(median.get_ydata(), frame[("oil", 0.5)].to_numpy())
    assert pd.DatetimeIndex(median.get_xdata()).equals(frame.index)
    # the 90% band spans the 0.05 and 0.95 quantiles of the frame
    band = ax.collections[0]
    y_band = band.get_paths()[0].vertices[:, 1]
    assert y_band.min() == pytest.approx(frame[("oil", 0.05)].min())
    assert y_band.max() == pytest.approx(frame[("oil", 0.95)].max())
    _render(fig)
    with pytest.raises(ValueError, match=r"no 0\.1 quantile"):
        plot_fan_chart(frame, quantile_pairs=((0.1, 0.9),))
    with pytest.raises(ValueError, match="columns"):
        plot_fan_chart(prices)


def test_pairwise_triangles_title_and_correlations():
    rng = np.random.default_rng(3)
    cov_forecast = np.array([[1.0, 0.7, 0.0], [0.7, 1.0, -0.4], [0.0, -0.4, 1.0]])
    forecast = rng.multivariate_normal(np.zeros(3), cov_forecast, size=(3000, 4))
    reference = rng.multivariate_normal(np.zeros(3), np.eye(3), size=(2500, 4))
    fig = plot_pairwise_samples(forecast, reference=reference, names=["a", "b", "c"])
    assert len(fig.axes) == 9
    assert "4 steps ahead" in fig._suptitle.get_text()
    blue, red = matplotlib.colors.to_rgba("C0"), matplotlib.colors.to_rgba("C3")
    for r in range(3):
        for c in range(3):
            if r == c:
                continue
            ax = fig.axes[3 * r + c]
            color = tuple(ax.collections[0].get_facecolor()[0][:3])
            data = forecast if r > c else reference  # forecast below the diagonal
            assert color == pytest.approx((blue if r > c else red)[:3])
            rho = np.corrcoef(data[:, -1, c], data[:, -1, r])[0, 1]
            assert ax.texts[0].get_text() == f"\u03c1 = {rho:.2f}"
    _render(fig)


def test_pairwise_without_reference_and_horizon_index():
    samples = np.random.default_rng(4).standard_normal((500, 3, 2))
    fig = plot_pairwise_samples(samples, horizon_index=0)
    assert "1 step ahead" in fig._suptitle.get_text()
    rho = np.corrcoef(samples[:, 0, 0], samples[:, 0, 1])[0, 1]
    assert fig.axes[1].texts[0].get_text() == fig.axes[2].texts[0].get_text() == (
        f"\u03c1 = {rho:.2f}")
    with pytest.raises(ValueError, match="horizon_index"):
        plot_pairwise_samples(samples, horizon_index=3)
    with pytest.raises(ValueError, match="reference"):
        plot_pairwise_samples(samples, reference=samples[:, :2])
