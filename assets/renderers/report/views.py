"""The report's content, shaped from frames into what the pages show: headline, act-today list, partner and item views.

Two words keep one meaning throughout: **needed** is the policy's quantity (``ship_qty``: up to the order-up-to
level, rounded to case packs and the MOQ); **shipping** is what our own stock allows (``allocated_qty``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from assets.renderers.report.inputs import ReportInputs
from forecasts.replenishment.explain import percent, units

SEVERITY_RANK = {"critical": 0, "held": 0, "warning": 1, "info": 2}
KEY = ["partner_id", "location_id", "product_id"]
# Files whose business day lies this many days before the plan date or less are news for the planner.
FILE_WINDOW_DAYS = 7

# Partner scorecard rates and the level each should reach (forecast error: at most).
SCORECARD_RATES = (
    ("feed_on_time_rate", "Files on time", 0.95, "at least"),
    ("stock_completeness_rate", "Stock counts complete", 0.98, "at least"),
    ("sales_completeness_rate", "Sales complete", 0.98, "at least"),
    ("reconciliation_accuracy_rate", "Stock reconciles", 0.95, "at least"),
    ("in_stock_rate", "In stock", 0.97, "at least"),
    ("forecast_wape_4w", "Partner forecast error (WAPE, 4 weeks)", 0.30, "at most"),
    ("forecast_value_added_4w", "Partner forecast's WAPE below last week's sales (points, 4 weeks)", 0.0, "at least"),
)
WAPE_TARGET = 0.30

ACTIONS = {
    "stockout_within_lead_time": "Expedite: confirm the {shipping} units on {ship_date}, or ship sooner; the store "
    "runs out {stockout}.",
    "stockout_within_lead_time_nothing_planned": "Nothing ships on {ship_date} (stock in transit or on order covers "
    "the reorder point): make sure it arrives before {stockout}, or send an extra delivery.",
    "allocation_shortfall": "Find {short} more units of {product}, or agree the cut with the partner ({shipping} of "
    "{needed} ship).",
    "excess_stock": "Review the case pack and MOQ of this lane with the partner; consider skipping the shipment.",
    "above_max_cover": "No action unless it recurs: the case pack or MOQ pushes cover above the agreed maximum.",
    "obsolete_stock": "Agree a return or markdown with the partner: stock on hand, no demand expected.",
    "stale_feed": "Ask the partner for a current stock count; the line is held until it arrives.",
    "data_held": "Fix the partner's data (see its data gate) before tonight's run.",
    "forecast_bias": "Check the forecast with the partner (promotions, listings): it has been biased lately.",
    "large_change": "Confirm the change with the partner before the truck is loaded.",
    "cadence_changed": "Tell the store its delivery days change; the location's cheapest cadence moved.",
}
EXCEPTION_TITLES = {
    "stockout_within_lead_time": "Stock-out before the next delivery",
    "allocation_shortfall": "Our stock is short",
    "excess_stock": "Excess stock",
    "above_max_cover": "Above maximum cover",
    "obsolete_stock": "Stock without demand",
    "stale_feed": "Stock count too old",
    "data_held": "Data held",
    "forecast_bias": "Forecast bias",
    "large_change": "Large change since the last plan",
    "cadence_changed": "Delivery days changed",
}

# Great Expectations results in words: (expectation, column) first, then the expectation alone.
RULE_SENTENCES = {
    ("expect_column_values_to_be_between", "on_hand_qty"): "{n} stock count(s) below zero",
    ("expect_column_values_to_be_between", "units_sold"): "{n} sales row(s) with negative units sold",
    ("expect_column_values_to_be_between", "units_returned"): "{n} sales row(s) with negative returns",
    ("expect_column_values_to_be_between", "on_order_qty"): "{n} stock row(s) with a negative quantity on order",
    ("expect_column_values_to_be_between", "in_transit_qty"): "{n} stock row(s) with a negative quantity in transit",
    ("expect_column_values_to_be_between", "observation_age_days"): "{n} item(s) whose last stock count is too old",
    ("expect_column_values_to_be_in_set", "is_above_tolerance"): "{n} stock count(s) that do not reconcile: "
    "yesterday's count plus receipts minus sales is far from today's count",
    ("feed_delivered_by_cutoff", None): "the {suite} file did not arrive by the cut-off",
}
EXPECTATION_SENTENCES = {
    "expect_column_values_to_not_be_null": "{n} row(s) without a {column}",
    "expect_compound_columns_to_be_unique": "{n} duplicate row(s) for the same {column}",
    "expect_table_columns_to_match_set": "the file's columns are not the agreed ones",
    "expect_column_pair_values_a_to_be_greater_than_b": "{n} row(s) whose period ends before it starts",
    "expect_column_values_to_be_between": "{n} row(s) with {column} out of range",
    "expect_column_values_to_be_in_set": "{n} row(s) with an unexpected {column}",
}
DATE_COLUMNS = ("date", "inventory_date", "sales_date", "reconciliation_date", "as_of_date", "volume_date")
VOLUME_SUITE = "feed_volume"


def _key(row) -> tuple:
    return tuple(row[column] for column in KEY)


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def day(value: object) -> str:
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


@dataclass(frozen=True)
class Names:
    """Names beside ids: products, partner locations and partners, as the warehouse knows them."""

    products: dict
    locations: dict
    partners: dict

    @classmethod
    def of(cls, inputs: ReportInputs) -> Names:
        products = locations = partners = {}
        if not inputs.products.empty:
            products = dict(zip(inputs.products["product_id"], inputs.products["product_description"], strict=True))
        if not inputs.locations.empty:
            frame = inputs.locations
            locations = {
                (p, loc): _text(name)
                for p, loc, name in zip(frame["partner_id"], frame["location_id"], frame["location_name"], strict=True)
            }
            partners = dict(zip(frame["partner_id"], frame["partner_name"], strict=True))
        if not inputs.partners.empty:
            partners = {
                **partners,
                **dict(zip(inputs.partners["partner_id"], inputs.partners["partner_name"], strict=True)),
            }
        return cls(products=products, locations=locations, partners=partners)

    def product(self, product_id: str) -> str:
        return _text(self.products.get(product_id))

    def location(self, partner_id: str, location_id: str) -> str:
        return _text(self.locations.get((partner_id, location_id)))

    def partner(self, partner_id: str) -> str:
        return _text(self.partners.get(partner_id)) or partner_id


def shipping_units(plan: pd.DataFrame) -> pd.Series:
    """What ships: the allocation where our stock was short, the policy's quantity where nothing limited it."""
    if "allocated_qty" in plan:
        return plan["allocated_qty"].fillna(plan["ship_qty"])
    return plan["ship_qty"]


