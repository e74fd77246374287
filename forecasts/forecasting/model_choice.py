"""Model choice that learns: per demand class, the engine's candidates scored by a rolling backtest on the class's
own series, and the class's default kept unless another candidate clearly beats it.

Choosing per series was measured and lost (three origins of one series rank candidates too noisily to pick from,
see README "Measured"), so the choice is made per demand class and frequency, pooling the class's series:

1. A series takes part when its history leaves ``min_train`` periods before the first of ``origins`` rolling
   origins of ``horizon`` periods each and moves in them (a positive naive scale, below); at most ``cap`` of them
   are backtested, evenly spaced in the caller's order,
   so the cost of a night grows with the number of classes, not of series.
2. Each candidate forecasts each origin's ``horizon`` periods from the periods before it. A series' score is its
   mean absolute error over all its origins (censored periods left out) divided by the in-sample mean absolute
   one-step naive difference of its history before the first origin: a MASE, so large and small series weigh alike.
   The scale is floored at ``SCALE_FLOOR`` of the median scale of the sampled series, so a nearly flat series (a
   tiny scale, a huge MASE) cannot decide the class on its own.
3. The candidate with the lowest mean MASE wins, but replaces the default only when at least ``MIN_SERIES`` series
   took part, it gains at least ``MIN_GAIN`` of the default's mean MASE, and the gain is more than ``noise_z``
   standard errors of the per-series differences (a paired comparison): two for one challenger, more for the best
   of several (Bonferroni, 2.28 for two). Anything less keeps the default, and the reason says which of these held
   it back.

Pure: the candidates are callables ``(series index, cut) -> p50`` that the engine builds; nothing here imports it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

CHOICE_ORIGINS = 2
MIN_SERIES = 12
MIN_GAIN = 0.02
# One-sided level of the noise rule for a single challenger (two standard errors); with k challengers the best of
# them must clear the Bonferroni quantile at Z_LEVEL / k (``noise_z``), as picking the best of k is k chances.
Z_LEVEL = 1.0 - NormalDist().cdf(2.0)
# A series' naive scale counts for at least this share of the median scale of the class's sampled series.
SCALE_FLOOR = 0.25
CHOICE_COLUMNS = ["choice_reason", "choice_scores", "choice_origins", "choice_series"]

Candidate = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class ClassChoice:
    """The model one demand class is forecast with, and the evidence: each candidate's mean MASE on the class's
    backtest (``scores``, empty when none was run), the origins and series it was run on, and why."""

    model: str
    default: str
    reason: str
    origins: int = 0
    series: int = 0
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def switched(self) -> bool:
        return self.model != self.default

    def scores_json(self) -> str | None:
        """The scores as a JSON object (candidate → mean MASE), None without a backtest."""
        if not self.scores:
            return None
        return json.dumps({name: round(score, 4) for name, score in sorted(self.scores.items())}, sort_keys=True)


def choice_summary(choices: Mapping[str, Mapping[str, ClassChoice]]) -> dict[str, dict[str, dict[str, object]]]:
    """Choices by frequency and demand class as plain values (model, default, reason, scores) for JSON."""
    return {
        freq: {
            label: {
                "model": choice.model,
                "default": choice.default,
                "reason": choice.reason,
                "scores": dict(choice.scores),
            }
            for label, choice in sorted(by_class.items())
        }
        for freq, by_class in sorted(choices.items())
    }


def choice_lines(choices: Mapping[str, Mapping[str, ClassChoice]]) -> list[str]:
    """One line per frequency and demand class for a run log: the model, whether it is the default, and why."""
    return [
        f"model choice, freq {freq}, {label}: {choice.model}"
        + (f" instead of {choice.default}" if choice.switched else " (default)")
        + f"; {choice.reason}"
        for freq, by_class in sorted(choices.items())
        for label, choice in sorted(by_class.items())
    ]


def sample_positions(n: int, cap: int) -> np.ndarray:
    """``min(n, cap)`` positions out of ``n``, evenly spaced and always the same for the same ``n``."""
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(int))


def naive_scale(y: np.ndarray) -> float:
    """Mean absolute one-step difference of ``y`` (pairs with an unknown value left out); NaN when zero."""
    steps = np.abs(np.diff(y))
    steps = steps[~np.isnan(steps)]
    scale = float(steps.mean()) if steps.size else 0.0
    return scale if scale > 0 else float("nan")


def rolling_scores(
    histories: Sequence[np.ndarray], candidates: Mapping[str, Candidate], horizon: int, origins: int
) -> dict[str, np.ndarray]:
    """Each candidate's MASE per series over ``origins`` rolling origins (``histories[i]`` is series i's demand,
    NaN where unknown). A series whose scale or errors are undefined is NaN for every candidate. Scales are floored
    at ``SCALE_FLOOR`` of the median scale of ``histories``, so a nearly flat series cannot outweigh the class."""
    scores = {name: np.full(len(histories), np.nan) for name in candidates}
    scales = np.array([naive_scale(y[: y.size - origins * horizon]) for y in histories])
    defined = scales[np.isfinite(scales)]
    floor = SCALE_FLOOR * float(np.median(defined)) if defined.size else 0.0
    for index, y in enumerate(histories):
        first_cut = y.size - origins * horizon
        if not math.isfinite(scales[index]):
            continue
        scale = max(float(scales[index]), floor)
        cuts = [first_cut + origin * horizon for origin in range(origins)]
        errors = dict.fromkeys(candidates, 0.0)
        known = 0
        for cut in cuts:
            actual = y[cut : cut + horizon]
            mask = ~np.isnan(actual)
            known += int(mask.sum())
            for name, forecast in candidates.items():
                errors[name] += float(np.abs(np.asarray(forecast(index, cut))[mask] - actual[mask]).sum())
        if known:
            for name in candidates:
                scores[name][index] = errors[name] / known / scale
    return scores


def noise_z(challengers: int) -> float:
    """Standard errors the best of ``challengers`` candidates must beat the default by: 2.0 for one, about 2.28
    for two, 2.43 for three (Bonferroni)."""
    return NormalDist().inv_cdf(1.0 - Z_LEVEL / max(challengers, 1))


def decide(scores: Mapping[str, np.ndarray], default: str, origins: int, eligible: int) -> ClassChoice:
    """The class's model from its candidates' per-series MASE (``scores``, the default's among them)."""
    rows = np.all([np.isfinite(values) for values in scores.values()], axis=0)
    n = int(rows.sum())
    sampled = f"{n} series" + (f" (of {eligible})" if eligible > n else "") + f" × {origins} origins"
    if n < MIN_SERIES:
        return ClassChoice(default, default, f"{sampled}: fewer than {MIN_SERIES} series to judge by, default kept")
    means = {name: float(values[rows].mean()) for name, values in scores.items()}
    best = min(means, key=lambda name: (means[name], name != default))
    evidence = {"origins": origins, "series": n, "scores": means}
    if best == default:
        return ClassChoice(default, default, f"{sampled}: the default scores best", **evidence)
    differences = scores[default][rows] - scores[best][rows]
    gain = float(differences.mean()) / means[default] if means[default] > 0 else 0.0
    standard_error = float(differences.std(ddof=1)) / math.sqrt(n)
    versus = f"{best} {means[best]:.3f} against the default's {means[default]:.3f} ({gain:.1%} better)"
    if gain < MIN_GAIN:
        return ClassChoice(default, default, f"{sampled}: {versus}, under the {MIN_GAIN:.0%} margin", **evidence)
    z = noise_z(len(scores) - 1)
    if float(differences.mean()) <= z * standard_error:
        reason = f"{sampled}: {versus}, within {z:.2f} standard errors"
        return ClassChoice(default, default, reason, **evidence)
    return ClassChoice(best, default, f"{sampled}: {versus}", **evidence)


def choose(
    histories: Sequence[np.ndarray],
    candidates: Mapping[str, Candidate],
    default: str,
    horizon: int,
    *,
    min_train: int,
    cap: int,
    origins: int = CHOICE_ORIGINS,
) -> ClassChoice:
    """Choose one class's model from ``histories`` (every series of the class, in a fixed order).

    ``candidates`` maps each candidate's name to its forecast of the ``horizon`` periods after ``cut`` of the series
    at the given index of ``histories``, from the periods before ``cut``; ``default`` must be one of them.
    """
    if default not in candidates:
        raise ValueError(f"the default {default!r} is not a candidate: {sorted(candidates)}")
    long_enough = [index for index, y in enumerate(histories) if y.size - origins * horizon >= min_train]
    # A series without movement before the first origin has no scale to be judged by: left out before sampling, so
    # the sample holds ``cap`` series that count whenever the class has them.
    scaled = [index for index in long_enough if _has_scale(histories[index], origins * horizon)]
    if len(histories) < MIN_SERIES:
        reason = f"{len(histories)} series, fewer than {MIN_SERIES} to judge by, default kept"
        return ClassChoice(default, default, reason)
    if len(long_enough) < MIN_SERIES:
        reason = (
            f"{len(long_enough)} of {len(histories)} series have {min_train} periods before {origins} origins "
            f"of {horizon}: too short a history to judge by, default kept"
        )
        return ClassChoice(default, default, reason)
    if len(scaled) < MIN_SERIES:
        reason = (
            f"{len(scaled)} of {len(long_enough)} series long enough move before the first origin: "
            f"fewer than {MIN_SERIES} to judge by, default kept"
        )
        return ClassChoice(default, default, reason)
    picked = [scaled[position] for position in sample_positions(len(scaled), cap)]
    sampled = [histories[index] for index in picked]
    mapped = {
        name: (lambda position, cut, forecast=forecast: forecast(picked[position], cut))
        for name, forecast in candidates.items()
    }
    return decide(rolling_scores(sampled, mapped, horizon, origins), default, origins, len(scaled))


def _has_scale(y: np.ndarray, held_out: int) -> bool:
    return math.isfinite(naive_scale(y[: y.size - held_out]))
