"""int_sales_daily is the incremental home of the daily sales spine (fct_sales_daily is re-built whole from it):
an int_sales_daily built before is_reported_stockout existed must be re-built whole, not only the window, or the
old rows would keep a null flag where the partner did report a stock-out.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from tests.unit.test_dbt_incremental import NORD, night, tables, write_fixture


def test_an_int_sales_daily_built_before_the_reported_stockout_column_is_rebuilt_whole(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    night(date(2025, 6, 10), tmp_path)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("alter table intermediate.int_sales_daily drop column is_reported_stockout")
    night(date(2025, 6, 10), tmp_path)
    with duckdb.connect(str(warehouse)) as conn:
        spine = conn.execute("select * from intermediate.int_sales_daily order by all").df()
    nord_tea = spine[(spine["partner_id"] == NORD) & (spine["product_id"] == "SKU-300")]
    censored = nord_tea.loc[nord_tea["is_reported_stockout"], "sales_date"]
    assert list(censored.dt.day) == [2, 3, 4, 5, 6, 7, 8], "the 852's week 23 reports the tea out of stock"
    assert spine["is_reported_stockout"].notna().all()
    # The mart holds exactly the spine's rows.
    keys = ["partner_id", "location_id", "product_id", "sales_date"]
    mart = tables(warehouse)["fct_sales_daily"]
    pd.testing.assert_frame_equal(mart, spine[list(mart.columns)].sort_values(keys).reset_index(drop=True))
