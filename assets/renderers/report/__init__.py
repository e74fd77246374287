"""The nightly run report: static HTML for planners, one folder per business date (see ``render``)."""

from assets.renderers.report.inputs import ReportInputs
from assets.renderers.report.render import render_report
from assets.renderers.report.views import plan_summary

__all__ = ["ReportInputs", "plan_summary", "render_report"]
