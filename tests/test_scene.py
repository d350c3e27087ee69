"""scene: build_scene off-screen on the phantom with the real analysis; assert on meaning."""

from __future__ import annotations

import numpy as np
import pytest

from annulusview.core.reformat import carm_angles
from annulusview.scene import geometry
from annulusview.scene.build import (
    BACKGROUND,
    CALCIUM_CLIM_MM,
    build_scene,
    calcium_cmap,
    project_to_display,
    set_camera_carm,
    set_camera_preset,
)
from annulusview.scene.render import offscreen_plotter, save_screenshot
from annulusview.scene.state import SceneState, SceneToggles

SIZE = (800, 600)


def _only_calcium() -> SceneToggles:
    return SceneToggles(
        annulus=False,
        lvot=False,
        conduction=False,
        landmarks=False,
        distance_lines=False,
        orientation_marker=False,
        lumen_surface=False,
    )


def _pixel(image: np.ndarray, plotter, point) -> np.ndarray:
    """RGB at the projected point (display y runs up, image rows down)."""
    x, y = project_to_display(plotter, point)
    h = image.shape[0]
    return image[round(h - 1 - y), round(x), :3].astype(int)


def _expected_rgb(distance_mm: float) -> np.ndarray:
    lo, hi = CALCIUM_CLIM_MM
    t = (min(max(distance_mm, lo), hi) - lo) / (hi - lo)
    return np.array(calcium_cmap()(t)[:3]) * 255


def test_lesion_surfaces_match_the_lesion_volumes(phantom_case, phantom_results) -> None:
    res = phantom_results.to_dict()
    labels = phantom_results.lesion_label_volume(phantom_case.volume.shape)
    vox = phantom_case.volume.voxel_volume_mm3
    for lesion in res["lesions"]:
        # the relabelled component is the lesion the analysis found (same size)
        assert (labels == lesion["id"]).sum() * vox == pytest.approx(lesion["volume_mm3"], rel=0.02)
    mesh = geometry.lesion_surfaces(
        phantom_case.volume, labels, phantom_results.lesions, "distance_to_conduction_mm"
    )
    ids = set(np.unique(mesh.point_data["lesion_id"]).tolist())
    assert ids == {les["id"] for les in res["lesions"]}
    for lesion in res["lesions"]:
        sel = mesh.point_data["lesion_id"] == lesion["id"]
        centre = np.asarray(mesh.points)[sel].mean(axis=0)
        # the surface sits around the lesion centroid (LPS), within a couple of mm
        assert np.linalg.norm(centre - lesion["centroid_lps"]) < 2.5


def test_calcium_colour_appears_where_each_lesion_projects(phantom_case, phantom_results) -> None:
    state = SceneState(
        volume=phantom_case.volume,
        results=phantom_results,
        landmarks=phantom_case.landmarks,
        toggles=_only_calcium(),
    )
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        set_camera_preset(plotter, handles, "front")
        image = np.asarray(plotter.screenshot(return_img=True))
        res = phantom_results.to_dict()
        checked = 0
        for lesion in res["lesions"]:
            rgb = _pixel(image, plotter, lesion["centroid_lps"])
            expected = _expected_rgb(lesion["distance_to_conduction_mm"])
            # shading scales brightness: compare the colour direction, not the level
            cos = rgb @ expected / (np.linalg.norm(rgb) * np.linalg.norm(expected) + 1e-9)
            assert cos > 0.97, (lesion["id"], rgb, expected)
            checked += 1
        assert checked >= 3
        near = min(res["lesions"], key=lambda les: les["distance_to_conduction_mm"])
        far = max(res["lesions"], key=lambda les: les["distance_to_conduction_mm"])
        near_rgb = _pixel(image, plotter, near["centroid_lps"])
        far_rgb = _pixel(image, plotter, far["centroid_lps"])
        assert near_rgb[0] > near_rgb[2] + 60  # close to the conduction zone: yellow
        assert far_rgb[2] > far_rgb[0]  # far: blue-grey
        # legend: the scalar bar is drawn, at the bottom centre
        bar = handles.actors["scalar_bar"]
        assert bar.GetPosition()[1] < 0.1
        assert "conduction" in bar.GetTitle()
    finally:
        plotter.close()


def test_color_by_lvot_changes_the_colours(phantom_case, phantom_results) -> None:
    state = SceneState(
        volume=phantom_case.volume,
        results=phantom_results,
        landmarks=phantom_case.landmarks,
        toggles=_only_calcium(),
        color_by="lvot",
    )
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        values = {
            int(i): float(d)
            for i, d in zip(
                handles.lesion_mesh.point_data["lesion_id"],
                handles.lesion_mesh.point_data["distance_mm"],
                strict=True,
            )
        }
        for lesion in phantom_results.to_dict()["lesions"]:
            assert values[lesion["id"]] == pytest.approx(lesion["distance_to_lvot_mm"])
        assert "LVOT" in handles.actors["scalar_bar"].GetTitle()
    finally:
        plotter.close()


