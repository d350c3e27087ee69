"""Typed errors that carry a user-facing message and a hint.

``core`` raises these and never shows anything; the app turns them into one dialog
and the command line into one stderr line with exit code 3.
"""

from __future__ import annotations


class AnnulusViewError(Exception):
    """Base class for every error the program reports to a user.

    Parameters
    ----------
    message
        What is wrong, in plain words.
    hint
        What the user can do about it.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.user_text())

    def user_text(self) -> str:
        """One line: the message, then the hint when there is one."""
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class InputError(AnnulusViewError):
    """The input (study, landmark file, rules file, option) cannot be used."""


class NoSeriesError(InputError):
    """No usable CT series was found at the given path."""


class SeriesNotFoundError(InputError):
    """A series UID was asked for that the study does not hold."""


class LandmarkError(InputError):
    """A landmark file is unreadable, or required landmarks are missing or degenerate."""


class RulesError(InputError):
    """A rules file is unreadable or holds invalid values."""


class OutputError(AnnulusViewError):
    """An output cannot be written (folder not writable, file exists, disk full)."""


class Cancelled(AnnulusViewError):
    """The user cancelled a long-running step."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)
