"""Group frames into stacks: by SeriesInstanceUID, then split where one UID holds several.

A UID is split by image orientation, image size (Rows/Columns), pixel spacing and the enhanced
StackID; then by cardiac phase: TemporalPositionIdentifier / TemporalPositionIndex or
NominalPercentageOfCardiacPhase always split, TriggerTime splits only when the series has
several images at one position and the trigger times tell them apart (many gated scanners write
a slightly different TriggerTime on every slice of a single phase).

Split stacks are named ``UID#1``, ``UID#2``... in a stable order. A stack of a single image
beside larger stacks is taken for a scout and left out. The default series is the stack with
the most images (ties: more pixels per image, then lower SeriesNumber, then id).

Each stack's cardiac phase in percent R-R is read as the scan block reads it
(:func:`annulusview.core.scan_quality.cardiac_phase`: NominalPercentageOfCardiacPhase shared by
its images, else one percentage in SeriesDescription). The phases of one reconstruction (same
study, frame of reference, image count and image size: a multi-phase study writes one series
per phase) are listed together in percent order, where the first of them ranks; they tie in the
ranking, so the default is still a stack with the most images, the lowest phase of the tie.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from annulusview.core.io.geometry import DUPLICATE_TOLERANCE_MM, StackPlan, plan_stack
from annulusview.core.io.headers import FrameHeader
from annulusview.core.io.types import SeriesSummary, SkippedFile
from annulusview.core.scan_quality import cardiac_phase

#: NominalPercentageOfCardiacPhase is a 32-bit float (100/3 % is stored as 33.33333206): the
#: percent is rounded to this many decimals, below any phase a scanner reconstructs.
PHASE_DECIMALS = 4


def nominal_phase_pct(frames: Sequence[FrameHeader]) -> float | None:
    """NominalPercentageOfCardiacPhase shared by ``frames``, else None (never guessed)."""
    values = {
        round(float(f.phase[1]), PHASE_DECIMALS)
        for f in frames
        if len(f.phase) > 1 and f.phase[1] is not None
    }
    return values.pop() if len(values) == 1 else None


@dataclass(frozen=True, eq=False)
class Stack:
    """One loadable stack: its id, the frames and how to build the volume."""

    id: str
    series_uid: str
    description: str
    plan: StackPlan

    @property
    def series_number(self) -> int | None:
        value = self.plan.frames[0].meta.get("series_number")
        return value if isinstance(value, int) else None

    @cached_property
    def phase(self) -> tuple[float | None, str | None]:
        """Cardiac phase, percent R-R, and its source (``"header"``, ``"description"``, None)."""
        description = str(self.plan.frames[0].meta.get("series_description", ""))
        return cardiac_phase(nominal_phase_pct(self.plan.frames), description)

    def summary(self) -> SeriesSummary:
        meta = self.plan.frames[0].meta
        phase_pct, phase_source = self.phase
        return SeriesSummary(
            id=self.id,
            series_instance_uid=self.series_uid,
            description=self.description,
            modality="CT",
            num_images=len(self.plan.frames),
            shape=self.plan.shape,
            spacing_mm=self.plan.spacing_mm,
            affine=self.plan.affine,
            contrast=meta.get("contrast_agent"),
            warnings=self.plan.warnings,
            series_number=self.series_number,
            slice_thickness_mm=self.plan.frames[0].slice_thickness,
            cardiac_phase=_phase_text(self.plan.frames),
            cardiac_phase_pct=phase_pct,
            cardiac_phase_source=phase_source,
        )


def _phase_text(frames: Sequence[FrameHeader]) -> str | None:
    """The stack's cardiac phase in words, from the first frame that names one."""
    for f in frames:
        temporal, nominal = (*f.phase, None, None)[:2]
        if nominal is not None:
            return f"{nominal:g}%"
        if temporal is not None:
            return f"temporal position {temporal}"
    trigger = frames[0].trigger_time
    return None if trigger is None else f"trigger {trigger:g} ms"


def _geometry_key(f: FrameHeader) -> tuple[Any, ...]:
    return (
        tuple(round(v, 3) for v in f.orientation),
        f.rows,
        f.columns,
        tuple(round(v, 4) for v in f.pixel_spacing),
        f.stack_id,
    )


def _has_duplicates(frames: Sequence[FrameHeader]) -> bool:
    first = frames[0]
    normal = np.cross(first.orientation[:3], first.orientation[3:])
    d = np.sort(np.array([f.position for f in frames]) @ normal)
    return bool(np.any(np.diff(d) < DUPLICATE_TOLERANCE_MM))


def _split_phases(frames: list[FrameHeader]) -> list[tuple[str, list[FrameHeader]]]:
    """Split one geometry group by cardiac phase; returns (label, frames) pairs."""
    by_phase: dict[tuple[Any, ...], list[FrameHeader]] = defaultdict(list)
    for f in frames:
        by_phase[f.phase].append(f)
    if len(by_phase) > 1:
        out = []
        for key in sorted(by_phase, key=lambda k: tuple((v is None, v or 0) for v in k)):
            temporal, nominal = key
            label = (
                f"phase {nominal:g}%" if nominal is not None else f"temporal position {temporal}"
            )
            out.append((label, by_phase[key]))
        return out
    if len(frames) > 1 and _has_duplicates(frames):
        by_trigger: dict[float | None, list[FrameHeader]] = defaultdict(list)
        for f in frames:
            by_trigger[f.trigger_time].append(f)
        if 1 < len(by_trigger) <= len(frames) // 2 and all(len(v) > 1 for v in by_trigger.values()):
            return [
                (f"trigger time {t:g} ms" if t is not None else "no trigger time", by_trigger[t])
                for t in sorted(by_trigger, key=lambda t: (t is None, t or 0.0))
            ]
    return [("", frames)]


