"""Which plan lines get an item page: the ones a planner acts on first, up to a cap, so a night of 100,000 series
writes a few hundred pages rather than one per series; every other line stays a row on its partner's page and in
the partner's export files."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from assets.renderers.report.views import KEY, SEVERITY_RANK, item_slug

# At most this many item pages a night: more than a planner opens in a morning, few enough to write in seconds.
ITEM_PAGE_CAP = 500


@dataclass(frozen=True)
class ItemPages:
    """The lines with a page (``keys``: ``KEY`` columns and ``slug``, in page order) and how they were chosen."""

    keys: pd.DataFrame
    lines: int  # plan lines of the night
    with_exception: int  # lines with at least one exception
    cap: int

    @property
    def slugs(self) -> set[str]:
        return set(self.keys["slug"])

    def sentence(self) -> str:
        """What the index says about the item pages, and where the lines without one are."""
        pages = len(self.keys)
        if pages == self.lines:
            return f"Every one of the night's {self.lines:,} plan lines has an item page."
        return (
            f"{pages:,} of the night's {self.lines:,} plan lines have an item page: first the lines with an "
            f"exception ({self.with_exception:,} tonight), most severe and most units needed first, then the other "
            f"lines needing most units, up to {self.cap:,} pages. The other {self.lines - pages:,} are rows on their "
            "partner's page and in the partner's export files."
        )


def select_item_pages(plan: pd.DataFrame, exceptions: pd.DataFrame, cap: int | None = None) -> ItemPages:
    """The plan lines that get an item page: first those with an exception, by their most severe one (critical,
    warning, info), then the other lines; within each, most units needed first, then fewest days of cover, then by
    key. At most ``cap`` lines (``ITEM_PAGE_CAP`` unless given)."""
    cap = ITEM_PAGE_CAP if cap is None else cap
    if plan.empty:
        return ItemPages(pd.DataFrame(columns=[*KEY, "slug"]), 0, 0, cap)
    lines = plan[KEY].copy()
    lines["needed"] = pd.to_numeric(plan["ship_qty"]).fillna(0.0).to_numpy()
    cover = plan["days_of_cover"] if "days_of_cover" in plan else pd.Series(float("nan"), index=plan.index)
    lines["cover"] = pd.to_numeric(cover).fillna(float("inf")).to_numpy()
    if exceptions.empty:
        lines["rank"] = len(SEVERITY_RANK)
    else:
        ranks = exceptions[KEY].assign(rank=exceptions["severity"].map(SEVERITY_RANK).fillna(len(SEVERITY_RANK) - 1))
        worst = ranks.groupby(KEY, as_index=False)["rank"].min()
        lines = lines.merge(worst, on=KEY, how="left").fillna({"rank": len(SEVERITY_RANK)})
    with_exception = int((lines["rank"] < len(SEVERITY_RANK)).sum())
    chosen = lines.sort_values(["rank", "needed", "cover", *KEY], ascending=[True, False, True, True, True, True])
    keys = chosen[KEY].head(cap).reset_index(drop=True)
    keys["slug"] = [item_slug(*key) for key in keys.itertuples(index=False, name=None)]
    return ItemPages(keys, len(lines), with_exception, cap)
