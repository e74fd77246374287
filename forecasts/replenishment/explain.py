"""Every plan line explained: each input and step of the policy, with where the input came from.

Pure: the plan and the frames it was made from in, one row per plan line and step out (``EXPLANATION_COLUMNS``),
in the order a planner reads them — the stock count (file, line, received at), what is on order and in transit,
the inventory position, the agreement, the forecast and its measured accuracy, the data gate, then the policy's
arithmetic (risk period, safety stock, reorder point, order-up-to level), the decision, the rounding to case packs
and MOQ, and the cut by allocation. The plan asset stores the rows as ``replenishment.plan_explanations``; `cmi
explain` and the report's item pages print them (``format_explanation``).

Grain: one row per plan date, partner, location, product and ``step_number``. ``value`` is the step's number in
``unit`` (NaN for steps without one), ``detail`` says how it was reached in words, ``source`` where the input came
from (a file and line, or the table that holds it).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from forecasts.forecasting.quantiles import z_for
from forecasts.replenishment.policy import (
    ALLOCATION_SHORTFALL,
    BELOW_MIN_COVER,
    BELOW_REORDER_POINT,
    HELD_DATA_FAILED_CHECKS,
    HELD_STALE_FEED,
    KEY_COLUMNS,
    NO_ACTION,
    NO_DEMAND,
    round_ship_qty,
)
from forecasts.replenishment.ship_days import parse_ship_days

EXPLANATION_COLUMNS = [
    "plan_date",
    *KEY_COLUMNS,
    "step_number",
    "step",
    "label",
    "value",
    "unit",
    "detail",
    "source",
]
STEPS = (
    ("stock_on_hand", "Stock on hand"),
    ("on_order", "On order (partner)"),
    ("in_transit", "In transit (our shipments)"),
    ("inventory_position", "Inventory position"),
    ("lead_time", "Lead time"),
    ("ship_days", "Ship days and review"),
    ("cadence", "Cadence and its cost"),
    ("service_level", "Service level"),
    ("cover_bounds", "Cover bounds"),
    ("forecast", "Forecast"),
    ("forecast_accuracy", "Forecast accuracy"),
    ("data_gate", "Data checks"),
    ("risk_period", "Risk period"),
    ("safety_stock", "Safety stock"),
    ("reorder_point", "Reorder point"),
    ("order_up_to", "Order-up-to level"),
    ("decision", "Decision"),
    ("rounding", "Case packs and MOQ"),
    ("allocation", "Allocation"),
)
STEP_LABELS = dict(STEPS)

REASON_TEXT = {
    BELOW_REORDER_POINT: "ships: the position is at or below the reorder point",
    BELOW_MIN_COVER: "ships: the position is above the statistical reorder point but short of the agreed minimum cover",
    NO_ACTION: "nothing to ship: the position is above the reorder point (or already at the order-up-to level)",
    NO_DEMAND: "nothing to ship: no demand is expected",
    ALLOCATION_SHORTFALL: "ships less than needed: our own stock is short",
    HELD_DATA_FAILED_CHECKS: "held: the partner's data failed a blocking check",
    HELD_STALE_FEED: "held: the stock count is too old to plan on",
}
GATE_TEXT = {
    "pass": "every blocking and warning rule passed",
    "warn": "blocking rules passed; warnings recorded",
    "held": "a blocking rule failed: the partner's plan is held",
}


@dataclass(frozen=True)
class ExplanationInputs:
    """The frames a plan was made from, each optional (a missing one makes its step say so).

    - ``stock``: key, ``observed_date``, ``on_hand_qty``, ``on_order_qty``, ``source_file_id``, ``source_line``,
      ``product_ref``, ``received_at``, ``path`` (the feed ledger's path of the file);
    - ``in_transit``: key, ``shipment_id``, ``ship_date``, ``expected_receipt_date``, ``qty``;
    - ``agreements``: key, ``ship_days``, ``agreement_source``;
    - ``forecast``: key, ``forecast_date``, ``p50``, ``p90``, ``model``, ``demand_class``;
    - ``accuracy``: key, ``as_of_date``, ``wape``, ``bias``, ``periods_scored`` (the newest row per series used);
    - ``gate``: ``partner_id``, ``status``, ``failed_errors``, ``failed_warnings``;
    - ``supplier_stock``: product_id → units we had available.
    """

    stock: pd.DataFrame | None = None
    in_transit: pd.DataFrame | None = None
    agreements: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None
    accuracy: pd.DataFrame | None = None
    gate: pd.DataFrame | None = None
    supplier_stock: Mapping[Hashable, float] | None = None


def units(value: float | None) -> str:
    """Units for people: whole numbers with thousands separators, one decimal otherwise; '–' when unknown."""
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if np.isinf(value):
        return "∞"
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def percent(value: float | None, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{100 * float(value):.{digits}f} %"


def _day(value: object) -> str:
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _by_key(frame: pd.DataFrame | None) -> dict[tuple, pd.DataFrame]:
    if frame is None or frame.empty:
        return {}
    return {tuple(key): rows for key, rows in frame.groupby(KEY_COLUMNS, sort=False)}


def _first_by_key(frame: pd.DataFrame | None) -> dict[tuple, dict]:
    if frame is None or frame.empty:
        return {}
    rows = frame.drop_duplicates(KEY_COLUMNS, keep="first")
    return {tuple(row[column] for column in KEY_COLUMNS): row for row in rows.to_dict("records")}


def _number(row: Mapping, column: str, default: float = float("nan")) -> float:
    value = row.get(column)
    return default if value is None or pd.isna(value) else float(value)


def _stock_steps(line: Mapping, stock: Mapping | None, plan_date: date) -> list[tuple]:
    on_hand = _number(line, "on_hand")
    if stock is None:
        source = "marts.fct_inventory_daily (no source row found)"
        counted = "count not traced"
        on_order = 0.0
    else:
        file = stock.get("path") or stock.get("source_file_id") or "unknown file"
        line_no = stock.get("source_line")
        where = f"line {int(line_no)}" if line_no is not None and not pd.isna(line_no) else "line unknown"
        source = f"{file} {where}, received {_received(stock.get('received_at'))}"
        age = (plan_date - pd.Timestamp(stock["observed_date"]).date()).days if _known(stock, "observed_date") else 0
        ref = f", partner item {stock['product_ref']}" if _known(stock, "product_ref") else ""
        counted = (
            f"counted {_day(stock.get('observed_date'))} ({age} day{'s' if age != 1 else ''} before the plan date{ref})"
        )
        on_order = _number(stock, "on_order_qty", 0.0)
    return [
        ("stock_on_hand", on_hand, "units", counted, source),
        ("on_order", on_order, "units", "what the partner reported on order in the same count", source),
    ]


def _known(row: Mapping, column: str) -> bool:
    value = row.get(column)
    return value is not None and not (not isinstance(value, str) and pd.isna(value))


def _received(value: object) -> str:
    return "at an unknown time" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _transit_step(shipments: pd.DataFrame | None) -> tuple:
    if shipments is None or shipments.empty:
        return ("in_transit", 0.0, "units", "no shipment of ours is on its way", "marts.fct_shipments")
    parts = [
        f"{row.shipment_id}: {units(row.qty)} shipped {_day(row.ship_date)}, due {_day(row.expected_receipt_date)}"
        for row in shipments.sort_values("ship_date").itertuples(index=False)
    ]
    count = len(parts)
    detail = f"{count} shipment{'s' if count != 1 else ''} on the way: " + "; ".join(parts)
    return ("in_transit", float(shipments["qty"].sum()), "units", detail, "marts.fct_shipments (status in_transit)")


def _forecast_steps(line: Mapping, forecast: pd.DataFrame | None, accuracy: Mapping | None, plan_date: date) -> list:
    mean, std = _number(line, "demand_daily_mean"), _number(line, "demand_daily_std")
    risk = _number(line, "risk_period_days")
    source = f"forecasts.forecast_history as of {plan_date.isoformat()}"
    if forecast is None or forecast.empty:
        detail = f"{units(mean)} units a day (σ {std:.1f}); no daily forecast rows found"
    else:
        first = forecast.iloc[0]
        dates = pd.to_datetime(forecast["forecast_date"])
        end = pd.Timestamp(plan_date) + pd.Timedelta(days=int(np.ceil(risk))) if not np.isnan(risk) else dates.max()
        window = forecast[(dates > pd.Timestamp(plan_date)) & (dates <= end)]
        detail = (
            f"model {first.get('model', '?')}, demand class {first.get('demand_class', '?')}: {mean:.2f} units a day "
            f"(σ {std:.2f}); over the {risk:.1f}-day risk period p50 {units(window['p50'].sum())} and p90 "
            f"{units(window['p90'].sum())} units ({_day(window['forecast_date'].min())} to "
            f"{_day(window['forecast_date'].max())})"
        )
    steps = [("forecast", mean, "units/day", detail, source)]
    if accuracy is None:
        steps.append(
            (
                "forecast_accuracy",
                float("nan"),
                "WAPE",
                "not measured yet: no past forecast of this series has been scored against sales",
                "forecasts.forecast_accuracy",
            )
        )
    else:
        detail = (
            f"WAPE {percent(accuracy.get('wape'))}, bias {percent(accuracy.get('bias'))} over "
            f"{int(_number(accuracy, 'periods_scored', 0))} days scored "
            f"(forecast of {_day(accuracy.get('as_of_date'))})"
        )
        steps.append(("forecast_accuracy", _number(accuracy, "wape"), "WAPE", detail, "forecasts.forecast_accuracy"))
    return steps


def _gate_step(line: Mapping, gate: Mapping | None, plan_date: date) -> tuple:
    age = _number(line, "observation_age_days", 0.0)
    freshness = f"stock count {int(age)} day{'s' if age != 1 else ''} old"
    if gate is None:
        return ("data_gate", float("nan"), "", f"no gate result recorded; {freshness}", "quality.partner_data_gate")
    status = str(gate.get("status"))
    text = GATE_TEXT.get(status, status)
    counts = [
        f"{int(_number(gate, column, 0))} {noun}"
        for column, noun in (("failed_errors", "blocking rule(s) failed"), ("failed_warnings", "warning(s)"))
        if _number(gate, column, 0) > 0
    ]
    if counts:
        text += f" ({', '.join(counts)}: see the partner's page in the report)"
    return (
        "data_gate",
        float("nan"),
        status,
        f"{status}: {text}; {freshness}",
        f"quality.partner_data_gate, {plan_date}",
    )


def _policy_steps(line: Mapping, agreement: Mapping | None) -> list[tuple]:
    lead, lead_std = _number(line, "lead_time_days"), _number(line, "lead_time_std_days", 0.0)
    review = _number(line, "review_period_days")
    mean, std = _number(line, "demand_daily_mean"), _number(line, "demand_daily_std")
    service = _number(line, "service_level")
    risk = _number(line, "risk_period_days")
    days_to_ship = _number(line, "days_to_ship", 1.0)
    waiting = days_to_ship - 1
    cycle = risk - waiting - lead
    z = float(z_for(service)) if not np.isnan(service) else float("nan")
    ship_days = line.get("ship_days") or (agreement or {}).get("ship_days") or "every day"
    agreement_source = f"marts.replenishment_policy ({(agreement or {}).get('agreement_source') or 'agreement'})"
    min_cover, max_cover = _number(line, "min_cover_days"), _number(line, "max_cover_days")
    safety, reorder, up_to = (_number(line, c) for c in ("safety_stock", "reorder_point", "order_up_to"))
    statistical = mean * risk + safety
    raised = not np.isnan(min_cover) and reorder > statistical + 1e-9
    return [
        (
            "lead_time",
            lead,
            "days",
            f"{lead:.1f} ± {lead_std:.1f} days from the ship date to receipt",
            agreement_source,
        ),
        (
            "ship_days",
            days_to_ship,
            "days",
            f"ships {ship_days}: the first truck leaves {_day(line.get('ship_date'))}, "
            f"{int(days_to_ship)} day(s) after the plan date; "
            f"the next chance is {cycle:.0f} days later (agreed review every {review:.0f} days)",
            agreement_source,
        ),
        cadence_step(line),
        (
            "service_level",
            service,
            "share",
            f"{percent(service, 1)} of cycles without a stock-out: z = {z:.2f}",
            agreement_source,
        ),
        (
            "cover_bounds",
            float("nan"),
            "days",
            f"between {_cover(min_cover)} and {_cover(max_cover)} days of cover; "
            f"case pack {units(line.get('case_pack'))}, MOQ {units(line.get('moq'))}",
            agreement_source,
        ),
        (
            "risk_period",
            risk,
            "days",
            f"{waiting:.0f} days until the truck leaves + lead time {lead:.1f} + {cycle:.0f} days to the next chance",
            "policy",
        ),
        (
            "safety_stock",
            safety,
            "units",
            f"z {z:.2f} × √({risk:.1f} × σ_d {std:.2f}² + d̄ {mean:.2f}² × σ_L {lead_std:.1f}²) = {units(safety)}",
            "policy",
        ),
        (
            "reorder_point",
            reorder,
            "units",
            f"d̄ {mean:.2f} × {risk:.1f} days + safety stock {units(safety)} = {units(statistical)}"
            + (
                f", raised to the agreed minimum cover d̄ × ({waiting:.0f} + {min_cover:.0f}) days: {units(reorder)}"
                if raised
                else ""
            ),
            "policy",
        ),
        (
            "order_up_to",
            up_to,
            "units",
            f"demand over lead time and review plus safety stock, within the cover bounds, plus {waiting:.0f} days "
            f"of sales before the truck leaves = {units(up_to)}",
            "policy",
        ),
    ]


WEEKDAYS_PLURAL = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def _weekdays(ship_days: object) -> str:
    """``'Tue'`` → 'Tuesdays only', ``'Mon,Wed,Fri'`` → 'Mondays, Wednesdays and Fridays'."""
    names = [WEEKDAYS_PLURAL[day] for day in sorted(parse_ship_days(ship_days))]
    if len(names) == 7:
        return "every day"
    if len(names) == 1:
        return f"{names[0]} only"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def money(value: float | None) -> str:
    """Money for people: two decimals with thousands separators; '–' when unknown."""
    if value is None or pd.isna(value):
        return "–"
    return f"{float(value):,.2f}"


def cadence_step(line: Mapping) -> tuple:
    """Why the line ships on its days: the location's cost a day on them against shipping every agreed day."""
    chosen, agreed = line.get("ship_days"), line.get("ship_days_agreed") or line.get("ship_days")
    location, every_agreed = _number(line, "location_cost_per_day"), _number(line, "location_agreed_cost_per_day")
    parts = [_number(line, column) for column in ("holding_cost_per_day", "shipping_cost_per_day")]
    parts.append(_number(line, "stockout_cost_per_day"))
    source = "policy: the location's cheapest ship days, or the last plan's within 10 % (costs per the agreement)"
    if np.isnan(location):
        detail = (
            f"ships {_weekdays(chosen)}, every agreed day: a cost term of the location's agreements is blank, so "
            "there is no price to weigh a delivery against"
        )
        return ("cadence", float("nan"), "a day", detail, source)
    if parse_ship_days(chosen) != parse_ship_days(agreed):
        why = f"{money(location)} a day against {money(every_agreed)} shipping every agreed day ({_weekdays(agreed)})"
    elif len(parse_ship_days(agreed)) == 1:
        why = f"{money(location)} a day; the agreement allows no other day"
    else:
        why = f"{money(location)} a day; no fewer of the agreed days would save over 10 % of it"
    detail = (
        f"ships {_weekdays(chosen)}: {why}, for the location (one truck serves its lines). This line: holding "
        f"{money(parts[0])}, its share of the deliveries {money(parts[1])}, stock-out {money(parts[2])} a day"
    )
    ship_date = pd.Timestamp(line.get("ship_date")) if line.get("ship_date") is not None else pd.NaT
    if not pd.isna(ship_date) and ship_date.weekday() not in parse_ship_days(chosen):
        detail += f"; the next shipment still goes on {_day(ship_date)}, the truck the previous plan promised"
    return ("cadence", float(sum(parts)), "a day", detail, source)


def _cover(days: float) -> str:
    return "no" if np.isnan(days) else f"{days:.0f}"


def _decision_steps(line: Mapping, product_stock: float | None) -> list[tuple]:
    position, reorder, up_to = (_number(line, c) for c in ("inventory_position", "reorder_point", "order_up_to"))
    case_pack, moq = _number(line, "case_pack", 1.0), _number(line, "moq", 0.0)
    ship, allocated = _number(line, "ship_qty", 0.0), _number(line, "allocated_qty", _number(line, "ship_qty", 0.0))
    reason = str(line.get("reason_code"))
    held = reason in (HELD_DATA_FAILED_CHECKS, HELD_STALE_FEED)
    due = not held and reason != NO_DEMAND and position <= reorder + 1e-9
    need = max(up_to - position, 0.0) if due else 0.0
    if held:
        decision = REASON_TEXT[reason]
    elif reason == NO_DEMAND:
        decision = REASON_TEXT[NO_DEMAND]
    elif due:
        decision = (
            f"position {units(position)} ≤ reorder point {units(reorder)}: order up to {units(up_to)}, "
            f"{units(need)} units short of it"
        )
    else:
        decision = f"position {units(position)} > reorder point {units(reorder)}: nothing to ship"
    rounded = float(round_ship_qty([need], [case_pack], [moq])[0])
    if rounded > 0:
        cases = rounded / case_pack
        rounding = f"{units(need)} units → {units(np.ceil(need / case_pack - 1e-9))} case(s) of {units(case_pack)}"
        if rounded > np.ceil(need / case_pack - 1e-9) * case_pack + 1e-9:
            rounding += f", raised to the MOQ of {units(moq)}"
        rounding += f": needed {units(rounded)} units ({units(cases)} cases)"
    else:
        rounding = "nothing to round: no need"
    if abs(rounded - ship) > 1e-6:
        rounding += f" (the stored plan says {units(ship)})"
    if allocated < ship - 1e-9:
        available = "" if product_stock is None else f" (we had {units(product_stock)} units of this product)"
        allocation = (
            f"our stock was short{available}: shared across the lines by days of cover, "
            f"{units(allocated)} of the {units(ship)} needed units ship"
        )
    elif ship > 0:
        allocation = f"our stock covers the line: all {units(ship)} needed units ship"
    else:
        allocation = "nothing to allocate"
    allocation += f" — {REASON_TEXT.get(reason, reason)}"
    return [
        ("decision", need, "units", decision, "policy"),
        ("rounding", ship, "units", rounding, "policy: round up to case packs, at least the MOQ"),
        ("allocation", allocated, "units", allocation, "allocation across partners (supplier stock)"),
    ]


def explain_plan(plan: pd.DataFrame, inputs: ExplanationInputs, plan_date: date) -> pd.DataFrame:
    """One row per plan line and step (``EXPLANATION_COLUMNS``) for the plan rows of ``plan_date``."""
    stock = _first_by_key(inputs.stock)
    transit = _by_key(inputs.in_transit)
    agreements = _first_by_key(inputs.agreements)
    forecast = _by_key(inputs.forecast)
    accuracy = _first_by_key(
        inputs.accuracy.sort_values("as_of_date", ascending=False)
        if inputs.accuracy is not None and not inputs.accuracy.empty
        else None
    )
    gate = {}
    if inputs.gate is not None and not inputs.gate.empty:
        gate = {row["partner_id"]: row for row in inputs.gate.to_dict("records")}
    supplier = dict(inputs.supplier_stock or {})
    order = {name: number for number, (name, _) in enumerate(STEPS, start=1)}
    rows: list[dict] = []
    for line in plan.to_dict("records"):
        key = tuple(line[column] for column in KEY_COLUMNS)
        stock_steps = _stock_steps(line, stock.get(key), plan_date)
        transit_step = _transit_step(transit.get(key))
        policy = _policy_steps(line, agreements.get(key))
        on_hand, on_order, in_transit = stock_steps[0][1], stock_steps[1][1], transit_step[1]
        position = _number(line, "inventory_position")
        committed = on_hand + on_order + in_transit - position
        steps = [
            *stock_steps,
            transit_step,
            (
                "inventory_position",
                position,
                "units",
                f"on hand {units(on_hand)} + on order {units(on_order)} + in transit {units(in_transit)} − committed "
                f"{units(max(committed, 0.0) if abs(committed) > 1e-6 else 0.0)} = {units(position)}",
                "policy",
            ),
            *policy[:5],
            *_forecast_steps(line, forecast.get(key), accuracy.get(key), plan_date),
            _gate_step(line, gate.get(line["partner_id"]), plan_date),
            *policy[5:],
            *_decision_steps(line, supplier.get(line["product_id"])),
        ]
        for name, value, unit, detail, source in steps:
            rows.append(
                {
                    "plan_date": pd.Timestamp(plan_date),
                    **dict(zip(KEY_COLUMNS, key, strict=True)),
                    "step_number": order[name],
                    "step": name,
                    "label": STEP_LABELS[name],
                    "value": float(value) if value is not None and not pd.isna(value) else np.nan,
                    "unit": unit,
                    "detail": detail,
                    "source": source,
                }
            )
    frame = pd.DataFrame(rows, columns=EXPLANATION_COLUMNS)
    return frame.astype({"step_number": "int64", "value": "float64"})


def format_explanation(steps: pd.DataFrame) -> str:
    """The steps of one plan line as plain text: a title, then one block per step with its source."""
    if steps.empty:
        return "no explanation rows"
    first = steps.iloc[0]
    lines = [
        f"{first['partner_id']} · {first['location_id']} · {first['product_id']} — plan of {_day(first['plan_date'])}",
        "",
    ]
    for row in steps.sort_values("step_number").itertuples(index=False):
        value = "" if pd.isna(row.value) else f"{_value(row.value, row.unit)}"
        lines.append(f"{row.step_number:>2}. {row.label:<28} {value}")
        lines.append(f"    {row.detail}")
        lines.append(f"    source: {row.source}")
    return "\n".join(lines)


def _value(value: float, unit: str) -> str:
    if unit == "share" or unit == "WAPE":
        return f"{percent(value, 1)}" + (" WAPE" if unit == "WAPE" else "")
    if unit == "units/day":
        return f"{value:.2f} units/day"
    if unit == "a day":
        return f"{money(value)} a day"
    return f"{units(value)} {unit}".strip()
