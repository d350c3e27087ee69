"""The outcome of a rule: :class:`Flag` and its levels (clinical-model.md section 7).

Shared by the aortic and the mitral rules.
"""

from __future__ import annotations

from dataclasses import dataclass

LOW, MODERATE, HIGH, NOT_ASSESSED = "low", "moderate", "high", "not_assessed"
RAISED_LEVELS = frozenset({MODERATE, HIGH})


@dataclass(frozen=True)
class Flag:
    """One risk rule's outcome.

    Attributes
    ----------
    id
        Rule id, e.g. ``"pvl.lvot_calcium"``.
    level
        ``low``, ``moderate``, ``high`` or ``not_assessed``.
    value
        The measured value the rule looked at (units in ``unit``), None when not assessed.
    threshold
        The threshold that decided the level (for ``low``: the lowest raising threshold).
    message
        One plain sentence.
    reference
        Published source, from the rules file.
    unit
        Unit of ``value`` and ``threshold``.
    reason
        Why the rule was not assessed (empty otherwise).
    """

    id: str
    level: str
    value: float | None
    threshold: float | None
    message: str
    reference: str
    unit: str = ""
    reason: str = ""

    @property
    def raised(self) -> bool:
        """True for ``moderate`` and ``high``."""
        return self.level in RAISED_LEVELS

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "level": self.level,
            "raised": self.raised,
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "message": self.message,
            "reference": self.reference,
            "reason": self.reason or None,
        }
