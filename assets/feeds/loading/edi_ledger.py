"""What the feed ledger records of an EDI file beyond its rows: its quantity account and its ledger status.

A structurally valid EDI file that yields no row to load is not ``loaded``: it is ``no_usable_rows`` with the
reason ("846 QTY qualifiers 34, QH, QB, 87 are not mapped for partner X", "every row rejected ..."), so it is
listed among the files not loaded. Every file's quantity elements are counted: reported, loaded, rejected and
unused, with the unused ones listed by code in ``unused_detail``.
"""

from __future__ import annotations

from assets.feeds.parsers.results import ParsedFile

NO_USABLE_ROWS = "no_usable_rows"


def edi_ledger_fields(parsed: ParsedFile) -> dict:
    """Ledger columns for a parsed file: the account (EDI only) and, when nothing can load, status and reason."""
    account = parsed.account
    if account is None:
        return {}
    fields = {
        "quantities_reported": account.elements,
        "quantities_loaded": account.loaded_elements,
        "quantities_rejected": account.rejected_elements,
        "quantities_unused": account.unused_elements,
        "unused_detail": account.unused_summary(),
    }
    reason = parsed.unusable_reason
    if reason is not None:
        fields |= {"status": NO_USABLE_ROWS, "reason": reason}
    return fields
