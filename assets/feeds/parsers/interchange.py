"""What an EDI file's envelopes and quantities came to: the defects found, and where every quantity went.

Shared by the X12 and EDIFACT parsers, the acknowledgment writers (997/999/TA1 and CONTRL) and the loader:

- :class:`Defect` is one problem in an interchange, located by segment (numbered from the start of the file) and,
  where it is about one element, by element position, with the standards' codes for it (X12 AK5/IK5, AK3/IK3,
  AK4/IK4, TA1 and AK9 codes; EDIFACT 0085 syntax error codes).
- :class:`Interchange` records one interchange of a file (its envelope, its transaction sets or messages, and its
  defects), which is what an acknowledgment answers.
- :class:`Truncation` is how each standard reports an interchange cut short (what each open level lacks).
- :class:`QuantityAccount` says where every quantity element of the file went: loaded, rejected (on a rejected
  row or in a rejected interchange) or unused (a code no mapping names, a test interchange, a quantity the
  standard does not make a CMI measure), so a file never loses a quantity without a word.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assets.feeds.errors import FeedError

# Levels a defect applies to, from the widest.
INTERCHANGE, GROUP, SET, SEGMENT, ELEMENT = "interchange", "group", "set", "segment", "element"


@dataclass(frozen=True)
class Defect:
    """One problem found in an interchange; ``fatal`` ones reject their level (interchange, group or set)."""

    level: str
    segment: int  # number from the start of the file (ISA / UNA or UNB = 1)
    reason: str
    tag: str = ""
    element: int | None = None  # 1-based element position for element-level defects
    component: int | None = None
    x12_code: str = ""  # TA105 / AK905 / AK502 / AK304 / AK403 code, as the level calls for
    edifact_code: str = ""  # 0085 syntax error code
    fatal: bool = True
    value: str = ""  # the bad data, for AK404 / IK404

    def located(self) -> str:
        return f"segment {self.segment}"


@dataclass
class TransactionSet:
    """One X12 transaction set (ST..SE) or EDIFACT message (UNH..UNT) of an interchange."""

    kind: str  # 852 / 846 / INVRPT / SLSRPT / INVOIC ...
    control: str  # ST02 / UNH 0062
    first_segment: int
    version: str = ""  # UNH S009 (type:version:release:agency[:association]) or GS08
    group_control: str = ""  # GS06 / UNG 0048
    group_kind: str = ""  # GS01 functional identifier
    segments: list = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(defect.fatal for defect in self.defects)

    def first_fatal_reason(self) -> str:
        defect = min((defect for defect in self.defects if defect.fatal), key=lambda defect: defect.segment)
        return f"segment {defect.segment}: {defect.reason}"


@dataclass
class Interchange:
    """One interchange of a delivered file: envelope fields an acknowledgment echoes, its sets and its defects."""

    standard: str  # x12 | edifact
    index: int  # 1-based position in the file
    first_segment: int
    control_number: str
    sender: str = ""
    sender_qualifier: str = ""
    receiver: str = ""
    receiver_qualifier: str = ""
    version: str = ""  # ISA12 (00401, 00501) / UNB syntax identifier and version (UNOB:2)
    group_version: str = ""  # GS08 (004010, 005010...) of the first group
    test: bool = False  # ISA15 = T, UNB 0035 = 1
    prepared: tuple[str, str] = ("", "")  # ISA09/ISA10 or UNB date and time, echoed by a TA1
    sets: list[TransactionSet] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)  # interchange and group level
    groups: list[tuple[str, str, str, int]] = field(default_factory=list)  # (GS01, GS06, GS08, sets) per group

    @property
    def rejected(self) -> bool:
        """The envelope itself is unusable (TA1 / UCI rejected): nothing in it is used."""
        return any(defect.fatal for defect in self.defects)

    def all_defects(self) -> list[Defect]:
        """Every defect of the interchange and its sets, in file order."""
        found = [*self.defects, *(defect for item in self.sets for defect in item.defects)]
        return sorted(found, key=lambda defect: (defect.segment, defect.element or 0))

    def first_fatal(self) -> Defect | None:
        return next((defect for defect in self.all_defects() if defect.fatal), None)


class EnvelopeError(FeedError):
    """A file none of whose interchanges can be used; carries them so each can still be acknowledged."""

    def __init__(self, path: Path | str, location: str | None, reason: str, interchanges: list[Interchange]) -> None:
        super().__init__(path, location, reason)
        self.interchanges = interchanges

    def __reduce__(self):
        return (type(self), (self.path, self.location, self.reason, self.interchanges))


def refusal(path: Path, interchanges: list[Interchange]) -> EnvelopeError:
    """The error for a file whose every interchange is rejected: the first real defect first, then the others."""
    defects = [defect for interchange in interchanges for defect in interchange.all_defects() if defect.fatal]
    defects.sort(key=lambda defect: defect.segment)
    first = defects[0]
    reason = first.reason
    others = [f"segment {defect.segment}: {defect.reason}" for defect in defects[1:4]]
    if others:
        reason += f" (also {'; '.join(others)}{'; ...' if len(defects) > 4 else ''})"
    return EnvelopeError(path, first.located(), reason, interchanges)


TRUNCATED = "interchange is truncated: "
UNTERMINATED = TRUNCATED + "last segment"


@dataclass(frozen=True)
class Truncation:
    """How one standard reports an interchange cut short: what each level still open lacks, with its codes.

    ``codes`` are those of an open set or message, an open group and the interchange (X12: AK5, AK9 and TA1 codes;
    EDIFACT: 0085). X12 names an open group by its control number; EDIFACT says "functional group".
    """

    standard: str  # x12 | edifact
    set_noun: str
    set_trailer: str
    group_trailer: str
    interchange_trailer: str
    codes: tuple[str, str, str]
    names_group: bool

    def _coded(self, code: str) -> dict[str, str]:
        return {"x12_code": code} if self.standard == "x12" else {"edifact_code": code}

    def unterminated(self, segment: int, body: str, terminator: str) -> Defect:
        """The file ended inside a segment: its last one has no terminator."""
        reason = f"{UNTERMINATED} {body[:40]!r} has no terminator {terminator!r}"
        return Defect(INTERCHANGE, segment, reason, **self._coded(self.codes[2]))

    def close(
        self,
        interchange: Interchange,
        last_segment: int,
        open_set: TransactionSet | None,
        complete: Callable[[], None],
        group_open: bool,
        group_control: str = "",
    ) -> None:
        """The interchange ended without its trailer: the set or message still open lacks its trailer (and is
        closed with ``complete``), so does the open group, and the interchange its own, unless its last segment was
        already reported unterminated."""
        number = last_segment + 1
        set_code, group_code, interchange_code = self.codes
        if open_set is not None:
            reason = f"{TRUNCATED}{self.set_noun} {open_set.control} has no {self.set_trailer}"
            open_set.defects.append(Defect(SET, number, reason, self.set_trailer, **self._coded(set_code)))
            complete()
        defects = interchange.defects
        if group_open:
            group = f"group {group_control}" if self.names_group else "functional group"
            value = group_control if self.names_group else ""
            reason = f"{TRUNCATED}{group} has no {self.group_trailer}"
            defects.append(Defect(GROUP, number, reason, self.group_trailer, value=value, **self._coded(group_code)))
        if not any(defect.reason.startswith(UNTERMINATED) for defect in defects):
            reason = f"{TRUNCATED}no {self.interchange_trailer} trailer"
            defects.append(
                Defect(INTERCHANGE, number, reason, self.interchange_trailer, **self._coded(interchange_code))
            )


@dataclass
class QuantityAccount:
    """Every quantity element of a file, by where it went; sums are of the values as sent (before any conversion).

    ``unused`` maps a description ("846 QTY*34 (not mapped)") to (elements, sum); ``notes`` are things worth
    saying that are not quantities (a segment with more elements than the standard allows, a test interchange).
    """

    elements: int = 0
    total: float = 0.0
    loaded_elements: int = 0
    loaded: float = 0.0
    rejected_elements: int = 0
    rejected: float = 0.0
    unused: dict[str, tuple[int, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unmapped: dict[str, list[str]] = field(default_factory=dict)  # "846 QTY qualifiers" -> codes, in file order
    partner_id: str | None = None

    def seen(self, value: float | None) -> None:
        self.elements += 1
        self.total += _finite(value)

    def use(self, values: list[float | None]) -> None:
        self.loaded_elements += len(values)
        self.loaded += sum(_finite(value) for value in values)

    def reject(self, values: list[float | None]) -> None:
        self.rejected_elements += len(values)
        self.rejected += sum(_finite(value) for value in values)

    def leave(self, why: str, value: float | None) -> None:
        count, total = self.unused.get(why, (0, 0.0))
        self.unused[why] = (count + 1, total + _finite(value))

    def leave_unmapped(self, label: str, code: str, value: float | None) -> None:
        """A quantity whose code no mapping names (``label``: "846 QTY qualifiers", "852 ZA activity codes")."""
        codes = self.unmapped.setdefault(label, [])
        if code not in codes:
            codes.append(code)
        self.leave(f"{label.rstrip('s')} {code} not mapped", value)

    def unmapped_reason(self) -> str | None:
        """ "846 QTY qualifiers 34, QH, QB, 87 are not mapped for partner X", one clause per kind of code."""
        partner = f" for partner {self.partner_id}" if self.partner_id else ""
        clauses = [f"{label} {', '.join(codes)} are not mapped{partner}" for label, codes in self.unmapped.items()]
        return "; ".join(clauses) or None

    @property
    def unused_elements(self) -> int:
        return sum(count for count, _ in self.unused.values())

    @property
    def unused_total(self) -> float:
        return sum(total for _, total in self.unused.values())

    def unused_summary(self) -> str | None:
        """One line listing each unused kind with its count and sum, then the notes; None when nothing to say."""
        parts = [f"{why}: {count} × (sum {_number(total)})" for why, (count, total) in self.unused.items()]
        parts += self.notes
        return "; ".join(parts) or None

    def summary(self) -> str:
        text = (
            f"{self.elements} quantities (sum {_number(self.total)}): {self.loaded_elements} loaded "
            f"(sum {_number(self.loaded)}), {self.rejected_elements} rejected (sum {_number(self.rejected)}), "
            f"{self.unused_elements} unused (sum {_number(self.unused_total)})"
        )
        unused = self.unused_summary()
        return f"{text}; {unused}" if unused else text


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else 0.0


def _number(value: float) -> str:
    rounded = round(value, 6)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def parse_number(text: str) -> float | None:
    """An EDI quantity as a float (sign and decimal point allowed), None when it is not a finite number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
