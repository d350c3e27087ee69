"""The rule ids of clinical-model.md v2, written out by hand for the tests (sections 7, 8)."""

AORTIC_RULE_IDS = frozenset(
    {
        "pvl.lvot_calcium",
        "pvl.leaflet_calcium_850",
        "pvl.protrusion",
        "pvl.undersizing_with_lvot_calcium",
        "rupture.lvot_calcium_oversizing",
        "conduction.ms_length",
        "conduction.delta_msid",
        "conduction.zone_calcium",
        "coronary.obstruction_LCA",
        "coronary.obstruction_RCA",
        "as.agatston",
    }
)
MITRAL_RULE_IDS = frozenset({"mitral.mac_score", "mitral.neo_lvot"})
ALL_RULE_IDS = AORTIC_RULE_IDS | MITRAL_RULE_IDS
