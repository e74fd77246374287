"""EDIFACT CONTRL syntax and service report for one received interchange (text only)."""

from __future__ import annotations

from datetime import datetime

from assets.feeds.parsers.interchange import ELEMENT, SEGMENT, Interchange

# 0083 action, coded: 4 this level and all lower levels rejected; 7 this level acknowledged, and all lower levels
# acknowledged where not reported otherwise.
REJECTED, ACKNOWLEDGED = "4", "7"


def contrl(interchange: Interchange, reference: int, now: datetime, *, refused: bool) -> tuple[str, str, str]:
    """(kind, status, text) of the CONTRL answering ``interchange``; ``reference`` is our UNB reference."""
    syntax = interchange.version if interchange.version.startswith("UNO") else "UNOC:3"
    version = syntax.split(":")[1] if ":" in syntax else "3"
    message_id = "CONTRL:4:1:UN" if version == "4" else f"CONTRL:{'D:3' if version == '3' else '2:2'}:UN"
    ours = f"{reference:014d}"
    sender = _party(interchange.receiver, interchange.receiver_qualifier)
    recipient = _party(interchange.sender, interchange.sender_qualifier)
    body = [f"UNH+1+{message_id}"]
    first = next((defect for defect in interchange.defects if defect.fatal), None)
    uci = [
        "UCI",
        _text(interchange.control_number),
        _party(interchange.sender, interchange.sender_qualifier),
        _party(interchange.receiver, interchange.receiver_qualifier),
    ]
    if first is not None:
        uci += [REJECTED, first.edifact_code or "18", first.tag or "UNB"]
    else:
        uci.append(ACKNOWLEDGED)
    body.append("+".join(uci))
    statuses = []
    for message in interchange.sets:
        rejected = first is not None or message.rejected or refused
        statuses.append("R" if rejected else "E" if message.defects else "A")
        fatal = next((defect for defect in message.defects if defect.fatal), None)
        ucm = ["UCM", _text(message.control), ":".join(_text(part) for part in message.version.split(":")[:4])]
        ucm.append(REJECTED if rejected else ACKNOWLEDGED)
        if fatal is not None and fatal.edifact_code:
            ucm.append(fatal.edifact_code)
        body.append("+".join(ucm))
        for defect in [defect for defect in message.defects if defect.level in (SEGMENT, ELEMENT)][:20]:
            position = defect.segment - message.first_segment + 1
            body.append(f"UCS+{position}")
            if defect.level == ELEMENT and defect.element is not None:
                where = str(defect.element) if defect.component is None else f"{defect.element}:{defect.component}"
                body.append(f"UCD+{defect.edifact_code or '12'}+{where}")
    body.append(f"UNT+{len(body) + 1}+1")
    segments = [
        f"UNB+{syntax}+{sender}+{recipient}+{now:%y%m%d}:{now:%H%M}+{ours}++CONTRL"
        + ("++++1" if interchange.test else ""),
        *body,
        f"UNZ+1+{ours}",
    ]
    text = "UNA:+.? '\n" + "".join(segment + "'\n" for segment in segments)
    if first is not None or "R" in statuses:
        status = "rejected"
    elif "E" in statuses:
        status = "accepted_with_errors"
    else:
        status = "accepted"
    return "CONTRL", status, text


def _party(identifier: str, qualifier: str) -> str:
    return _text(identifier) + (f":{_text(qualifier)}" if qualifier else "")


def _text(value: str) -> str:
    """Data with the service characters released."""
    for char in "?:+'":
        value = value.replace(char, "?" + char)
    return value