def plan_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Per partner: rows planned, lines and units needed (the policy) and shipping (what our stock allows)."""
    columns = ["partner_id", "locations", "rows", "lines_needed", "units_needed", "lines_to_ship", "units_to_ship"]
    if plan.empty:
        return pd.DataFrame(columns=columns)
    shipped = shipping_units(plan)
    return (
        plan.assign(
            needed=plan["ship_qty"] > 0,
            shipping=shipped > 0,
            units=shipped.where(shipped > 0, 0.0),
            need=plan["ship_qty"],
        )
        .groupby("partner_id", as_index=False)
        .agg(
            locations=("location_id", "nunique"),
            rows=("product_id", "size"),
            lines_needed=("needed", "sum"),
            units_needed=("need", "sum"),
            lines_to_ship=("shipping", "sum"),
            units_to_ship=("units", "sum"),
        )[columns]
    )


PLAN_COST_COLUMNS = [
    "partner_id",
    "locations",
    "costed_locations",
    "fewer_days_locations",
    "uncosted_lines",
    "holding",
    "shipping",
    "stockout",
    "total",
    "every_agreed_day",
    "partial",
]


def plan_costs(plan: pd.DataFrame) -> pd.DataFrame:
    """Per partner, the expected cost a day of the night's plan on its ship days: holding, shipping (deliveries),
    stock-out and their total, against the total shipping on every agreed day; how many locations are costed
    and how many ship on fewer days than agreed; and the lines without cost terms (counted in no figure). A partner
    with no costed location has no figures (NaN, not 0); ``partial`` marks figures that cover only some of its
    locations."""
    needed = ["ship_days", "ship_days_agreed", "location_cost_per_day", "location_agreed_cost_per_day"]
    if plan.empty or any(column not in plan for column in needed):
        return pd.DataFrame(columns=PLAN_COST_COLUMNS)
    costed = plan["location_cost_per_day"].notna()
    lines = plan.assign(
        costed=costed,
        uncosted=~costed,
        fewer=costed & (plan["ship_days"] != plan["ship_days_agreed"]),
        agreed=plan["location_agreed_cost_per_day"],
    )
    locations = lines.groupby(["partner_id", "location_id"], as_index=False).agg(
        costed=("costed", "all"), fewer=("fewer", "any"), agreed=("agreed", "first")
    )
    by_location = locations.groupby("partner_id").agg(
        locations=("location_id", "size"),
        costed_locations=("costed", "sum"),
        fewer_days_locations=("fewer", "sum"),
        every_agreed_day=("agreed", lambda agreed: agreed.sum(min_count=1)),
    )
    by_line = lines.groupby("partner_id").agg(
        uncosted_lines=("uncosted", "sum"),
        **{
            figure: (f"{figure}_cost_per_day", lambda costs: costs.sum(min_count=1))
            for figure in ("holding", "shipping", "stockout")
        },
    )
    result = by_location.join(by_line).reset_index()
    result["total"] = result["holding"] + result["shipping"] + result["stockout"]
    result["partial"] = (result["costed_locations"] > 0) & (result["costed_locations"] < result["locations"])
    return result[PLAN_COST_COLUMNS]


def _number(value: object) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def _examples(text: object) -> str:
    """Numeric examples as people write them; booleans and empty lists say nothing and are left out."""
    values = re.findall(r"-?\d+(?:\.\d+)?", _text(text))
    if not values or re.search(r"\b(true|false)\b", _text(text), re.IGNORECASE):
        return ""
    shown = [units(float(v)).replace("-", "−") for v in values[:5]]
    return " (e.g. " + ", ".join(shown) + ")"


def quality_sentence(row: dict) -> str:
    """One failed check in plain words: what is wrong, how many rows, examples, and whether it blocks the plan."""
    expectation = _text(row.get("expectation"))
    column = _text(row.get("column")) or None
    suite = _text(row.get("suite")) or _text(row.get("check_name"))
    count = row.get("unexpected_count")
    n = units(count) if _number(count) is not None else "some"
    if suite == VOLUME_SUITE or _text(row.get("check_name")) == "gx_feed_volume":
        template = f"the day's {column or 'volume'} is outside the partner's usual range" + (
            f" (observed {_text(row.get('observed_value'))})" if _text(row.get("observed_value")) else ""
        )
    elif column in DATE_COLUMNS and expectation == "expect_column_values_to_be_between":
        template = "{n} row(s) dated after the business date"
    else:
        template = RULE_SENTENCES.get(
            (expectation, column),
            RULE_SENTENCES.get((expectation, None), EXPECTATION_SENTENCES.get(expectation)),
        )
        if template is None:
            template = f"rule '{expectation.replace('_', ' ')}' failed" + (f" on {column}" if column else "")
    table = suite.replace("raw_", "raw ").replace("_", " ")
    text = template.format(n=n, column=(column or "value").replace("_", " ").replace(",", ", "), suite=table)
    text = text[0].upper() + text[1:] + _examples(row.get("examples"))
    severity = _text(row.get("severity"))
    blocks = severity in ("critical", "error")
    return f"{text} — in {table}; {'blocks the plan' if blocks else 'warning, the plan goes ahead'}."


def suggested_action(exception: dict, line: dict | None, names: Names) -> str:
    kind = _text(exception.get("exception_type"))
    line = line or {}
    needed, shipping = _number(line.get("ship_qty")) or 0.0, _number(line.get("allocated_qty"))
    shipping = needed if shipping is None else shipping
    if kind == "stockout_within_lead_time" and shipping <= 0:
        kind = "stockout_within_lead_time_nothing_planned"
    template = ACTIONS.get(kind, "Look at the line.")
    return template.format(
        shipping=units(shipping),
        needed=units(needed),
        short=units(max(needed - shipping, 0.0)),
        ship_date=day(line.get("ship_date")),
        stockout=day(line.get("projected_stockout_date")),
        product=names.product(_text(exception.get("product_id"))) or _text(exception.get("product_id")),
    )


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def item_slug(partner_id: str, location_id: str, product_id: str) -> str:
    """A file name for an item page that no id can turn into a path."""
    return _safe(f"{partner_id}__{location_id}__{product_id}") + ".html"


def partner_slug(partner_id: str) -> str:
    return _safe(partner_id) + ".html"


def act_today(inputs: ReportInputs, names: Names) -> list[dict]:
    """Every exception, held partner and unloaded file, most severe first, then by units at stake and urgency."""
    plan = {_key(row): row for row in inputs.plan.to_dict("records")} if not inputs.plan.empty else {}
    items = []
    for exception in inputs.exceptions.to_dict("records") if not inputs.exceptions.empty else []:
        line = plan.get(_key(exception))
        partner_id, location_id = exception["partner_id"], exception["location_id"]
        needed = _number((line or {}).get("ship_qty")) or 0.0
        cover = _number((line or {}).get("days_of_cover"))
        items.append(
            {
                "severity": _text(exception["severity"]),
                "title": EXCEPTION_TITLES.get(exception["exception_type"], exception["exception_type"]),
                "partner_id": exception["partner_id"],
                "partner": names.partner(exception["partner_id"]),
                "where": f"{location_id} {names.location(partner_id, location_id)}",
                "what": f"{exception['product_id']} {names.product(exception['product_id'])}",
                "detail": _text(exception.get("detail")),
                "action": suggested_action(exception, line, names),
                "item_page": item_slug(*_key(exception)) if line is not None else None,
                "impact": needed,
                "urgency": cover if cover is not None else float("inf"),
            }
        )
    for gate in inputs.gate.to_dict("records") if not inputs.gate.empty else []:
        if gate["status"] == "held":
            items.append(
                {
                    "severity": "critical",
                    "title": "Partner held: nothing planned",
                    "partner_id": gate["partner_id"],
                    "partner": names.partner(gate["partner_id"]),
                    "where": "all locations",
                    "what": "all products",
                    "detail": "a blocking data rule failed (see the partner's data gate)",
                    "action": ACTIONS["data_held"],
                    "item_page": None,
                    "impact": float("inf"),
                    "urgency": 0.0,
                }
            )
    for file in problem_files(inputs).to_dict("records"):
        if file["status"] == "quarantined":
            items.append(
                {
                    "severity": "warning",
                    "title": "File not loaded",
                    "partner_id": file["partner_id"],
                    "partner": names.partner(file["partner_id"]),
                    "where": file["path"],
                    "what": _text(file.get("record_type")) or "file",
                    "detail": file["reason"],
                    "action": "Ask the partner to resend a corrected file.",
                    "item_page": None,
                    "impact": 0.0,
                    "urgency": float("inf"),
                }
            )
    return sorted(
        items,
        key=lambda item: (SEVERITY_RANK.get(item["severity"], 3), -item["impact"], item["urgency"], item["where"]),
    )


def problem_files(inputs: ReportInputs) -> pd.DataFrame:
    """Files of the last week that arrived late or were not loaded: partner, path, status, reason, hours late."""
    columns = ["partner_id", "path", "record_type", "business_date", "received_at", "status", "reason", "hours_late"]
    ledger = inputs.feed_ledger
    if ledger.empty:
        return pd.DataFrame(columns=columns)
    ledger = ledger.reindex(columns=columns)
    since = pd.Timestamp(inputs.plan_date - timedelta(days=FILE_WINDOW_DAYS))
    dated = pd.to_datetime(ledger["business_date"]).fillna(pd.to_datetime(ledger["received_at"]).dt.normalize())
    late = pd.to_numeric(ledger["hours_late"]).fillna(0) > 0
    bad = ledger["status"].isin(["quarantined"])
    found = ledger[(dated >= since) & (late | bad)].sort_values(["received_at", "path"], ascending=[False, True])
    # Ledger reasons name the file by its absolute landing path; the relative one says the same, shorter.
    reasons = [
        re.sub(r"\S*" + re.escape(str(path)), str(path), _text(reason))
        for path, reason in zip(found["path"], found["reason"], strict=True)
    ]
    return found.assign(reason=reasons)


def headline(inputs: ReportInputs, actions: list[dict]) -> dict:
    plan = inputs.plan
    shipping = shipping_units(plan) if not plan.empty else pd.Series(dtype=float)
    held = sorted(inputs.gate.loc[inputs.gate["status"] == "held", "partner_id"]) if not inputs.gate.empty else []
    files = problem_files(inputs)
    return {
        "units_shipping": float(shipping.sum()),
        "lines_shipping": int((shipping > 0).sum()),
        "units_needed": float(plan["ship_qty"].sum()) if not plan.empty else 0.0,
        "lines_needed": int((plan["ship_qty"] > 0).sum()) if not plan.empty else 0,
        "critical": sum(1 for action in actions if action["severity"] == "critical"),
        "held_partners": held,
        "late_files": int((pd.to_numeric(files["hours_late"]).fillna(0) > 0).sum()),
        "unloaded_files": int((files["status"] == "quarantined").sum()),
    }


def partner_ids(inputs: ReportInputs) -> list[str]:
    """Every partner the night knows of: planned, gated or checked (a held partner has no plan but gets a page)."""
    found = set()
    for frame in (inputs.plan, inputs.gate, inputs.check_failures, inputs.exceptions):
        if not frame.empty and "partner_id" in frame:
            found.update(frame["partner_id"].dropna().astype(str))
    return sorted(found)


def scorecard_trend(scorecard: pd.DataFrame, partner_id: str, weeks: int = 8) -> list[dict]:
    """The partner's last weeks of scorecard rates, newest first, each with its target and whether it was met."""
    if scorecard.empty:
        return []
    own = scorecard[scorecard["partner_id"] == partner_id].sort_values("week_start", ascending=False).head(weeks)
    rows = []
    for column, label, target, direction in SCORECARD_RATES:
        if column not in own:
            continue
        values = []
        for value in own[column]:
            number = _number(value)
            met = None if number is None else (number >= target if direction == "at least" else number <= target)
            values.append({"text": percent(number), "met": met})
        rows.append({"label": label, "target": f"{direction} {percent(target)}", "cells": values})
    return [{"weeks": [_text(w) for w in own["iso_week"]], "rows": rows}] if rows else []
