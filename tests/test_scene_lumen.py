"""scene: the contrast lumen surface with its rings, and lesion surfaces from thick slices.

Closed-form answers from the phantom's anatomy (the LVOT ellipse, the sinus radius profile) and
a sphere voxelised on 3 mm slices; real VTK rendering off-screen.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pyvista as pv

from annulusview.core.aortic.root_mask import H_TOP_MM
from annulusview.core.volume import Volume
from annulusview.phantom.anatomy import ANATOMY
from annulusview.scene import geometry, lumen
from annulusview.scene.build import (
    BACKGROUND,
    LUMEN_COLOR,
    build_scene,
    lumen_mesh,
    prepare_labels,
    project_to_display,
    set_camera_preset,
)
from annulusview.scene.render import offscreen_plotter
from annulusview.scene.state import SceneState, SceneToggles

SIZE = (800, 600)
SAVED_PICTURE = Path("/tmp/lumen_scene.png")


def _case(name: str):
    from annulusview.core.analysis import analyze
    from annulusview.phantom import make_case

    case = make_case(name, 3, "small")
    return case, analyze(case.volume, case.landmarks)


@pytest.fixture(scope="module")
def normal():
    """The contrast phantom without valve calcium: the lumen's truth is clean everywhere."""
    return _case("normal")


@pytest.fixture(scope="module")
def tavr():
    return _case("tavr-contrast")


def _truth_area_mm2(h_mm: float) -> float:
    """Area inside the phantom's lumen radius r(theta) at ``h``: 1/2 integral of r^2 dtheta."""
    theta = np.arange(0.0, 360.0, 0.05)
    radius = ANATOMY.lumen_radius(theta, h_mm)
    return float(0.5 * np.sum(radius**2) * math.radians(0.05))


def _mesh(case_results) -> pv.PolyData:
    case, results = case_results
    mesh = lumen_mesh(SceneState(volume=case.volume, results=results))
    assert mesh is not None
    return mesh


def test_lvot_cross_section_is_the_phantom_ellipse(normal) -> None:
    """The surface cut at h = -4 mm (the LVOT plane) encloses pi a b within 5 %."""
    _, results = normal
    mesh = _mesh(normal)
    assert mesh.n_open_edges == 0  # closed: clipped by the analysis cylinder with caps
    ring = lumen.section_points(mesh, results, -4.0)
    assert ring is not None
    area = abs(lumen.polygon_area_mm2(ring, results))
    assert area == pytest.approx(math.pi * ANATOMY.a_mm * ANATOMY.b_mm, rel=0.05)
    # and the surface lies on the ellipse all round: radii from the axis at that plane
    h, r, theta = results.frame.cylindrical(ring)
    np.testing.assert_allclose(h, -4.0, atol=1e-6)
    truth = ANATOMY.lumen_radius(theta, -4.0)
    assert np.abs(r - truth).max() < 0.6  # mm, under one 0.625 mm voxel


def test_sinus_ring_matches_the_closed_form(normal) -> None:
    """The sinus ring the scene draws (the root measurement's contour) and the surface cut at
    the same height both enclose the phantom's r(theta, h) area within 5 %."""
    _, results = normal
    mesh = _mesh(normal)
    rings = lumen.plane_rings(results, mesh)
    assert set(rings) == {"LVOT", "Sinus", "STJ"}
    sinus_h = float(results.root.sinus.values["height_mm"])
    truth = _truth_area_mm2(sinus_h)
    drawn = abs(lumen.polygon_area_mm2(rings["Sinus"], results))
    assert drawn == pytest.approx(truth, rel=0.05)
    cut = lumen.section_points(mesh, results, sinus_h)
    assert cut is not None
    assert abs(lumen.polygon_area_mm2(cut, results)) == pytest.approx(truth, rel=0.05)
    # every ring lies on its plane
    for name, key in (("Sinus", "height_mm"), ("STJ", "height_mm"), ("LVOT", "level_mm")):
        part = {"Sinus": results.root.sinus, "STJ": results.root.stj, "LVOT": results.root.lvot}
        h, _, _ = results.frame.cylindrical(rings[name])
        np.testing.assert_allclose(h, float(part[name].values[key]), atol=1e-6)


