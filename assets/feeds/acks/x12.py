"""X12 TA1, 997 and 999 acknowledgments of one received interchange (text only)."""

from __future__ import annotations

from datetime import datetime

from assets.feeds.parsers.interchange import ELEMENT, GROUP, SEGMENT, SET, Defect, Interchange, TransactionSet

ELEMENT_SEPARATOR, COMPONENT_SEPARATOR, TERMINATOR = "*", ">", "~"
# 999 (005010X231A1) is the acknowledgment of 005010 and later versions; 997 of the earlier ones.
IMPLEMENTATION_ACK_FROM = "00501"
# A set or group rejected with no defect of its own (its file was refused for a reason not about it: it ran out
# of memory while written, or another interchange of the file broke its envelope; or its group was) still needs a
# code: the 999 (005010X231A1) requires IK502 when IK501 is R and AK905 when AK901 is not A. Neither code list
# (elements 718 and 716) has one for "received and sound, but not taken in by the receiver": the nearest is 1,
# transaction set / functional group not supported (not taken in by us), not 5/I5 (one or more segments in error),
# which would send the partner looking for a defect that is not there. The reason is kept in raw.edi_interchanges.
NOT_TAKEN_IN = "1"


def x12_acknowledgment(
    interchange: Interchange, control_number: int, now: datetime, *, refused: bool
) -> tuple[str, str, str]:
    """(kind, status, text) of the acknowledgment; a TA1 when the interchange envelope is rejected."""
    version = interchange.version if interchange.version >= "00200" else "00401"
    segments = [_isa(interchange, control_number, now, version)]
    if interchange.rejected or not interchange.groups:
        defect = next((defect for defect in interchange.defects if defect.fatal), None)
        code = defect.x12_code if defect is not None and len(defect.x12_code) == 3 else "024"
        note = "R" if interchange.rejected or refused else "A"
        prepared_date, prepared_time = interchange.prepared
        segments.append(_segment("TA1", interchange.control_number, prepared_date, prepared_time, note, code))
        segments.append(_segment("IEA", "0", f"{control_number:09d}"))
        return "TA1", "rejected" if note == "R" else "accepted", _join(segments)
    implementation = version >= IMPLEMENTATION_ACK_FROM
    kind = "999" if implementation else "997"
    statuses = []
    for number, (functional_id, group_control, group_version, _) in enumerate(interchange.groups, start=1):
        sets = [item for item in interchange.sets if item.group_control == group_control]
        group_defects = [
            defect for defect in interchange.defects if defect.level == GROUP and defect.value == group_control
        ]
        body, status = _group_response(
            functional_id, group_control, group_version, sets, group_defects, refused, implementation
        )
        statuses.append(status)
        control = f"{number:04d}"
        st = ["ST", kind, control] + (["005010X231A1"] if implementation else [])
        transaction = [_segment(*st), *body]
        transaction.append(_segment("SE", str(len(transaction) + 1), control))
        gs_version = "005010X231A1" if implementation else "004010"
        segments.append(
            _segment(
                "GS",
                "FA",
                interchange.receiver,
                interchange.sender,
                f"{now:%Y%m%d}",
                f"{now:%H%M}",
                str(control_number),
                "X",
                gs_version,
            )
        )
        segments += transaction
        segments.append(_segment("GE", "1", str(control_number)))
    segments.append(_segment("IEA", str(len(interchange.groups)), f"{control_number:09d}"))
    overall = (
        "rejected" if "R" in statuses or "P" in statuses else "accepted_with_errors" if "E" in statuses else "accepted"
    )
    return kind, overall, _join(segments)


def _group_response(
    functional_id: str,
    group_control: str,
    group_version: str,
    sets: list[TransactionSet],
    group_defects: list[Defect],
    refused: bool,
    implementation: bool,
) -> tuple[list[str], str]:
    body = [_segment("AK1", functional_id, group_control, *([group_version] if implementation else []))]
    accepted = 0
    for transaction in sets:
        set_status, set_body = _set_response(transaction, refused or bool(group_defects), implementation)
        body += set_body
        accepted += set_status in ("A", "E")
    group_codes = [defect.x12_code for defect in group_defects if defect.x12_code][:5]
    if refused and sets and not group_codes and not any(transaction.rejected for transaction in sets):
        group_codes = [NOT_TAKEN_IN]
    # AK901 P: partially accepted, at least one set rejected (the others load).
    if group_defects or (refused and sets) or accepted < len(sets) or not accepted:
        status = "R" if not accepted else "P"
    elif any(transaction.defects for transaction in sets):
        status = "E"
    else:
        status = "A"
    body.append(_segment("AK9", status, str(len(sets)), str(len(sets)), str(accepted), *group_codes))
    return body, status


def _set_response(transaction: TransactionSet, refused: bool, implementation: bool) -> tuple[str, list[str]]:
    segment_tag, element_tag, trailer_tag = ("IK3", "IK4", "IK5") if implementation else ("AK3", "AK4", "AK5")
    body = [_segment("AK2", transaction.kind, transaction.control)]
    element_defects = [defect for defect in transaction.defects if defect.level in (ELEMENT, SEGMENT)]
    for defect in element_defects[:20]:
        position = str(defect.segment - transaction.first_segment + 1)
        body.append(
            _segment(segment_tag, defect.tag, position, "", "8" if defect.level == ELEMENT else defect.x12_code)
        )
        if defect.level == ELEMENT and defect.element is not None:
            element = (
                str(defect.element)
                if defect.component is None
                else f"{defect.element}{COMPONENT_SEPARATOR}{defect.component}"
            )
            body.append(_segment(element_tag, element, "", defect.x12_code, _clean(defect.value)))
    set_codes = [defect.x12_code for defect in transaction.defects if defect.level == SET and defect.x12_code]
    if any(defect.fatal for defect in element_defects):
        set_codes.append("5")
    if transaction.rejected or refused:
        status = "R"
    elif transaction.defects:
        status = "E"
    else:
        status = "A"
    if status == "R" and not set_codes:
        set_codes.append(NOT_TAKEN_IN)
    body.append(_segment(trailer_tag, status, *list(dict.fromkeys(set_codes))[:5]))
    return status, body


def _isa(interchange: Interchange, control_number: int, now: datetime, version: str) -> str:
    receiver_qualifier = interchange.sender_qualifier or "ZZ"
    sender_qualifier = interchange.receiver_qualifier or "ZZ"
    return _segment(
        "ISA", "00", " " * 10, "00", " " * 10,
        f"{sender_qualifier:<2}"[:2], f"{interchange.receiver:<15}"[:15],
        f"{receiver_qualifier:<2}"[:2], f"{interchange.sender:<15}"[:15],
        f"{now:%y%m%d}", f"{now:%H%M}", "U" if version < "00402" else "^", version, f"{control_number:09d}", "0",
        "T" if interchange.test else "P", COMPONENT_SEPARATOR,
    )  # fmt: skip


def _clean(value: str) -> str:
    """Bad data echoed in AK404/IK404 without our own separators in it."""
    for char in (ELEMENT_SEPARATOR, COMPONENT_SEPARATOR, TERMINATOR):
        value = value.replace(char, " ")
    return value[:99]


def _segment(*elements: str) -> str:
    while len(elements) > 1 and elements[-1] == "":
        elements = elements[:-1]
    return ELEMENT_SEPARATOR.join(elements)


def _join(segments: list[str]) -> str:
    return "".join(segment + TERMINATOR + "\n" for segment in segments)


__all__ = ["x12_acknowledgment"]
