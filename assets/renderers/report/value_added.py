"""The report's forecast-value-added view: per partner and week, whose forecast erred least, and in plain words
whether the partner's numbers add value (from ``forecasts.forecast_value_added``)."""

from __future__ import annotations

import pandas as pd

from forecasts.replenishment.explain import percent, units

FORECASTS = (
    ("naive", "Naive (same day last week)"),
    ("statistical", "Ours (statistical)"),
    ("partner", "Partner's own"),
    ("combined", "Used by the plan"),
)
# The sentence pools the last complete weeks: one week of one partner is too few days to judge a forecaster by.
SENTENCE_WEEKS = 4


def _wape(frame: pd.DataFrame, source: str) -> float | None:
    sold = float(frame["actual_units"].sum())
    return float(frame[f"{source}_abs_error"].sum()) / sold if sold > 0 else None


def _signed(value: float | None) -> str:
    """A bias with its sign: + over-forecast, − under-forecast."""
    return "–" if value is None or pd.isna(value) else f"{100 * float(value):+.1f} %".replace("-", "−")


def _points(value: float) -> str:
    return f"{abs(100 * value):.1f} points"


def value_added_sentence(weeks: pd.DataFrame) -> str:
    """Whose numbers add value over ``weeks`` (one partner's rows), pooled as WAPE is: Σ|error| / Σ sold."""
    wape = {source: _wape(weeks, source) for source, _ in FORECASTS}
    if any(value is None for value in wape.values()):
        return "Nothing the partner forecast has sold yet in the weeks scored."
    scope = (
        f"Over the last {len(weeks)} week{'s' if len(weeks) != 1 else ''} "
        f"({units(weeks['actual_units'].sum())} units sold)"
    )
    partner, ours, naive, used = wape["partner"], wape["statistical"], wape["naive"], wape["combined"]
    if partner < naive and partner < ours:
        verdict = f"the partner's forecast adds value: it erred {_points(ours - partner)} less than ours"
    elif partner < naive:
        verdict = (
            f"the partner's forecast beats the naive one by {_points(naive - partner)} but ours beats it by "
            f"{_points(partner - ours)}"
        )
    else:
        verdict = f"the partner's forecast adds no value: it erred {_points(partner - naive)} more than the naive one"
    best_alone = min(partner, ours)
    if used < best_alone:
        plan = f"combining them erred {_points(best_alone - used)} less than the better one alone"
    elif used > best_alone:
        plan = f"the forecast the plan used erred {_points(used - best_alone)} more than the better one alone"
    else:
        plan = "the plan used the better one"
    return (
        f"{scope}: {verdict}. WAPE partner {percent(partner, 1)}, ours {percent(ours, 1)}, naive "
        f"{percent(naive, 1)}; {plan} ({percent(used, 1)})."
    )


def value_added_view(frame: pd.DataFrame, partner_id: str, weeks: int = 8) -> dict | None:
    """The partner's last ``weeks`` scored weeks, newest first (WAPE and bias of each forecast), and the sentence
    over its last complete weeks; None before any week was scored."""
    if frame.empty:
        return None
    own = frame[frame["partner_id"] == partner_id].sort_values("week_start", ascending=False)
    if own.empty:
        return None
    shown = own.head(weeks)
    rows = []
    for source, label in FORECASTS:
        wapes = shown[f"{source}_wape"].tolist()
        best = shown[[f"{s}_wape" for s, _ in FORECASTS]].min(axis=1).tolist()
        rows.append(
            {
                "label": label,
                "cells": [
                    {"wape": percent(w, 1), "bias": _signed(b), "best": pd.notna(w) and w <= m}
                    for w, b, m in zip(wapes, shown[f"{source}_bias"], best, strict=True)
                ],
            }
        )
    complete = own[own["is_complete_week"].astype(bool)].head(SENTENCE_WEEKS)
    return {
        "weeks": [str(week) for week in shown["iso_week"]],
        "sold": [units(value) for value in shown["actual_units"]],
        "rows": rows,
        "sentence": value_added_sentence(complete if not complete.empty else own.head(1)),
    }