def test_toggles_layers_and_distance_lines(phantom_case, phantom_results) -> None:
    full = SceneState(
        volume=phantom_case.volume,
        results=phantom_results,
        landmarks=phantom_case.landmarks,
        toggles=SceneToggles(teaching=True, lumen_volume=True),
    )
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, full)
        for name in (
            "calcium",
            "lvot",
            "conduction",
            "annulus_contour",
            "landmarks",
            "distance_lines",
            "teaching",
            "lumen_volume",
        ):
            assert name in handles.actors, name
        labels = {t.label for t in handles.teaching}
        assert {"RCC", "LCC", "NCC", "LVOT", "Conduction zone", "Membranous septum"} <= labels
        # one line per lesion within 10 mm, from the lesion to the region (none from faint
        # lesions, below the noise floor)
        res = phantom_results.to_dict()
        faint = set((res["calcium_noise"] or {}).get("faint_lesion_ids", []))
        n_near = sum(
            les["distance_to_conduction_mm"] <= 10 and les["id"] not in faint
            for les in res["lesions"]
        )
        lines = handles.actors["distance_lines"].mapper.dataset
        assert lines.n_lines == n_near
        bare = SceneState(
            volume=phantom_case.volume, results=phantom_results, toggles=_only_calcium()
        )
        handles = build_scene(plotter, bare)
        assert set(handles.actors) == {"calcium", "scalar_bar"}
    finally:
        plotter.close()


def test_camera_presets_and_carm_angles(phantom_case, phantom_results) -> None:
    state = SceneState(
        volume=phantom_case.volume, results=phantom_results, landmarks=phantom_case.landmarks
    )
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        normal = handles.region.frame.normal_lps

        def view_dir() -> np.ndarray:
            cam = plotter.camera
            d = np.asarray(cam.focal_point) - np.asarray(cam.position)
            return d / np.linalg.norm(d)

        set_camera_preset(plotter, handles, "aorta")
        assert view_dir() @ normal == pytest.approx(-1.0, abs=1e-6)  # looking down into the LV
        set_camera_preset(plotter, handles, "lv")
        assert view_dir() @ normal == pytest.approx(1.0, abs=1e-6)
        set_camera_preset(plotter, handles, "coplanar")
        assert abs(view_dir() @ normal) < 1e-6  # annulus plane seen edge-on
        # the three hinges project onto (nearly) one line in the coplanar view
        hinges = [phantom_case.landmarks[n] for n in ("RCC_hinge", "LCC_hinge", "NCC_hinge")]
        ys = [project_to_display(plotter, h)[1] for h in hinges]
        assert max(ys) - min(ys) < 3.0
        set_camera_preset(plotter, handles, "front")
        assert carm_angles(view_dir()) == pytest.approx((0.0, 0.0), abs=1e-6)
        set_camera_carm(plotter, handles.region.frame.origin_lps, 30.0, 20.0)
        assert carm_angles(view_dir()) == pytest.approx((30.0, 20.0), abs=1e-6)
    finally:
        plotter.close()


def test_regions_from_landmarks_before_analysis(phantom_case, phantom_results) -> None:
    """While landmarks are placed and no results exist, the one RegionGeometry is previewed
    from the hinges: the analysis's frame and bounds, with the hinge circle standing in for R."""
    from annulusview.core.aortic.regions import RegionGeometry

    state = SceneState(volume=phantom_case.volume, landmarks=phantom_case.landmarks)
    geom = state.regions
    assert geom is not None
    used = phantom_results.regions
    np.testing.assert_allclose(geom.frame.origin_lps, used.frame.origin_lps, atol=1e-9)
    assert geom.annulus_radius_mm == pytest.approx(used.frame.hinge_radius_mm)
    assert geom.conduction_angle_deg == pytest.approx(used.conduction_angle_deg)
    assert geom.lvot_h_min_mm == used.lvot_h_min_mm
    assert geom.conduction_h_min_mm == used.conduction_h_min_mm
    # with results the scene uses the analysis's own geometry
    assert SceneState(results=phantom_results).regions is used
    assert SceneState().regions is None
    assert RegionGeometry.preview(phantom_case.landmarks.without("NCC_hinge")) is None


