"""`cmi simulate`: replay the replenishment policy against history it did not see, next to the partners' rule."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forecasts.replenishment.replay import ReplayReport


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from error


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {value!r}")
    return number


def register(commands: argparse._SubParsersAction) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="replay the replenishment policy over recent history against the partners' min/max rule, with costs",
        description="Replay our replenishment policy day by day over past days it did not see: plan each evening "
        "with the data known then as the nightly plan does, each location shipping on its cheapest subset of the "
        "agreed ship days, with the agreed lead time (spread drawn from a seeded generator), and let the actual "
        "sales consume stock. The same policy on every agreed ship day and the partners' weekly min/max rule run on "
        "the same days for comparison. Each is costed with the agreements' holding rate, cost per delivery and "
        "stock-out penalty. Reads the warehouse read-only.",
    )
    simulate.add_argument(
        "--start",
        type=_parse_date,
        help="the evening the replay starts from, YYYY-MM-DD; the first replayed day is the day after "
        "(default: DAYS + 1 days before the last sales date, so the last sales date is left out)",
    )
    simulate.add_argument("--days", type=_positive_int, default=90, help="days to replay after --start (default 90)")
    simulate.add_argument("--seed", type=int, default=7, help="seed of the lead-time draws (default 7)")
    simulate.add_argument("--json", action="store_true", help='print {"policy": {...}, "baseline": {...}} as JSON')
    simulate.add_argument("--warehouse", metavar="PATH", help="DuckDB file (default: $CMI_DUCKDB_PATH or the demo)")
    simulate.set_defaults(handler=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    import duckdb

    from forecasts.replenishment.replay import default_start, last_sales_date, load_replay_data, replay_policies
    from orchestration.runtime import settings

    warehouse = Path(args.warehouse).resolve() if args.warehouse else settings.warehouse_path()
    if not warehouse.exists():
        print(f"no warehouse at {warehouse}: run `cmi run` first", file=sys.stderr)
        return 1
    try:
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            start = args.start or default_start(last_sales_date(conn), args.days)
            data = load_replay_data(conn, start, args.days)
        report = replay_policies(data, start, args.days, seed=args.seed)
    except (duckdb.Error, ValueError) as error:
        print(f"cannot replay: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return 0


def format_report(report: ReplayReport) -> str:
    """The replay as a plain-text table: overall, then per partner, each with its target service level."""
    from forecasts.replenishment.replay import FORECASTER, LEAD_TIME_RULE

    scopes = [("all partners", report.target_service_level, report.policy, report.costed, report.baseline)]
    scopes += [
        (partner.partner_id, partner.target_service_level, partner.policy, partner.costed, partner.baseline)
        for partner in report.by_partner
    ]
    width = max(len(scope) for scope, *_ in scopes)
    lines = [
        f"Policy replay {report.first_day} to {report.last_day} ({report.days} days, {report.series} series, "
        f"seed {report.seed})",
        "",
        f"{'scope':<{width}} {'target':>6}  {'rule':<8} {'fill rate':>9} {'stock-out days':>14} "
        f"{'avg inventory':>13} {'shipments':>9} {'deliveries':>10}  {'holding':>9} {'shipping':>9} "
        f"{'stock-out':>9} {'total cost':>10}",
    ]
    for scope, target, *outcomes in scopes:
        rules = [("policy", outcomes[0]), ("costed", outcomes[1]), ("baseline", outcomes[2])]
        for rule, outcome in rules:
            if outcome is None:
                continue
            label, goal = (scope, f"{target:.1%}") if rule == "policy" else ("", "")
            lines.append(
                f"{label:<{width}} {goal:>6}  {rule:<8} {outcome.fill_rate:>9.1%} {outcome.stockout_days:>14,} "
                f"{outcome.avg_inventory_units:>13,.0f} {outcome.shipments:>9,} {outcome.deliveries:>10,}  "
                f"{outcome.holding_cost:>9,.0f} {outcome.shipping_cost:>9,.0f} {outcome.stockout_cost:>9,.0f} "
                f"{outcome.total_cost:>10,.0f}"
            )
    lines += [
        "",
        "target: the agreements' service level, weighted by demand; avg inventory: units on hand at the end of a day",
        "costed: the nightly plan's rule, each location on the cheapest subset of its agreed ship days, chosen "
        f"every evening ({report.lanes_on_fewer_days} of {report.lanes} locations ship on fewer days on most "
        "evenings); policy: the same on every agreed ship day; baseline: the partners' weekly min/max",
        "costs in the supplier's currency over the replayed days: holding (stock on hand), shipping (deliveries), "
        "stock-out (units short)"
        + (f"; {report.uncosted_series} series have no cost terms and cost nothing" if report.uncosted_series else ""),
        f"forecast: {FORECASTER}",
        f"lead time: {LEAD_TIME_RULE}",
    ]
    return "\n".join(lines)
