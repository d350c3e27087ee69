"""Proposed aortic landmarks on a contrast CTA, by classical image analysis (no model weights).

Steps: the blood pool from the histogram (refuse non-contrast, empty or tiny volumes), the
ascending aorta as a round lumen in the upper slices, a centreline tracked down through the
root into the LVOT, then a straight-axis analysis of the root: cross-sections perpendicular to
the root axis give the polar radius profile ``r(h, theta)``; its three-fold harmonic is the
sinus signature. The valve must be open: closed leaflets cross the root axis as a thin tissue
septum and are refused, because the ring is read from the lumen. The sinus onset below the
sinus fixes the basal ring, the three lobes give the cusp angles, rays that escape the sinus
far beyond its wall are the coronary ostia, and the cusps are named from the coronaries and
the handedness of the root.

Only the aortic root landmarks are proposed: the membranous septum (``MS_*``) and the mitral
landmarks stay manual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from annulusview.core.aortic.centreline import (
    Station,
    find_ascending_candidates,
    track_centreline,
)
from annulusview.core.aortic.closed_valve import ClosedRing, closed_valve_ring
from annulusview.core.aortic.root_lumen import (
    SOFT_TISSUE_HU,
    BloodPool,
    blood_pool,
    check_volume,
    ellipse_fit,
    ellipse_perimeter,
    in_plane_basis,
    outer_envelope,
)
from annulusview.core.aortic.root_profile import (
    ANGLES,
    H_STEP_MM,
    MANUAL_HINT,
    RAYS,
    RootProfile,
    find_lobes,
    find_ostia,
    fit_axis,
    harmonic,
    leaflets_across_axis,
    sample_profile,
    sinus_onset,
)
from annulusview.core.arrays import FloatArray
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks
from annulusview.core.progress import CancelToken, ProgressCallback, check, report
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume

#: The hinge nadirs lie this far below the level where the sinus wall starts to bulge
#: (the leaflet attachment dips below the visible onset of the sinus).
NADIR_BELOW_SINUS_ONSET_MM = 1.5
#: Smallest three-lobe amplitude (mm) that counts as sinuses of Valsalva.
MIN_LOBE_AMPLITUDE_MM = 0.8
#: What to do when the valve is closed in the phase at hand.
CLOSED_VALVE_HINT = "Open a systolic phase (valve open), or place the landmarks by hand."
#: A closed valve's hinges are read from its cups (closed_valve.py): at most this confident,
#: because annulus sizing belongs to a systolic phase (SCCT 2019) and the cups' bottoms
#: place the ring within about a voxel.
CLOSED_VALVE_CONFIDENCE = 0.6
CLOSED_VALVE_REASON = (
    "valve closed in this phase: hinge read from the closed cusp; size the annulus on a "
    "systolic phase"
)
#: A closed valve's ring section is read this far below the cups' bottoms (mm), clear of
#: the leaflets that the plane of the bottoms crosses.
CLOSED_RING_READ_BELOW_MM = 1.5
#: The closed leaflets' crossing of the ring's axis (their coaptation) is looked for up to
#: this height (mm); ostia are looked for only above it, or above this height if none is found.
COAPTATION_SEARCH_MM = 14.0
#: Closed leaflets are probed along the axis and along four lines this far off it (mm).
CLOSED_PROBE_MM = 3.0
#: The LVOT is looked for this far below where the closed leaflets cross the axis (mm).
LVOT_BELOW_LEAFLETS_MM = 10.0


@dataclass(frozen=True, eq=False)
class ProposedLandmarks:
    """Landmarks proposed by :func:`propose_landmarks`, each with a confidence.

    Attributes
    ----------
    landmarks
        The proposed points (LPS mm), all marked ``proposed``.
    confidence
        Name -> confidence in [0, 1].
    reasons
        Name -> why the confidence is low (only for points below 0.7).
    centreline
        The tracked centreline from the ascending aorta into the LVOT, ``(N, 3)`` LPS mm.
    blood_hu
        Attenuation of the contrast blood pool used for the lumen (HU).
    """

    landmarks: Landmarks
    confidence: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)
    centreline: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    blood_hu: float = 0.0


def _about(profile: RootProfile, centre: FloatArray, point: FloatArray) -> float:
    """Angle (rad) of ``point`` about the root axis through ``centre``, in the profile's
    in-plane basis (the angle of its rays)."""
    rel = point - centre
    return math.atan2(float(rel @ profile.e2), float(rel @ profile.e1)) % (2 * math.pi)


def _closed_leaflets(
    volume: Volume, pool: BloodPool, origin: FloatArray, normal: FloatArray
) -> float | None:
    """Where closed leaflets cross the root (mm along ``normal`` from ``origin``), or None.

    Closed leaflets span the whole lumen, so every line along the root crosses them: the axis
    and four lines parallel to it ``CLOSED_PROBE_MM`` off it are probed, so that an axis a
    little off the true one (a noisy or thick-sliced scan) still finds them. An open valve's
    leaflets lie along the wall, far from these lines.
    """
    e1, e2 = in_plane_basis(normal)
    for offset in (np.zeros(3), e1, -e1, e2, -e2):
        found = leaflets_across_axis(volume, pool, origin + CLOSED_PROBE_MM * offset, normal)
        if found is not None:
            return found
    return None


def _angle_gap(a: float, b: float) -> float:
    d = (a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)


def propose_landmarks(
    volume: Volume,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    rules: Rules | None = None,
) -> ProposedLandmarks:
    """Propose the aortic root landmarks on a contrast CTA.

    Proposes the three hinge points (cusp nadirs on the basal ring), the three commissures and
    the two coronary ostia, each with a confidence in [0, 1] and a reason when it is low. The
    membranous septum (``MS_inferior``, ``MS_superior``) and the mitral landmarks are not
    proposed: they stay manual.

    Parameters
    ----------
    volume
        A contrast-enhanced CT angiogram holding the ascending aorta, the root and the LVOT.
    progress
        Optional ``(fraction, text)`` callback.
    cancel
        Optional token; :class:`~annulusview.core.errors.Cancelled` is raised when it is set.
    rules
        Rules (the contrast thresholds); the shipped defaults when None.

    Returns
    -------
    ProposedLandmarks
        The landmarks (every point in ``Landmarks.proposed``) with confidences and reasons.

    Raises
    ------
    InputError
        An empty, tiny or non-contrast volume; no ascending aorta; a root outside the field of
        view; a closed valve (a diastolic phase); a bicuspid-looking root (two lobes); or no
        confident answer. Never a silent guess.
    """
    rules = coerce_rules(rules)
    report(progress, 0.0, "Checking the volume")
    check_volume(volume)
    pool = blood_pool(volume, rules)
    report(progress, 0.1, "Finding the ascending aorta")
    candidates = find_ascending_candidates(volume, pool)
    if not candidates:
        raise InputError(
            "No round contrast-filled lumen 20-45 mm across was found in the upper slices: the "
            "ascending aorta is not in the field of view or not opacified.",
            MANUAL_HINT,
        )
    failures: list[InputError] = []
    for number, candidate in enumerate(candidates[:3]):
        check(cancel)
        report(progress, 0.2 + 0.1 * number, "Tracking the centreline")
        stations = track_centreline(
            volume, pool, candidate.top, candidate.direction_down, cancel=cancel
        )
        try:
            return _propose_on(volume, pool, stations, progress, cancel)
        except InputError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise InputError(failures[0].message, failures[0].hint or MANUAL_HINT)
    raise InputError(
        "No aortic root was found along any ascending-aorta candidate: "
        + "; ".join(f.message for f in failures),
        MANUAL_HINT,
    )


def _propose_on(
    volume: Volume,
    pool: BloodPool,
    stations: list[Station],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> ProposedLandmarks:
    """The proposal along one tracked centreline (raises :class:`InputError` when no root
    is found on it)."""
    if len(stations) < 30:
        raise InputError(
            "The lumen below the ascending aorta could not be followed far enough to reach the "
            "aortic root: the root is outside the field of view or not opacified.",
            MANUAL_HINT,
        )
    arcs = np.array([s.arc_mm for s in stations])
    centres = np.array([s.centre for s in stations])
    radius = np.array([s.median_radius_mm for s in stations])
    search = (arcs >= 10.0) & (arcs <= arcs[-1] - 12.0)
    if not search.any():
        raise InputError(
            "The centreline is too short to hold a root above 12 mm of LVOT: the LVOT (and so "
            "the annulus) is outside the field of view or not opacified.",
            MANUAL_HINT,
        )
    # Coarse root: the widest section (the sinus bulge) with 12 mm of lumen below it.
    widths = np.convolve(radius, np.ones(5) / 5, mode="same")
    peak = int(np.flatnonzero(search)[np.argmax(widths[search])])
    normal = -stations[peak].direction  # from the ventricle toward the aorta
    origin = centres[peak]
    report(progress, 0.5, "Finding the root axis")
    # Root axis: re-centred sections from the LVOT to the upper sinus, a line through their
    # centres, repeated so that the sections end perpendicular to the axis they find.
    axis_heights = np.arange(-14.0, 8.0 + 1e-9, 1.0)
    for _ in range(3):
        profile = sample_profile(volume, pool, origin, normal, axis_heights, cancel)
        size = np.median(profile.smooth, axis=1)
        typical = float(np.median(size))
        valid = (size > 0.6 * typical) & (size < 1.4 * typical)  # not lost, not in a chamber
        if np.count_nonzero(valid) < 8:
            break
        fitted = fit_axis(profile.centres[valid], normal)
        if fitted @ normal < math.cos(math.radians(15.0)):
            break  # a jump, not a refinement: keep the axis found so far
        mid = profile.centres[valid].mean(axis=0)
        origin = mid + float((origin - mid) @ fitted) * fitted
        normal = fitted
    # The straight-axis reading of the basal ring needs an open valve: closed leaflets split
    # the root lumen into three pockets at the very level the ring is read from.
    # With a closed valve the ring is read from its three cups instead (closed_valve.py).
    septum = _closed_leaflets(volume, pool, origin, normal)
    closed: ClosedRing | None = None
    if septum is not None:
        reading = closed_valve_ring(
            volume,
            pool.blood_hu,
            SOFT_TISSUE_HU,
            origin,
            normal,
            origin + (septum - LVOT_BELOW_LEAFLETS_MM) * normal,
        )
        if isinstance(reading, str):
            raise InputError(
                "The aortic valve is closed in this phase: its leaflets cross the root axis "
                f"{abs(septum):.0f} mm {'below' if septum < 0 else 'above'} the widest sinus "
                f"section, and its closed cusps could not be read ({reading}): no confident "
                "answer.",
                CLOSED_VALVE_HINT,
            )
        closed = reading
        # the root axis is the closed ring's normal, through the ring's centre
        normal = closed.normal
        origin = closed.centre + float((origin - closed.centre) @ normal) * normal
    report(progress, 0.65, "Measuring the sinuses")
    heights = np.arange(-22.0, 18.0 + 1e-9, H_STEP_MM)
    profile = sample_profile(volume, pool, origin, normal, heights, cancel)
    amp = profile.lobe_amplitude
    inner = (heights >= -6) & (heights <= 8)
    idx = np.flatnonzero(inner)
    sinus = int(idx[np.argmax(amp[idx])])
    if amp[sinus] < MIN_LOBE_AMPLITUDE_MM:
        two = max(abs(harmonic(outer_envelope(r, 25), 2)) for r in profile.smooth[inner])
        if two >= 2 * MIN_LOBE_AMPLITUDE_MM:
            raise InputError(
                "The root has two sinus lobes, not three (a bicuspid-looking valve): "
                "landmarks are not proposed for bicuspid roots.",
                MANUAL_HINT,
            )
        raise InputError(
            f"No sinuses of Valsalva were found (three-lobe amplitude {amp[sinus]:.1f} mm "
            f"< {MIN_LOBE_AMPLITUDE_MM} mm): no confident answer.",
            MANUAL_HINT,
        )
    onset, residual = sinus_onset(heights, amp, sinus)
    level = onset - NADIR_BELOW_SINUS_ONSET_MM
    if closed is not None:
        level = float((closed.centre - origin) @ normal)  # the plane of the cups' hinges
    # From here heights are measured from the basal ring.
    k0 = int(np.argmin(np.abs(heights - level)))
    centre = profile.centres[k0] + (level - heights[k0]) * normal
    heights = heights - level
    profile = RootProfile(
        heights,
        profile.centres,
        profile.radii,
        profile.smooth,
        profile.e1,
        profile.e2,
        profile.normal,
    )
    report(progress, 0.8, "Placing the landmarks")
    ring = profile.smooth[k0]
    ring_heights, ring_smooth = heights, profile.smooth
    if closed is not None:
        # The sweep down from the sinus stops at the closed leaflets, and the plane of the
        # cups' bottoms crosses the leaflets a few mm in from the wall: the ring is read in
        # sections swept from just below it (the LVOT side), its centre carried up.
        start = closed.centre - CLOSED_RING_READ_BELOW_MM * normal
        ring_heights = np.arange(-6.0, 0.0 + 1e-9, H_STEP_MM)
        below_ring = sample_profile(volume, pool, start, normal, ring_heights, cancel)
        k_ring = int(np.argmin(np.abs(ring_heights)))
        ring, ring_smooth = below_ring.smooth[k_ring], below_ring.smooth
        ring_heights = ring_heights - CLOSED_RING_READ_BELOW_MM
        centre = below_ring.centres[k_ring] + CLOSED_RING_READ_BELOW_MM * normal
    _, _, semi_a, semi_b = ellipse_fit(ring, ANGLES)
    hinge_radius = ellipse_perimeter(semi_a, semi_b) / (2 * math.pi) if semi_a > 0 else 0.0
    if not 7.0 <= hinge_radius <= 20.0 or semi_b < 0.6 * semi_a:
        raise InputError(
            f"The lumen at the proposed annulus level is not an aortic annulus (equivalent "
            f"radius {hinge_radius:.1f} mm, axes {semi_a:.1f} x {semi_b:.1f} mm): no confident "
            "answer.",
            MANUAL_HINT,
        )
    # The basal ring continues into the LVOT: the lumen 1-6 mm below it is about as wide.
    below = (ring_heights >= -6.0) & (ring_heights <= -1.0)
    lvot_radius = float(np.median(np.median(ring_smooth[below], axis=1)))
    if not 0.85 * hinge_radius <= lvot_radius <= 1.15 * hinge_radius:
        raise InputError(
            f"The lumen below the proposed annulus does not continue it as an LVOT (radius "
            f"{lvot_radius:.1f} mm against {hinge_radius:.1f} mm at the ring): no confident "
            "answer.",
            MANUAL_HINT,
        )
    top = amp[sinus]
    half_above = next(
        (float(heights[i]) for i in range(sinus, len(heights)) if amp[i] < 0.5 * top),
        float(heights[sinus]) + 5.0,
    )
    band = (heights >= heights[sinus] - 3) & (heights <= heights[sinus] + 3)
    lobe_angles, prominence = find_lobes(profile, band)

    lobe_conf = float(np.clip(prominence / 2.0, 0.0, 1.0))
    level_conf = float(np.clip(1.0 - residual / 0.3, 0.2, 1.0))
    hinge_dir: dict[int, FloatArray] = {}
    if closed is not None:
        # each sinus lobe takes the closed cup nearest in angle: one cup per lobe
        for j in range(3):
            gaps = [_angle_gap(lobe_angles[j], _about(profile, centre, p)) for p in closed.nadirs]
            cup = int(np.argmin(gaps))
            if gaps[cup] > math.radians(50.0):
                raise InputError(
                    "The valve is closed and its three cups do not line up with the three "
                    "sinus lobes: no confident answer.",
                    CLOSED_VALVE_HINT,
                )
            hinge_dir[j] = profile.direction(_about(profile, centre, closed.nadirs[cup]))
        if len({tuple(np.round(d, 6)) for d in hinge_dir.values()}) < 3:
            raise InputError(
                "The valve is closed and two sinus lobes share one cup: no confident answer.",
                CLOSED_VALVE_HINT,
            )
        level_conf = min(level_conf, CLOSED_VALVE_CONFIDENCE)
    # Ostia in the sinus band, from the basal ring to above the commissures; with a closed
    # valve only above where the leaflets cross the axis (below it the rays end on the closed
    # leaflets, and a ray through a gap between them is no coronary).
    lowest = 2.0
    if closed is not None:
        coapt = leaflets_across_axis(
            volume, pool, closed.centre, normal, below_mm=2.0, above_mm=COAPTATION_SEARCH_MM
        )
        lowest = max(lowest, (coapt if coapt is not None else COAPTATION_SEARCH_MM) + 1.0)
    ostium_band = (heights > lowest) & (heights < half_above + 6.0)
    ostia = find_ostia(profile, ostium_band)
    # Assign each tube to its nearest lobe; keep the largest tube per lobe.
    per_lobe: dict[int, tuple[float, float, float, int]] = {}
    for tube in ostia:
        gaps = [_angle_gap(tube[0], a) for a in lobe_angles]
        j = int(np.argmin(gaps))
        if gaps[j] < math.radians(50) and (j not in per_lobe or tube[3] > per_lobe[j][3]):
            per_lobe[j] = tube
    order = sorted(range(3), key=lambda j: lobe_angles[j])  # counter-clockwise seen from aorta
    lobe_dir = {j: profile.direction(lobe_angles[j]) for j in range(3)}
    reasons: dict[str, str] = {}
    names_conf = 1.0
    if len(per_lobe) == 2:
        ncc = next(j for j in range(3) if j not in per_lobe)
    else:
        # NCC toward the atria: the most posterior (+y) lobe.
        ncc = max(range(3), key=lambda j: float(lobe_dir[j][1]))
        names_conf = 0.6 if len(per_lobe) == 1 else 0.4
        reasons["cusp_names"] = (
            f"{len(per_lobe)} coronary ostium found: the non-coronary cusp was named as the "
            "most posterior sinus."
        )
    pos = order.index(ncc)
    rcc, lcc = order[(pos + 1) % 3], order[(pos + 2) % 3]
    if names_conf == 1.0 and lobe_dir[ncc][1] < min(lobe_dir[rcc][1], lobe_dir[lcc][1]):
        names_conf = 0.6
        reasons["cusp_names"] = "the non-coronary sinus is the most anterior one, not posterior."
    cusp_of = {"RCC": rcc, "LCC": lcc, "NCC": ncc}

    points: dict[str, FloatArray] = {}
    confidence: dict[str, float] = {}
    hinge_conf = round(min(lobe_conf, level_conf, names_conf), 2)
    for cusp, j in cusp_of.items():
        name = f"{cusp}_hinge"
        points[name] = centre + hinge_radius * hinge_dir.get(j, lobe_dir[j])
        confidence[name] = hinge_conf
        if hinge_conf < 0.7:
            reasons[name] = (
                "faint sinus lobes"
                if lobe_conf < 0.7
                else CLOSED_VALVE_REASON
                if closed is not None
                else "uncertain annulus level"
                if level_conf < 0.7
                else reasons.get("cusp_names", "")
            )
    # Commissures: between neighbouring lobes at the r(theta) minimum, where the lobes fade.
    kc = int(np.argmin(np.abs(heights - half_above)))
    for a, b in (("RCC", "LCC"), ("LCC", "NCC"), ("NCC", "RCC")):
        ta, tb = lobe_angles[cusp_of[a]], lobe_angles[cusp_of[b]]
        span = (tb - ta) % (2 * math.pi)
        rays = [
            round((ta + f * span) / (2 * math.pi) * RAYS) % RAYS for f in np.linspace(0.2, 0.8, 25)
        ]
        mean_r = profile.smooth[band].mean(axis=0)
        ray = min(rays, key=lambda i: mean_r[i])
        theta = ray * 2 * math.pi / RAYS
        name = f"{a}_{b}_commissure"
        points[name] = profile.centres[kc] + profile.smooth[kc, ray] * profile.direction(theta)
        confidence[name] = round(0.6 * hinge_conf, 2)
        reasons[name] = "commissure height is estimated where the sinus lobes fade"
    for coronary, cusp in (("RCA", "RCC"), ("LCA", "LCC")):
        found = per_lobe.get(cusp_of[cusp])
        if found is None:
            continue
        theta, h, wall, cells = found
        kh = int(np.argmin(np.abs(heights - h)))
        name = f"{coronary}_ostium"
        points[name] = (
            profile.centres[kh] + (h - heights[kh]) * normal + wall * profile.direction(theta)
        )
        confidence[name] = round(min(1.0, cells / 12.0) * names_conf, 2)
        if confidence[name] < 0.7:
            reasons[name] = "small coronary tube" if cells < 9 else reasons.get("cusp_names", "")
    proposed = frozenset(points)
    landmarks = Landmarks(points, "proposed", proposed=proposed)
    report(progress, 1.0, "Landmarks proposed")
    return ProposedLandmarks(
        landmarks,
        confidence,
        {k: v for k, v in reasons.items() if v},
        centreline=centres,
        blood_hu=pool.blood_hu,
    )
