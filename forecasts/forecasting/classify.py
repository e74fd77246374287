"""Syntetos–Boylan demand classification of one series.

The class decides which model forecasts a series: Prophet suits smooth and erratic demand, TSB suits
intermittent and lumpy demand, and series with too little history get a seasonal naive or a moving average.
Censored (stock-out) periods are not observations of demand, so they are left out before anything is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

SMOOTH = "smooth"
ERRATIC = "erratic"
INTERMITTENT = "intermittent"
LUMPY = "lumpy"
SHORT = "short"
ZERO = "zero"
DEMAND_CLASSES = (SMOOTH, ERRATIC, INTERMITTENT, LUMPY, SHORT, ZERO)

# Cut-offs from Syntetos, Boylan & Croston (2005), "On the categorization of demand patterns".
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49

MIN_WEEKS_OF_HISTORY = 8
MIN_NONZERO_PERIODS = 4


@dataclass(frozen=True)
class DemandClass:
    """The class of a demand series and the statistics it was decided on.

    ``adi`` is the average number of usable periods per non-zero demand (``n_obs / n_nonzero``) and ``cv2``
    the squared coefficient of variation of the non-zero demand sizes (sample standard deviation). Either is
    NaN when it is undefined: ``adi`` without any demand, ``cv2`` with fewer than two non-zero periods.
    """

    label: str
    adi: float
    cv2: float
    n_obs: int
    n_nonzero: int


def min_observations(periods_per_week: int) -> int:
    """Usable observations a series needs before it is classified on its pattern rather than as ``short``."""
    return MIN_WEEKS_OF_HISTORY * periods_per_week


def classify_demand(
    qty: ArrayLike,
    censored: ArrayLike | None = None,
    *,
    min_obs: int = MIN_WEEKS_OF_HISTORY * 7,
    min_nonzero: int = MIN_NONZERO_PERIODS,
) -> DemandClass:
    """Classify a demand series (one value per period, oldest first).

    Censored periods and NaN quantities are excluded. Negative quantities (net returns) are counted as zero
    demand: a return is not negative demand for the purpose of choosing a model. ``zero`` wins over
    ``short`` because a series without any demand is forecast as zero however long it is.
    """
    values = np.asarray(qty, dtype=float)
    usable = ~np.isnan(values)
    if censored is not None:
        censored_mask = np.asarray(censored, dtype=bool)
        if censored_mask.shape != values.shape:
            raise ValueError(f"censored has shape {censored_mask.shape}, qty has shape {values.shape}")
        usable &= ~censored_mask
    demand = np.clip(values[usable], 0.0, None)

    n_obs = int(demand.size)
    sizes = demand[demand > 0]
    n_nonzero = int(sizes.size)
    adi = n_obs / n_nonzero if n_nonzero else float("nan")
    cv2 = float((sizes.std(ddof=1) / sizes.mean()) ** 2) if n_nonzero >= 2 else float("nan")

    if n_nonzero == 0:
        label = ZERO
    elif n_obs < min_obs or n_nonzero < min_nonzero:
        label = SHORT
    elif adi < ADI_CUTOFF:
        label = SMOOTH if cv2 < CV2_CUTOFF else ERRATIC
    else:
        label = INTERMITTENT if cv2 < CV2_CUTOFF else LUMPY
    return DemandClass(label=label, adi=float(adi), cv2=cv2, n_obs=n_obs, n_nonzero=n_nonzero)
