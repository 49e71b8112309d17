import numpy as np
import pandas as pd
import pytest

from protoecg.data import labels
from protoecg.errors import LabelError

# Branch lists as ProtoECGNet's official code defines them (DESIGN.md).
RHYTHM = ("SR AFIB STACH SARRH SBRAD PACE SVARR BIGU AFLT SVTAC PSVT TRIGU 1AVB 2AVB 3AVB "
          "IVCD").split()
MORPHOLOGY = ("NDT NST_ LNGQT IMI ASMI LVH LAFB ISC_ IRBBB ISCAL CRBBB CLBBB ILMI LAO/LAE AMI "
              "ALMI ISCIN INJAS LMI ISCIL LPFB ISCAS INJAL ISCLA RVH ANEUR RAO/RAE WPW ILBBB "
              "IPLMI ISCAN IPMI SEHYP INJIN INJLA PMI INJIL ABQRS PVC STD_ VCLVH QWAVE LOWT NT_ "
              "PAC LPR INVT LVOLT HVOLT TAB_ STE_ PRC(S)").split()
GLOBAL = ["NORM", "DIG", "EL"]


def test_branches_partition_the_71_statements():
    rhythm, morphology, glob = (labels.branch_codes(b) for b in labels.BRANCHES)
    assert (len(rhythm), len(morphology), len(glob)) == (16, 52, 3)
    assert len(rhythm) + len(morphology) + len(glob) == 71
    assert not (set(rhythm) & set(morphology) or set(rhythm) & set(glob)
                or set(morphology) & set(glob))
    assert set(rhythm) | set(morphology) | set(glob) == set(labels.all_codes())
    assert set(rhythm) == set(RHYTHM) and set(morphology) == set(MORPHOLOGY)
    assert set(glob) == set(GLOBAL)


def test_group_flags_and_classes_match_ptbxl():
    table = labels.scp_statements()
    assert (table["diagnostic"].sum(), table["form"].sum(), table["rhythm"].sum()) == (44, 19, 12)
    assert sorted(set(table.loc[table.diagnostic == 1, "diagnostic_class"])) == [
        "CD", "HYP", "MI", "NORM", "STTC"]
    assert table.at["IRBBB", "description"] == "incomplete right bundle branch block"
    assert table.at["IMI", "diagnostic_subclass"] == "IMI"
    assert table.at["IMI", "diagnostic_class"] == "MI"


def test_table_agrees_with_ptbxl_statement_file(ptbxl_meta_root):
    theirs = pd.read_csv(ptbxl_meta_root / "scp_statements.csv", index_col=0)
    ours = labels.scp_statements()
    assert list(ours.index) == list(theirs.index)
    for flag in ("diagnostic", "form", "rhythm"):
        assert (ours[flag] == (theirs[flag] == 1).astype(int)).all(), flag
    assert (ours["description"] == theirs["description"]).all()
    assert (ours["diagnostic_class"] == theirs["diagnostic_class"].fillna("")).all()
    assert (ours["diagnostic_subclass"] == theirs["diagnostic_subclass"].fillna("")).all()


def test_aggregations_follow_the_ptbxl_benchmark():
    y = labels.multi_hot([["IMI", "SR"], ["NORM", "SR"], ["LVH", "AFIB", "IRBBB"]])
    sup, names = labels.aggregate(y, "superdiagnostic")
    assert names == ["CD", "HYP", "MI", "NORM", "STTC"]
    assert sup.tolist() == [[0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [1, 1, 0, 0, 0]]
    sub, sub_names = labels.aggregate(y, "subdiagnostic")
    assert len(sub_names) == 23
    assert {sub_names[i] for i in np.flatnonzero(sub[2])} == {"IRBBB", "LVH"}
    rhythm, rhythm_names = labels.aggregate(y, "rhythm")
    assert len(rhythm_names) == 12 and rhythm[:, rhythm_names.index("AFIB")].tolist() == [0, 0, 1]
    form, form_names = labels.aggregate(y, "form")
    assert len(form_names) == 19 and form.sum() == 0  # IMI, LVH, IRBBB are not form statements
    diag, diag_names = labels.aggregate(y, "diagnostic")
    assert len(diag_names) == 44 and diag.sum() == 4


def test_unknown_codes_and_levels_are_named():
    with pytest.raises(LabelError, match=r"row 1: unknown SCP statement\(s\) 'XYZ'"):
        labels.multi_hot([["SR"], ["XYZ"]])
    with pytest.raises(LabelError, match="unknown label aggregation 'super'"):
        labels.aggregate(np.zeros((1, 71)), "super")
    with pytest.raises(LabelError, match="unknown branch 'other'"):
        labels.branch_codes("other")