def test_lumen_surface_triangle_budget_and_cache(tavr) -> None:
    case, results = tavr
    state = SceneState(volume=case.volume, results=results, landmarks=case.landmarks)
    prepare_labels(state)  # the numpy part, as the analysis worker does it
    assert any(k == ("key", "lumen_field") for k in state.cache)
    mesh = lumen_mesh(state)
    assert mesh is not None
    assert 0 < mesh.n_cells <= lumen.MAX_LUMEN_TRIANGLES
    assert lumen_mesh(state) is mesh  # cached while the results are the same
    # clipped to the analysis cylinder (r <= R + 12) and -15 <= h <= +45
    h, r, _ = results.frame.cylindrical(np.asarray(mesh.points))
    r_max = results.parameters["analysis_region"]["r_le_mm"]
    assert r.max() <= r_max + 0.05
    assert h.min() >= -15.05 and h.max() <= H_TOP_MM + 0.05
    # only the root lumen: about the volume of the phantom's lumen in that height range
    heights = np.arange(-15.0, H_TOP_MM, 0.5) + 0.25
    truth = sum(_truth_area_mm2(float(z)) * 0.5 for z in heights)
    assert mesh.volume == pytest.approx(truth, rel=0.10)
    # the calcium threshold is not lumen: the protruding RCC annulus nodule dents the surface
    nodule = max(results.lesions, key=lambda les: les.inward_extent_mm)
    centre = np.asarray(nodule.centroid_lps)
    inside = pv.PolyData(centre[None, :]).select_interior_points(mesh, check_surface=False)
    assert not bool(inside.point_data["selected_points"][0])


def test_no_lumen_surface_without_contrast() -> None:
    case, results = _case("tavr-noncontrast")
    assert results.contrast_state == "non_contrast"
    state = SceneState(volume=case.volume, results=results, landmarks=case.landmarks)
    prepare_labels(state)
    assert not any("lumen" in str(k) for k in state.cache)  # not built, not even the field
    assert lumen_mesh(state) is None
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        assert "calcium" in handles.actors
        assert not {"lumen_surface", "lumen_rings", "lumen_ring_labels"} & set(handles.actors)
        assert handles.lumen_mesh is None
    finally:
        plotter.close()
    assert not any("lumen" in str(k) for k in state.cache)


def _sphere_on_thick_slices(
    radius_mm: float = 4.0, spacing_kji: tuple[float, float, float] = (3.0, 0.5, 0.5)
) -> tuple[Volume, np.ndarray]:
    """A sphere voxelised on 0.5 x 0.5 x 3 mm voxels (centre between slices, off the pixel
    grid) and its volume."""
    shape = np.array([12, 40, 40])
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    pos = np.stack([k, j, i], axis=-1) * np.array(spacing_kji)
    centre = (shape - 1) / 2 * np.array(spacing_kji) + np.array([0.9, 0.13, 0.21])
    labels = (np.linalg.norm(pos - centre, axis=-1) <= radius_mm).astype(np.int32)
    affine = np.diag([spacing_kji[2], spacing_kji[1], spacing_kji[0], 1.0])
    affine[:3, 3] = (-20.0, 10.0, -150.0)
    return Volume(np.zeros(tuple(shape), dtype=np.int16), affine), labels


def _axis_aligned_share(mesh: pv.PolyData, axis: np.ndarray, within_deg: float = 5.0) -> float:
    """Share of the surface area whose face normal lies within ``within_deg`` of ``axis``."""
    faces = mesh.triangulate().compute_normals(cell_normals=True, point_normals=False)
    normals = np.asarray(faces.cell_data["Normals"])
    areas = np.asarray(faces.compute_cell_sizes(length=False, volume=False).cell_data["Area"])
    aligned = np.abs(normals @ axis) >= math.cos(math.radians(within_deg))
    return float(areas[aligned].sum() / areas.sum())


