"""Run a Great Expectations 1.x suite per partner and flatten the results into rows for `quality.check_results`.

Pure of Dagster: the asset checks in `assets/quality.py` call this and decide what the run does with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import great_expectations as gx
import pandas as pd
from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig

SEVERITY_ERROR = "error"
SEVERITY_WARNING = "warning"
_SEVERITY = {"critical": SEVERITY_ERROR, "warning": SEVERITY_WARNING, "info": SEVERITY_WARNING}


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation evaluated on one partner's rows."""

    suite: str
    partner_id: str
    expectation: str
    column: str | None
    severity: str
    passed: bool
    element_count: int
    unexpected_count: int
    observed_value: str | None
    threshold: str
    examples: str

    def as_row(self) -> dict:
        return asdict(self)


def _severity(config) -> str:
    raw = getattr(config, "severity", None)
    return _SEVERITY.get(getattr(raw, "value", raw) or "critical", SEVERITY_ERROR)


def _threshold(config: dict) -> str:
    """The expectation's own bounds, so a reader sees what was demanded next to what was observed."""
    kwargs = {k: v for k, v in config.items() if k not in {"column", "column_list", "batch_id"} and v is not None}
    return json.dumps(kwargs, default=str, sort_keys=True)


def _quiet_context() -> gx.data_context.AbstractDataContext:
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@dataclass(frozen=True)
class SuiteRun:
    """One suite validated per partner: the flat outcomes, and GX's own results that Data Docs render."""

    suite: gx.ExpectationSuite
    results: dict[str, ExpectationSuiteValidationResult]
    outcomes: list[ExpectationOutcome]
    rows_checked: int = 0


def run_suite_by_partner(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, partner_column: str = "partner_id"
) -> SuiteRun:
    """Validate each partner's slice of `frame` on its own, so one partner's failure never masks another's pass."""
    partners = frame.groupby(partner_column, sort=True)
    return run_suite_on_partners(((str(partner), rows.reset_index(drop=True)) for partner, rows in partners), suite)


def run_suite_on_partners(partners: Iterable[tuple[str, pd.DataFrame]], suite: gx.ExpectationSuite) -> SuiteRun:
    """Validate each partner's rows on their own. `partners` may read each partner's rows only when its turn comes
    (a generator), so no more than one partner's rows are held.

    Each partner's validation is its own GX run named after the partner, so Data Docs list one page per partner.
    """
    context = _quiet_context()
    source = context.data_sources.add_pandas("cmi_frames")
    batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("per_partner")
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}_by_partner", data=batch, suite=suite)
    )
    results: dict[str, ExpectationSuiteValidationResult] = {}
    outcomes: list[ExpectationOutcome] = []
    rows_checked = 0
    for partner_id, rows in partners:
        result = definition.run(
            batch_parameters={"dataframe": rows},
            result_format="SUMMARY",
            run_id=RunIdentifier(run_name=partner_id),
        )
        results[partner_id] = result
        outcomes.extend(_outcomes(suite.name, partner_id, result.results))
        rows_checked += len(rows)
    return SuiteRun(suite=suite, results=results, outcomes=outcomes, rows_checked=rows_checked)


def validate_by_partner(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, partner_column: str = "partner_id"
) -> list[ExpectationOutcome]:
    """The outcomes of `run_suite_by_partner`, for callers that only need the rows of `quality.check_results`."""
    return run_suite_by_partner(frame, suite, partner_column).outcomes


def _outcomes(suite_name: str, partner_id: str, results: Iterable) -> list[ExpectationOutcome]:
    outcomes = []
    for item in results:
        config = item.expectation_config
        kwargs = dict(config.kwargs)
        details = item.result or {}
        examples = details.get("partial_unexpected_list") or []
        observed = details.get("observed_value")
        outcomes.append(
            ExpectationOutcome(
                suite=suite_name,
                partner_id=partner_id,
                expectation=config.type,
                column=kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or None,
                severity=_severity(config),
                passed=bool(item.success),
                element_count=int(details.get("element_count") or 0),
                unexpected_count=int(details.get("unexpected_count") or 0),
                observed_value=None if observed is None else str(observed),
                threshold=_threshold(kwargs),
                examples=json.dumps(examples[:5], default=str),
            )
        )
    return outcomes


def blocking_partners(outcomes: Iterable[ExpectationOutcome]) -> dict[str, list[str]]:
    """Partners with at least one failed error-severity expectation, with the failures that hold them."""
    held: dict[str, list[str]] = {}
    for outcome in outcomes:
        if not outcome.passed and outcome.severity == SEVERITY_ERROR:
            label = f"{outcome.suite}: {outcome.expectation}({outcome.column or ''})"
            held.setdefault(outcome.partner_id, []).append(label)
    return held
