"""A synthetic warehouse with only what the nightly forecast reads, at any number of series, written by DuckDB.

`marts.fct_sales_daily` (one row per partner location, product and day, zero-filled, stock-out days flagged),
`marts.dim_partner` (partner and country) and `quality.partner_data_gate` (every partner passes on the business
date, but the last one, which is held, so the forecast's partner filter is exercised). Rows are made in SQL from a
hash of (series, day), so a 100k-series warehouse is written in seconds without a Python object per row, and the same
arguments always give the same bytes.

Series mix, by series number modulo 10: six smooth or erratic (a weekly pattern, a yearly season and noise: the
engine sends them to Prophet), two intermittent, one lumpy, one short (a new product with six weeks of history);
about 2 % of days are stock-outs (sales 0, demand censored). Location ids are chosen so that a location id is a prefix
of another (`S-1`, `S-1A`), which makes the string order of series ids differ from the order of their key columns.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

COUNTRIES = ("DE", "US", "CN", "FR")


def partners_for(n_series: int) -> int:
    """A few partners at any size, as a supplier has: 3 up to 3k series, then one more per 25k."""
    return max(3, min(12, n_series // 25_000 + 3))


def build_sales_warehouse(path: Path, n_series: int, business_date: date, days: int = 730, seed: int = 7) -> Path:
    """Write the tables the forecast reads for `n_series` series of `days` days ending on `business_date`."""
    path = Path(path)
    if path.exists():
        path.unlink()
    partners = partners_for(n_series)
    first_day = business_date - timedelta(days=days - 1)
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.execute("create schema quality")
        conn.execute(
            """
            create temp table series as
            select s as series_number,
                   'partner_' || lpad((s % $partners)::varchar, 2, '0') as partner_id,
                   'S-' || ((s // $partners) % 40 // 2)::varchar
                       || case when (s // $partners) % 2 = 1 then 'A' else '' end as location_id,
                   'SKU-' || lpad((s // ($partners * 40))::varchar, 6, '0') as product_id,
                   s % 10 as profile,
                   2 + (hash(s, $seed) % 40)::double as level
            from range($n_series) as t(s)
            """,
            {"partners": partners, "n_series": n_series, "seed": seed},
        )
        conn.execute(
            """
            create table marts.fct_sales_daily as
            with days as (select d, $first_day::date + d::integer as sales_date from range($days) as t(d)),
            draws as (
                select s.*, days.d, days.sales_date,
                       (hash(s.series_number, days.d, $seed) % 1000003) / 1000003.0 as u,
                       (hash(days.d, s.series_number, $seed + 1) % 1000003) / 1000003.0 as v
                from series as s cross join days
                where s.profile <> 9 or days.d >= $days - 42
            ),
            demand as (
                select *,
                       case
                           when profile < 6 then greatest(0, round(
                               level * (1 + 0.3 * sin(2 * pi() * d / 7) + 0.2 * sin(2 * pi() * d / 365.25))
                               * (0.4 + 1.2 * u)))
                           when profile < 8 then case when u < 0.12 then 1 + floor(v * 3) else 0 end
                           when profile = 8 then case when u < 0.08 then 1 + floor(v * 25) else 0 end
                           else round(level * (0.5 + u))
                       end as units
                from draws
            )
            select partner_id, location_id, product_id, sales_date,
                   case when v > 0.98 then 0 else units end::double as units_sold,
                   v > 0.98 as is_stockout
            from demand
            order by sales_date, partner_id, location_id, product_id
            """,
            {"first_day": first_day, "days": days, "seed": seed},
        )
        conn.execute(
            """
            create table marts.dim_partner as
            select distinct partner_id, $countries[1 + (right(partner_id, 2)::integer % 4)] as country
            from series order by partner_id
            """,
            {"countries": list(COUNTRIES)},
        )
        conn.execute(
            """
            create table quality.partner_data_gate as
            select $business_date::date as as_of_date, partner_id,
                   case when partner_id = max(partner_id) over () then 'held' else 'pass' end as status,
                   0 as failed_errors, 0 as failed_warnings, null::varchar as reasons, 'synthetic' as run_id
            from marts.dim_partner
            """,
            {"business_date": business_date},
        )
    return path
