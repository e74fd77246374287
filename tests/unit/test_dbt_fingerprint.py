"""The dbt docs fingerprint: the same project, warehouse columns and dbt give the same docs, anything else not."""

import shutil

from orchestration.runtime.dbt import docs_fingerprint
from orchestration.runtime.settings import DBT_PROJECT_DIR

SCHEMA = [("raw", "sales", "units_sold", "DOUBLE"), ("marts", "dim_product", "product_id", "VARCHAR")]


def test_the_fingerprint_follows_the_project_the_warehouse_columns_and_dbt(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    first = docs_fingerprint(project, SCHEMA, "dbt-core 1.11")
    assert docs_fingerprint(project, list(SCHEMA), "dbt-core 1.11") == first
    assert docs_fingerprint(project, SCHEMA[:1], "dbt-core 1.11") != first
    assert (
        docs_fingerprint(project, [*SCHEMA[:1], ("marts", "dim_product", "product_id", "INTEGER")], "dbt-core 1.11")
        != first
    )
    assert docs_fingerprint(project, SCHEMA, "dbt-core 1.12") != first
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "run_results.json").write_text("{}")
    assert docs_fingerprint(project, SCHEMA, "dbt-core 1.11") == first, "run output is not the project"
    model = next((project / "models" / "marts").glob("*.yml"))
    model.write_text(model.read_text() + "\n# a comment\n")
    assert docs_fingerprint(project, SCHEMA, "dbt-core 1.11") != first
