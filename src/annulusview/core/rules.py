"""Rules: every threshold and region setting of the analysis, with its published source.

The defaults live in ``resources/rules/default.toml``. A user file holds only the keys it
changes; it is merged over the defaults and checked key by key, so a typo, a wrong type or a
value outside the range declared in :mod:`annulusview.core.rules_schema` (NaN, infinity, a zero
step size) is reported, naming the key, instead of making the numbers silently wrong.
"""

from __future__ import annotations

import copy
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from annulusview.core import rules_schema
from annulusview.core.errors import RulesError
from annulusview.core.flags import Evidence
from annulusview.core.resources import resource_path
from annulusview.core.rules_schema import CONTRAST_METHODS as CONTRAST_METHODS
from annulusview.core.rules_schema import RULES_SCHEMA as RULES_SCHEMA
from annulusview.core.textfile import read_small_text


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, eq=False)
class Rules:
    """A validated, read-only set of analysis rules.

    Attributes
    ----------
    data
        Nested read-only mapping, the same layout as ``default.toml``.
    source
        Where the values came from: ``"default"`` or ``"default + <user file>"``.
    """

    data: Mapping[str, Any] = field(default_factory=dict)
    source: str = "default"

    def get(self, dotted: str) -> Any:
        """The value at a dotted key, e.g. ``"regions.radial_margin_mm"``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(dotted)
            node = node[part]
        return node

    def number(self, dotted: str) -> float:
        """A numeric value as float."""
        return float(self.get(dotted))

    def evidence(self, table: str) -> Evidence:
        """The ``[<table>.evidence]`` of a rule: its source, population, device, endpoint."""
        return Evidence.from_mapping(self.get(f"{table}.evidence"))

    def to_dict(self) -> dict[str, Any]:
        """A plain (JSON-ready) deep copy, recorded in every result as ``parameters.rules``."""
        out: dict[str, Any] = _thaw(self.data)
        return out


def _check_type(key: str, default: Any, value: Any, source: str) -> None:
    def is_number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if key in rules_schema.NUMBER_OR_CHOICE and (is_number(value) or isinstance(value, str)):
        return
    if is_number(default):
        ok = is_number(value)
        expected = "a number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        expected = "a string"
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
        expected = "true or false"
    elif isinstance(default, list):
        ok = (
            isinstance(value, list)
            and len(value) == len(default)
            and all(is_number(v) for v in value)
        )
        expected = f"a list of {len(default)} numbers"
    else:  # pragma: no cover - the defaults only hold the types above
        ok, expected = True, ""
    if not ok:
        raise RulesError(
            f"Rules key {key!r} must be {expected}, got {rules_schema.shown(value)} in {source}.",
            "Fix the value or remove the key to use the default.",
        )


def _merge(
    defaults: dict[str, Any], user: Mapping[str, Any], source: str, prefix: str = ""
) -> None:
    for name, value in user.items():
        key = f"{prefix}{name}"
        if name not in defaults:
            raise RulesError(
                f"Unknown rules key {key!r} in {source}.",
                "Check the spelling against resources/rules/default.toml.",
            )
        current = defaults[name]
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise RulesError(
                    f"Rules key {key!r} must be a table ([{key}]), got "
                    f"{rules_schema.shown(value)} in {source}."
                )
            _merge(current, value, source, prefix=f"{key}.")
        else:
            if isinstance(value, Mapping):
                raise RulesError(f"Rules key {key!r} must be a value, not a table, in {source}.")
            _check_type(key, current, value, source)
            rules_schema.check_value(key, value, source)
            defaults[name] = value


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse a rules file; every failure is a :class:`RulesError` naming the file."""
    text = read_small_text(path, "rules file", error=RulesError)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise RulesError(
            f"The rules file {path} is nested too deeply to be a rules file."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"The rules file {path} is not valid TOML: {exc}.") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        what = str(exc).split(";")[0]  # drop Python's advice to raise the digit limit
        raise RulesError(
            f"The rules file {path} holds a value that cannot be read: {what}."
        ) from None


def load_rules(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Rules:
    """Load the default rules, with an optional user file and overrides merged over them.

    Parameters
    ----------
    path
        A TOML file holding only the keys to change (same tables as ``default.toml``).
    overrides
        Nested keys to change after the file, e.g. ``{"regions": {"radial_margin_mm": 4}}``
        (the window's settings); checked exactly like a file.

    Raises
    ------
    RulesError
        The file is missing, not a regular file, too large or not TOML; it holds an unknown
        key, a value of the wrong type or outside its declared range (NaN and infinity
        included), or two keys out of order. The message names the key.
    """
    data = _read_toml(resource_path("rules", "default.toml"))
    changed_by: list[str] = []
    if path is not None:
        user_path = Path(path).expanduser()
        user = _read_toml(user_path)
        schema = user.pop("schema", RULES_SCHEMA)
        if schema != RULES_SCHEMA:
            raise RulesError(
                f"Rules file {user_path} has schema {rules_schema.shown(schema)}.",
                f"Expected {RULES_SCHEMA!r}.",
            )
        _merge(data, user, str(user_path))
        changed_by.append(str(user_path))
    if overrides:
        _merge(data, overrides, "the settings")
        changed_by.append("settings")
    rules_schema.validate(data, " + ".join(changed_by))
    return Rules(_freeze(copy.deepcopy(data)), " + ".join(["default", *changed_by]))


@functools.cache
def default_rules() -> Rules:
    """The shipped rules (read once per process; :class:`Rules` is read-only)."""
    return load_rules()


def coerce_rules(rules: Rules | str | Path | None) -> Rules:
    """Accept a :class:`Rules`, a path to a user file, or None (the defaults)."""
    if isinstance(rules, Rules):
        return rules
    return load_rules(rules)