def test_save_screenshot_writes_png(tmp_path, phantom_case, phantom_results, artifacts_dir) -> None:
    state = SceneState(
        volume=phantom_case.volume, results=phantom_results, landmarks=phantom_case.landmarks
    )
    out = save_screenshot(state, tmp_path / "scene.png", size=SIZE, camera="coplanar")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    (artifacts_dir / "scene-coplanar.png").write_bytes(data)
    import vtk

    reader = vtk.vtkPNGReader()
    reader.SetFileName(str(out))
    reader.Update()
    assert reader.GetOutput().GetDimensions()[:2] == SIZE
    assert BACKGROUND.startswith("#")


def test_calcium_surfaces_come_from_the_analysis_voxels(phantom_case, phantom_results) -> None:
    volume = phantom_case.volume
    labels, offset = phantom_results.lesion_label_crop()
    # exactly the lesion voxels the analysis kept, in a small box (not the whole volume)
    assert labels.size < volume.hu.size / 10
    ids, counts = np.unique(phantom_results.lesion_voxel_ids, return_counts=True)
    for lesion_id, count in zip(ids, counts, strict=True):
        assert int((labels == lesion_id).sum()) == int(count)
    # the whole-volume array other callers use holds the same voxels at the same place
    full = phantom_results.lesion_label_volume(volume.shape)
    k, j, i = offset
    np.testing.assert_array_equal(
        full[k : k + labels.shape[0], j : j + labels.shape[1], i : i + labels.shape[2]],
        labels[: full.shape[0] - k, : full.shape[1] - j, : full.shape[2] - i],
    )
    assert int((full > 0).sum()) == len(phantom_results.lesion_voxel_ids)
    # surfaces from the crop sit where the surfaces from the whole-volume array sit
    lesions = phantom_results.lesions
    crop_mesh = geometry.lesion_surfaces(
        volume, labels, lesions, "distance_to_conduction_mm", offset_kji=offset
    )
    full_mesh = geometry.lesion_surfaces(volume, full, lesions, "distance_to_conduction_mm")
    assert crop_mesh.n_points == full_mesh.n_points
    np.testing.assert_allclose(crop_mesh.points, full_mesh.points, atol=1e-6)


def test_scene_takes_typed_results_only(phantom_case, phantom_results) -> None:
    """One currency: the scene reads ``Results``; a JSON dict is a file format, not an input."""
    state = SceneState(volume=phantom_case.volume, results=phantom_results.to_dict())
    plotter = offscreen_plotter(SIZE)
    try:
        with pytest.raises(AttributeError):
            build_scene(plotter, state)
    finally:
        plotter.close()


def test_scene_is_cheap_to_draw(phantom_case, phantom_results) -> None:
    """What keeps rotation interactive on software OpenGL: plain alpha blending (no depth
    peeling or order-independent translucency passes), a plain background, plain text labels,
    and few triangles per lesion."""
    state = SceneState(
        volume=phantom_case.volume, results=phantom_results, landmarks=phantom_case.landmarks
    )
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        renderer = plotter.renderer
        assert not renderer.GetUseDepthPeeling()
        assert not renderer.GetUseOIT()
        assert not renderer.GetGradientBackground()
        n_lesions = len(phantom_results.to_dict()["lesions"])
        assert handles.lesion_mesh.n_cells <= geometry.MAX_LESION_TRIANGLES * n_lesions
        labels = handles.actors["landmark_labels"]
        parts = labels.GetParts()
        assert parts.GetNumberOfItems() >= 3
        texts = {parts.GetItemAsObject(n).GetMapper().GetInput() for n in range(len(parts))}
        assert "RCC_hinge" in texts
    finally:
        plotter.close()


def test_no_distance_lines_from_faint_lesions() -> None:
    """On a noisy synthetic root (1.5 mm voxels, SD 35 HU: tests/test_noise_floor.py) the noise
    lesions near the conduction zone get no distance line; the real calcium sphere does."""
    from annulusview.core.analysis import analyze
    from synthetic_aortic import Sphere, make_synthetic
    from test_noise_floor import GRID, _noisy

    sphere = Sphere(h=-5.0, r=11.0, theta_deg=300.0, radius_mm=1.5)
    case = make_synthetic(**GRID, spheres=(sphere,))
    volume = _noisy(case)
    res = analyze(volume, case.landmarks)
    faint = set(res.calcium_noise["faint_lesion_ids"])
    near = [les for les in res.lesions if les.distance_to_conduction_mm <= CALCIUM_CLIM_MM[1]]
    assert any(les.id in faint for les in near)  # noise lesions lie near the zone
    kept = [les for les in near if les.id not in faint]
    state = SceneState(volume=volume, results=res, landmarks=case.landmarks)
    plotter = offscreen_plotter(SIZE)
    try:
        handles = build_scene(plotter, state)
        lines = handles.actors["distance_lines"].mapper.dataset
        assert lines.n_lines == len(kept) >= 1
    finally:
        plotter.close()
