"""The inventory projection a planner checks a plan line against: which lines, and their stock day by day.

Pure: plan rows, the night's forecast and our shipments in transit in; one projected frame per line out
(:func:`forecasts.replenishment.policy.project_on_hand`). The plan asset draws them.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from forecasts.replenishment.policy import KEY_COLUMNS, project_on_hand

# The plan lines a planner looks at first: among those we ship, the soonest projected stock-outs, then the largest.
PROJECTION_LINES = 3


def projection_lines(plan: pd.DataFrame, lines: int = PROJECTION_LINES) -> pd.DataFrame:
    """The lines the inventory projection plot shows; lines without a shipment only when nothing ships."""
    shipping = plan[plan["allocated_qty"] > 0]
    candidates = shipping if not shipping.empty else plan[plan["demand_daily_mean"] > 0]
    return candidates.sort_values(
        ["projected_stockout_date", "allocated_qty", *KEY_COLUMNS],
        ascending=[True, False, True, True, True],
        na_position="last",
    ).head(lines)


def project_lines(
    lines: pd.DataFrame, demand: pd.DataFrame, receipts: pd.DataFrame, plan_date: date, horizon: int
) -> list[pd.DataFrame]:
    """Projected on hand of each line over the horizon: its forecast p50 as demand, our shipments in transit as
    receipts, and the planned (allocated) shipment on its expected receipt date."""
    days = pd.date_range(pd.Timestamp(plan_date) + pd.Timedelta(days=1), periods=horizon, freq="D")
    projections = []
    for line in lines.itertuples(index=False):
        key = (line.partner_id, line.location_id, line.product_id)
        own_demand = _rows_of(demand, key)
        own_receipts = _rows_of(receipts, key)
        daily_demand = (
            own_demand.set_index(pd.to_datetime(own_demand["forecast_date"]))["p50"]
            .reindex(days)
            .fillna(line.demand_daily_mean)
        )
        arriving = (
            own_receipts.groupby(pd.to_datetime(own_receipts["receipt_date"]))["qty"].sum().reindex(days, fill_value=0)
            if not own_receipts.empty
            else pd.Series(0.0, index=days)
        )
        receipt_date = line.expected_receipt_date
        projections.append(
            project_on_hand(
                plan_date,
                line.on_hand,
                daily_demand.to_numpy(),
                receipts=arriving.to_numpy(dtype=float),
                shipment_qty=float(line.allocated_qty),
                shipment_receipt_date=None if pd.isna(receipt_date) else pd.Timestamp(receipt_date).date(),
            )
        )
    return projections


def _rows_of(frame: pd.DataFrame, key: tuple) -> pd.DataFrame:
    """The rows of one partner location x product, compared column by column (no per-row tuples)."""
    return frame[(frame[KEY_COLUMNS] == pd.Series(key, index=KEY_COLUMNS)).all(axis=1)]
