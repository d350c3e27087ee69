"""Rules: every threshold and region setting of the analysis, with its published source.

The defaults live in ``resources/rules/default.toml``. A user file holds only the keys it
changes; it is merged over the defaults and checked key by key, so a typo or a wrong type is
reported (naming the key) instead of silently falling back to a default.
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

from annulusview.core.errors import RulesError
from annulusview.core.flags import Evidence
from annulusview.core.resources import resource_path

RULES_SCHEMA = "annulusview.rules/2"
CONTRAST_METHODS = ("lumen_plus_100", "fixed_850", "by_lumen_450_850")

# Keys whose value may be a number although the default is a string (a user HU threshold).
_NUMBER_OR_STRING = frozenset({"threshold.contrast_method"})


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


def _check_type(key: str, default: Any, value: Any) -> None:
    def is_number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if key in _NUMBER_OR_STRING and (is_number(value) or isinstance(value, str)):
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
            f"Rules key {key!r} must be {expected}, got {value!r}.",
            "Fix the value or remove the key to use the default.",
        )


def _merge(defaults: dict[str, Any], user: Mapping[str, Any], prefix: str = "") -> None:
    for name, value in user.items():
        key = f"{prefix}{name}"
        if name not in defaults:
            raise RulesError(
                f"Unknown rules key {key!r}.",
                "Check the spelling against resources/rules/default.toml.",
            )
        current = defaults[name]
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise RulesError(f"Rules key {key!r} must be a table ([{key}]), got {value!r}.")
            _merge(current, value, prefix=f"{key}.")
        else:
            if isinstance(value, Mapping):
                raise RulesError(f"Rules key {key!r} must be a value, not a table.")
            _check_type(key, current, value)
            defaults[name] = value


def _validate(data: Mapping[str, Any]) -> None:
    method = data["threshold"]["contrast_method"]
    if isinstance(method, str) and method not in CONTRAST_METHODS:
        raise RulesError(
            f"Rules key 'threshold.contrast_method' is {method!r}.",
            f"Use one of {', '.join(CONTRAST_METHODS)} or a HU value.",
        )
    regions = data["regions"]
    if not regions["leaflet_h_max_mm"] > regions["leaflet_h_min_mm"] >= 0:
        raise RulesError("Rules keys 'regions.leaflet_h_*' must satisfy 0 <= min < max.")
    if not regions["lvot_h_min_mm"] < -regions["annulus_half_height_mm"]:
        raise RulesError("Rules key 'regions.lvot_h_min_mm' must lie below the annulus band.")
    for key in ("radial_margin_mm", "h_max_mm"):
        if data["analysis_region"][key] <= 0:
            raise RulesError(f"Rules key 'analysis_region.{key}' must be positive.")
    if data["threshold"]["min_lesion_mm3"] < 0:
        raise RulesError("Rules key 'threshold.min_lesion_mm3' must not be negative.")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise RulesError(f"Rules file {path} does not exist.", "Check the path.") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"Rules file {path} is not valid TOML: {exc}.") from None


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
        The file is missing or not TOML, holds an unknown key, a value of the wrong type, or
        an inconsistent setting. The message names the key.
    """
    data = _read_toml(resource_path("rules", "default.toml"))
    source = "default"
    if path is not None:
        user_path = Path(path).expanduser()
        user = _read_toml(user_path)
        schema = user.pop("schema", RULES_SCHEMA)
        if schema != RULES_SCHEMA:
            raise RulesError(
                f"Rules file {user_path} has schema {schema!r}.", f"Expected {RULES_SCHEMA!r}."
            )
        _merge(data, user)
        source = f"default + {user_path}"
    if overrides:
        _merge(data, overrides)
        source = f"{source} + settings"
    _validate(data)
    return Rules(_freeze(copy.deepcopy(data)), source)


@functools.cache
def default_rules() -> Rules:
    """The shipped rules (read once per process; :class:`Rules` is read-only)."""
    return load_rules()


def coerce_rules(rules: Rules | str | Path | None) -> Rules:
    """Accept a :class:`Rules`, a path to a user file, or None (the defaults)."""
    if isinstance(rules, Rules):
        return rules
    return load_rules(rules)
