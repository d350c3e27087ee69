"""The outcome of a rule (clinical-model.md section 7): :class:`Flag` with its :class:`Evidence`.

Shared by the aortic and the mitral rules. A flag says what the published criterion found:

* ``met``: the criterion holds; ``level`` (``moderate`` or ``high``) says how strong the
  evidence behind it is;
* ``not_met``: assessed, the criterion does not hold. This is *not* "low risk": it is shown
  grey, never green;
* ``indeterminate``: assessed, but the value lies where the evidence does not decide (a grey
  zone, a technique the thresholds were not validated on);
* ``not_assessed``: an input is missing or the case lies outside the evidence's population
  (``reason`` says which).

A rule whose source was not checked against its abstract or text (``evidence.verified`` false)
can never be ``high``: :func:`met` caps it at ``moderate`` and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MET, NOT_MET, INDETERMINATE, NOT_ASSESSED = "met", "not_met", "indeterminate", "not_assessed"
STATUSES = (MET, NOT_MET, INDETERMINATE, NOT_ASSESSED)
MODERATE, HIGH = "moderate", "high"
LEVELS = (MODERATE, HIGH)
RAISED_LEVELS = frozenset(LEVELS)


@dataclass(frozen=True)
class Evidence:
    """Where a rule comes from, as read in its source (kept next to the threshold in the
    rules file).

    Attributes
    ----------
    reference
        Authors, title or short form, journal, year.
    population, device, endpoint, effect
        Who was studied (n, setting), with which valves, for which outcome, and what was found.
    applies_to
        Where the rule may be used (valve types, contrast...); outside it the rule says
        ``not_assessed``.
    verified
        True only when the citation was checked against the source's abstract or text.
    note
        What the source does not support, or how the rule departs from it.
    """

    reference: str
    population: str = ""
    device: str = ""
    endpoint: str = ""
    effect: str = ""
    applies_to: str = ""
    verified: bool = False
    note: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Evidence:
        """From a rules-file table (``[flags.X.evidence]``)."""
        return cls(
            reference=str(data.get("reference", "")),
            population=str(data.get("population", "")),
            device=str(data.get("device", "")),
            endpoint=str(data.get("endpoint", "")),
            effect=str(data.get("effect", "")),
            applies_to=str(data.get("applies_to", "")),
            verified=bool(data.get("verified", False)),
            note=str(data.get("note", "")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "population": self.population,
            "device": self.device,
            "endpoint": self.endpoint,
            "effect": self.effect,
            "applies_to": self.applies_to,
            "verified": self.verified,
            "note": self.note,
        }


@dataclass(frozen=True)
class Flag:
    """One rule's outcome.

    Attributes
    ----------
    id
        Rule id, e.g. ``"pvl.lvot_calcium"``.
    status
        ``met``, ``not_met``, ``indeterminate`` or ``not_assessed``.
    level
        ``moderate`` or ``high`` when met, else None (``mitral.mac_score`` is a descriptor:
        met with level None).
    value
        The measured value the rule looked at (units in ``unit``), None when not assessed.
    threshold
        The threshold that decided the status.
    message
        One plain sentence: "criterion met / not met" and the effect, not "high risk of".
    evidence
        The source, population, device, endpoint and effect.
    unit
        Unit of ``value`` and ``threshold``.
    reason
        Why the rule was not assessed or is indeterminate (empty otherwise).
    inputs_unconfirmed
        Proposed (unconfirmed) landmarks or estimated angles the rule used.
    """

    id: str
    status: str
    level: str | None
    value: float | None
    threshold: float | None
    message: str
    evidence: Evidence
    unit: str = ""
    reason: str = ""
    inputs_unconfirmed: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"flag {self.id}: unknown status {self.status!r}")
        if self.level is not None and (self.status != MET or self.level not in LEVELS):
            raise ValueError(f"flag {self.id}: level {self.level!r} with status {self.status}")
        if self.level == HIGH and not self.evidence.verified:
            raise ValueError(f"flag {self.id}: an unverified source can never be high")

    @property
    def raised(self) -> bool:
        """True when the criterion is met at level moderate or high."""
        return self.status == MET and self.level in RAISED_LEVELS

    @property
    def reference(self) -> str:
        return self.evidence.reference

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "level": self.level,
            "raised": self.raised,
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "message": self.message,
            "reference": self.reference,
            "evidence": self.evidence.to_dict(),
            "reason": self.reason or None,
            "inputs_unconfirmed": list(self.inputs_unconfirmed),
        }


def met(
    rule_id: str,
    level: str | None,
    value: float | None,
    threshold: float | None,
    message: str,
    evidence: Evidence,
    unit: str = "",
) -> Flag:
    """A met criterion; ``high`` on an unverified source is capped at ``moderate`` (said)."""
    if level == HIGH and not evidence.verified:
        level = MODERATE
        message += " (Level capped at moderate: the source was not verified.)"
    return Flag(rule_id, MET, level, value, threshold, message, evidence, unit)


def not_met(
    rule_id: str,
    value: float | None,
    threshold: float | None,
    message: str,
    evidence: Evidence,
    unit: str = "",
) -> Flag:
    """Assessed; the criterion does not hold."""
    return Flag(rule_id, NOT_MET, None, value, threshold, message, evidence, unit)


def indeterminate(
    rule_id: str,
    value: float | None,
    threshold: float | None,
    reason: str,
    evidence: Evidence,
    unit: str = "",
) -> Flag:
    """Assessed, but where the evidence does not decide; ``reason`` says why."""
    return Flag(
        rule_id, INDETERMINATE, None, value, threshold, f"Indeterminate: {reason}", evidence,
        unit, reason,
    )  # fmt: skip


def not_assessed(rule_id: str, reason: str, evidence: Evidence, unit: str = "") -> Flag:
    """Not assessed: an input is missing or the case lies outside the evidence."""
    return Flag(
        rule_id, NOT_ASSESSED, None, None, None, f"Not assessed: {reason}", evidence, unit, reason
    )