def test_lesion_from_3mm_slices_is_a_smooth_sphere() -> None:
    radius = 4.0
    volume, labels = _sphere_on_thick_slices(radius)
    lesion = SimpleNamespace(id=1, distance_to_conduction_mm=2.5)
    mesh = geometry.lesion_surfaces(volume, labels, [lesion], "distance_to_conduction_mm")
    true_volume = 4.0 / 3.0 * math.pi * radius**3
    assert mesh.volume == pytest.approx(true_volume, rel=0.15)
    # it encloses the voxels' volume, the number the results print
    assert mesh.volume == pytest.approx(labels.sum() * volume.voxel_volume_mm3, rel=0.03)
    assert mesh.n_open_edges == 0
    # per-lesion point data and the triangle cap are kept
    assert set(np.unique(mesh.point_data["lesion_id"])) == {1}
    np.testing.assert_allclose(mesh.point_data["distance_mm"], 2.5)
    assert mesh.n_cells <= geometry.MAX_LESION_TRIANGLES
    centroid = volume.index_to_lps(np.argwhere(labels)[:, ::-1].mean(axis=0))
    assert np.linalg.norm(np.asarray(mesh.points).mean(axis=0) - centroid) < 0.5
    # the unsmoothed staircase of the same voxels: flat 3 mm blocks, normals along the slices
    slice_axis = volume.affine[:3, 2] / np.linalg.norm(volume.affine[:3, 2])
    grid = pv.ImageData(
        dimensions=tuple(int(n) + 2 for n in labels.shape[::-1]),
        spacing=(0.5, 0.5, 3.0),
        origin=tuple(volume.affine[:3, 3] - np.array([0.5, 0.5, 3.0])),
    )
    grid.point_data["m"] = np.pad(labels, 1).astype(np.float32).ravel()
    staircase = grid.contour([0.5], scalars="m", method="flying_edges")
    stair_share = _axis_aligned_share(staircase, slice_axis)
    smooth_share = _axis_aligned_share(mesh, slice_axis)
    assert stair_share > 0.25, stair_share
    assert smooth_share < 0.25 * stair_share, (smooth_share, stair_share)
    # and it is round: every vertex near the sphere
    dist = np.linalg.norm(np.asarray(mesh.points) - centroid, axis=1)
    assert np.abs(dist - radius).max() < 1.0


def test_thin_slices_keep_the_plain_surface() -> None:
    """Near-isotropic voxels are surfaced as before (no resampling)."""
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[2:4, 2:4, 2:4] = True
    values, factor, level = geometry.lesion_field(mask, (0.7, 0.5, 0.5))
    assert factor == 1 and level == 0.5
    np.testing.assert_array_equal(values, mask.astype(np.float32))
    values, factor, level = geometry.lesion_field(mask, (3.0, 0.5, 0.5))
    assert factor == 6 and values.shape == (31, 6, 6)


def _rgb(image: np.ndarray, plotter, point) -> np.ndarray:
    x, y = project_to_display(plotter, point)
    return image[round(image.shape[0] - 1 - y), round(x), :3].astype(int)


def test_scene_shows_the_translucent_lumen(tmp_path, tavr, artifacts_dir) -> None:
    """Off-screen picture: the lumen's grey shows over the ascending aorta (nothing else is
    there), is translucent (the background shows through), and goes when toggled off."""
    case, results = tavr
    state = SceneState(volume=case.volume, results=results, landmarks=case.landmarks)
    frame = results.frame
    probe = frame.to_lps(32.0, 0.0, 0.0)  # on the axis in the ascending aorta
    background = np.array(pv.Color(BACKGROUND).int_rgb)
    lumen_rgb = np.array(pv.Color(LUMEN_COLOR).int_rgb)
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        assert {"lumen_surface", "lumen_rings", "lumen_ring_labels", "calcium"} <= set(
            handles.actors
        )
        set_camera_preset(plotter, handles, "front")
        out = tmp_path / "lumen.png"
        plotter.screenshot(str(out))
        image = np.asarray(plotter.screenshot(return_img=True))
        SAVED_PICTURE.write_bytes(out.read_bytes())
        (artifacts_dir / "scene-lumen.png").write_bytes(out.read_bytes())
        rgb = _rgb(image, plotter, probe)
        # brighter than the background, darker than the opaque grey: translucent
        assert (rgb > background + 25).all(), rgb
        assert (rgb < lumen_rgb - 40).all(), rgb
        assert rgb.max() - rgb.min() < 25, rgb  # neutral grey (shading only scales it)
        # the rings are drawn in the picture
        ring_mesh = handles.actors["lumen_rings"].mapper.dataset
        assert ring_mesh.n_lines == 3
        state.toggles = SceneToggles(lumen_surface=False)
        handles = build_scene(plotter, state)
        assert "lumen_surface" not in handles.actors
        set_camera_preset(plotter, handles, "front")
        off = np.asarray(plotter.screenshot(return_img=True))
        np.testing.assert_allclose(_rgb(off, plotter, probe), background, atol=3)
    finally:
        plotter.close()
    assert SAVED_PICTURE.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
