"""`cmi explain PARTNER LOCATION PRODUCT [--date D]`: how one plan line was reached, input by input, with sources.

Reads `replenishment.plan_explanations` (written by the plan asset beside the plan) read-only: the stock count
with its file, line and receipt time, what is on order and in transit, the agreement, the forecast and its
accuracy, the data gate, and the policy's arithmetic down to case packs, MOQ and allocation.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from error


def register(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain",
        help="show how one plan line was reached: every input with its source, every step of the policy",
        description="Print, for one partner location and product, each input of its replenishment plan line with "
        "where it came from (the partner's stock file and line, our shipments in transit, the agreement, the "
        "forecast and its accuracy, the data gate) and each step from the reorder point to the case-pack, MOQ "
        "and allocation rounding. Reads replenishment.plan_explanations read-only. Exit code 1 when the line is "
        "not in the plan.",
        allow_abbrev=False,
    )
    explain.add_argument("partner", metavar="PARTNER", help="partner id, e.g. hansa_handel")
    explain.add_argument("location", metavar="LOCATION", help="the partner's location (store) id, e.g. F012")
    explain.add_argument("product", metavar="PRODUCT", help="our product id, e.g. P1003")
    explain.add_argument("--date", type=_parse_date, help="plan date YYYY-MM-DD (default: the newest plan)")
    explain.add_argument("--json", action="store_true", help="print the steps as a JSON list")
    explain.add_argument("--warehouse", metavar="PATH", help="DuckDB file (default: $CMI_DUCKDB_PATH or the demo)")
    explain.set_defaults(handler=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    import duckdb

    from forecasts.replenishment.explain import format_explanation
    from orchestration.runtime import settings
    from orchestration.runtime.warehouse_tables import table_exists

    warehouse = Path(args.warehouse).resolve() if args.warehouse else settings.warehouse_path()
    if not warehouse.is_file():
        print(f"cmi explain: no warehouse at {warehouse}: run `cmi run` first", file=sys.stderr)
        return EXIT_USAGE
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        if not table_exists(conn, "replenishment.plan_explanations"):
            print(f"cmi explain: {warehouse} has no plan explanations yet: run `cmi run` first", file=sys.stderr)
            return EXIT_NOT_FOUND
        plan_date = (
            args.date
            or conn.execute(
                "select max(plan_date) from replenishment.plan_explanations where partner_id = ?", [args.partner]
            ).fetchone()[0]
        )
        steps = conn.execute(
            """select * from replenishment.plan_explanations
               where plan_date = ? and partner_id = ? and location_id = ? and product_id = ?
               order by step_number""",
            [plan_date, args.partner, args.location, args.product],
        ).df()
    if steps.empty:
        when = f"on {plan_date}" if plan_date else "in any plan"
        print(
            f"cmi explain: no plan line for {args.partner} {args.location} {args.product} {when} "
            "(is the partner held by its data gate, or the location/product not agreed?)",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND
    if args.json:
        readable = steps.assign(plan_date=steps["plan_date"].astype(str)).astype(object)
        records = readable.where(readable.notna(), None).to_dict("records")
        print(json.dumps(records, indent=2, ensure_ascii=False, default=str))
    else:
        print(format_explanation(steps))
    return 0