def build_stacks(frames: Sequence[FrameHeader]) -> tuple[list[Stack], list[SkippedFile]]:
    """Group frames into stacks, default stack first.

    Returns
    -------
    stacks, skipped
        Loadable stacks (default first) and files left out at this stage (scouts, duplicates).
    """
    by_uid: dict[str, list[FrameHeader]] = defaultdict(list)
    for f in frames:
        by_uid[f.series_uid].append(f)

    candidates: list[tuple[str, str, str, list[FrameHeader]]] = []  # uid, label, desc, frames
    for uid, uid_frames in by_uid.items():
        by_geometry: dict[tuple[Any, ...], list[FrameHeader]] = defaultdict(list)
        keys: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # raw values -> rounded key
        for f in uid_frames:
            raw = (f.orientation, f.rows, f.columns, f.pixel_spacing, f.stack_id)
            key = keys.get(raw)
            if key is None:
                key = keys[raw] = _geometry_key(f)
            by_geometry[key].append(f)
        parts: list[tuple[str, list[FrameHeader]]] = []
        geometry_keys = sorted(by_geometry, key=lambda k: (-len(by_geometry[k]), repr(k)))
        for g, key in enumerate(geometry_keys):
            for label, part in _split_phases(by_geometry[key]):
                if len(geometry_keys) > 1:
                    glabel = f"{key[1]}x{key[2]} stack {g + 1}"
                    label = f"{glabel}, {label}" if label else glabel
                parts.append((label, part))
        desc = str(uid_frames[0].meta.get("series_description", ""))
        for label, part in parts:
            candidates.append((uid, label, desc, part))

    skipped: list[SkippedFile] = []
    largest = max((len(c[3]) for c in candidates), default=0)
    kept = []
    for cand in candidates:
        if len(cand[3]) == 1 and cand[3][0].n_frames == 1 and largest > 1:
            skipped.append(
                SkippedFile(cand[3][0].source.display, "single image beside larger series (scout?)")
            )
        else:
            kept.append(cand)

    counts: dict[str, int] = defaultdict(int)
    for uid, *_ in kept:
        counts[uid] += 1
    numbering: dict[str, int] = defaultdict(int)
    stacks: list[Stack] = []
    for uid, label, desc, part in kept:
        base = uid or "no-series-uid"
        if counts[uid] > 1:
            numbering[uid] += 1
            stack_id = f"{base}#{numbering[uid]}"
        else:
            stack_id = base
        description = f"{desc} ({label})" if label and desc else (desc or label)
        plan = plan_stack(part)
        for frame, reason in plan.dropped:
            skipped.append(SkippedFile(frame.source.display, reason))
        stacks.append(Stack(stack_id, uid, description, plan))

    def rank(s: Stack) -> tuple[Any, ...]:
        # Ties on image count go to the larger image (a cropped or reduced copy of the same
        # acquisition has fewer pixels), then the lower SeriesNumber.
        num = s.series_number
        pixels = int(s.plan.shape[1]) * int(s.plan.shape[2])
        return (-len(s.plan.frames), -pixels, num is None, num or 0, s.id)

    stacks.sort(key=rank)
    return _phases_in_order(stacks), skipped


def _phases_in_order(ranked: list[Stack]) -> list[Stack]:
    """``ranked`` with the phases of each reconstruction together, in percent order, at the
    place of the first of them (stacks of unknown phase keep their place)."""

    def reconstruction(s: Stack) -> tuple[Any, ...]:
        meta = s.plan.frames[0].meta
        return (
            meta.get("study_instance_uid", ""),
            meta.get("frame_of_reference_uid", ""),
            len(s.plan.frames),  # the ranking's keys: members tie, so the default stays a
            int(s.plan.shape[1]),  # stack with the most images and the most pixels
            int(s.plan.shape[2]),
        )

    groups: dict[tuple[Any, ...], list[Stack]] = defaultdict(list)
    for s in ranked:
        if s.phase[0] is not None:
            groups[reconstruction(s)].append(s)
    out: list[Stack] = []
    placed: set[tuple[Any, ...]] = set()
    for s in ranked:
        if s.phase[0] is None:
            out.append(s)
            continue
        key = reconstruction(s)
        if key not in placed:
            placed.add(key)
            out.extend(sorted(groups[key], key=lambda t: t.phase[0] or 0.0))  # stable sort
    return out


def select_stack(stacks: Sequence[Stack], series: str | None) -> Stack | None:
    """The stack ``series`` names (a stack id, or a UID: its largest stack), or the default.

    Returns None when ``series`` matches nothing.
    """
    if not stacks:
        return None
    if series is None:
        return stacks[0]
    wanted = series.strip()
    for s in stacks:
        if s.id == wanted:
            return s
    for s in stacks:  # already sorted largest first
        if s.series_uid == wanted:
            return s
    return None
