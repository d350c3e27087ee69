"""Closed-form checks for core/aortic/fluoro.py (hand-derived geometry)."""

import math

import numpy as np

from annulusview.core.fluoro import plan_fluoro
from annulusview.core.reformat import carm_direction


def _ring(angles_deg):
    return {
        k: np.array([math.cos(math.radians(t)), math.sin(math.radians(t)), 0.0]) * 12.0
        for k, t in angles_deg.items()
    }


def test_axial_annulus_closed_form():
    # n = +z: S-curve is b = 0; view d = (-sin a, cos a, 0), line u = (cos a, sin a, 0),
    # hinge offset = r cos(theta - a). R=90, L=210, N=330:
    # coplanar sin a = -sin a / 2 -> a = 0; overlap cos(90-a) = cos(210-a) -> a = -30.
    plan = plan_fluoro([0, 0, 1], _ring({"RCC": 90, "LCC": 210, "NCC": 330}))
    assert all(abs(b) < 1e-9 for _, b in plan.s_curve)
    assert abs(plan.coplanar.lao_deg - 0.0) < 1.0
    assert abs(plan.cusp_overlap.lao_deg - (-30.0)) < 1.0
    assert abs(plan.cusp_overlap.cranial_deg) < 1.0


def test_tilted_s_curve_and_properties():
    t = math.radians(30)
    n = np.array([0.2, -math.sin(t), math.cos(t)])
    n /= np.linalg.norm(n)
    # build hinges in the tilted plane
    e1 = np.cross(n, [0, 0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    hinges = {
        k: 12 * (math.cos(math.radians(a)) * e1 + math.sin(math.radians(a)) * e2)
        for k, a in {"RCC": 80, "LCC": 200, "NCC": 320}.items()
    }
    plan = plan_fluoro(n, hinges)
    for a, b in plan.s_curve:
        ar = math.radians(a)
        expected = math.degrees(math.atan((n[1] * math.cos(ar) - n[0] * math.sin(ar)) / n[2]))
        assert abs(b - expected) < 1e-6
    for view in (plan.coplanar, plan.cusp_overlap):
        d = carm_direction(view.lao_deg, view.cranial_deg)
        assert abs(float(np.dot(n, d))) < 1e-6  # edge-on
    d = carm_direction(plan.cusp_overlap.lao_deg, plan.cusp_overlap.cranial_deg)
    pr = hinges["RCC"] - np.dot(hinges["RCC"], d) * d
    pl = hinges["LCC"] - np.dot(hinges["LCC"], d) * d
    assert np.linalg.norm(pr - pl) < 1e-3  # RCC and LCC superimposed
    d = carm_direction(plan.coplanar.lao_deg, plan.coplanar.cranial_deg)
    proj = {k: v - np.dot(v, d) * d for k, v in hinges.items()}
    assert np.linalg.norm(proj["RCC"] - 0.5 * (proj["LCC"] + proj["NCC"])) < 1e-3


def test_undefined_and_missing():
    plan = plan_fluoro([1, 0, 0], _ring({"RCC": 90, "LCC": 210, "NCC": 330}))
    assert plan.coplanar.lao_deg is None and "undefined" in plan.reason
    plan = plan_fluoro([0, 0, 1], _ring({"RCC": 90, "LCC": 210}))
    assert plan.cusp_overlap.lao_deg is None and "missing" in plan.reason
    assert len(plan.s_curve) == 17
