"""The project's `not_null_columns` test, rendered as dbt renders a generic test and run on DuckDB: it stands in for
dbt's not_null on each column, so it must fail exactly where those would, and its rows must name the column."""

from __future__ import annotations

import re

import duckdb
import jinja2
import pytest

from tests.fixtures import DBT_PROJECT_DIR

TEST_FILE = DBT_PROJECT_DIR / "tests" / "generic" / "not_null_columns.sql"


class CompilerError(Exception):
    pass


class Exceptions:
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise CompilerError(message)


def render(model: str, column_names: list[str]) -> str:
    """The SQL dbt runs for the test on `model`: the body of its `{% test %}` block with the test's arguments."""
    block = r"{% test not_null_columns\(model, column_names\) %}(.*){% endtest %}"
    body = re.search(block, TEST_FILE.read_text(), re.S)
    template = jinja2.Environment().from_string(body.group(1))
    return template.render(model=model, column_names=column_names, exceptions=Exceptions)


@pytest.fixture
def conn():
    with duckdb.connect() as conn:
        conn.execute("create table facts (partner_id varchar, product_id varchar, units integer, note varchar)")
        yield conn


def test_a_clean_model_passes_and_each_column_with_nulls_fails_by_name(conn):
    columns = ["partner_id", "product_id", "units"]
    conn.execute("insert into facts values ('acme', 'p1', 3, null), ('acme', 'p2', 0, null)")
    assert conn.execute(render("facts", columns)).fetchall() == []

    conn.execute("insert into facts values (null, 'p3', null, 'x'), ('acme', 'p4', null, 'y')")
    assert sorted(conn.execute(render("facts", columns)).fetchall()) == [("partner_id", 1), ("units", 2)]


def test_an_empty_model_passes(conn):
    assert conn.execute(render("facts", ["partner_id", "units"])).fetchall() == []


def test_no_columns_is_a_compile_error():
    with pytest.raises(CompilerError, match="needs at least one column"):
        render("facts", [])
