"""The audit folder (``RUN/audit/`` by default): ``audit.json`` and ``report.md``. This module
alone names, reads and writes them (torch-free: prune rules and the review app read audits).
The content of ``audit.json`` is described in ``audit/runner.py``."""

from __future__ import annotations

from pathlib import Path

from protoecg.audit.markdown import markdown_report
from protoecg.files import check_object, read_json, write_json
from protoecg.train.run import RunError, has_model, model_sha256

AUDIT_DIR = "audit"
AUDIT_JSON = "audit.json"
REPORT_MD = "report.md"
LABEL_RANDOMISED_DIR = "label-randomised"
WHAT = "an audit written by `protoecg audit`"


def default_dir(run_dir: str | Path) -> Path:
    """Where ``protoecg audit --run RUN`` writes unless told otherwise."""
    return Path(run_dir) / AUDIT_DIR


def audit_file(run_dir: str | Path) -> Path:
    """The audit of ``run_dir`` at its default place."""
    return default_dir(run_dir) / AUDIT_JSON


def write_audit(result: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """``audit.json`` and ``report.md`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / AUDIT_JSON, out_dir / REPORT_MD
    write_json(json_path, result)
    md_path.write_text(markdown_report(result), encoding="utf-8")
    return json_path, md_path


def read_audit(path: str | Path, error: type[RunError] | type = RunError,
               prototypes: bool = True) -> dict:
    """An ``audit.json`` (a path to the file), checked for what its readers use: the model it
    audited, the sanity verdicts per branch and (``prototypes``) the per-prototype terms."""
    path = Path(path)
    keys = ("model_sha256", "sanity", *(("prototypes",) if prototypes else ()))
    result = read_json(path, error, WHAT, keys)
    check_object(result["sanity"], f"{path}: sanity", error, WHAT)
    if prototypes:
        check_object(result["prototypes"], f"{path}: prototypes", error, WHAT)
        for pid, row in result["prototypes"].items():
            check_object(row, f"{path}: prototypes.{pid}", error, "a prototype's audit terms")
    for branch, checks in result["sanity"].items():
        check_object(checks, f"{path}: sanity.{branch}", error, "a branch's sanity checks")
    return result


def sanity_verdicts(run_dir: str | Path) -> dict[str, dict] | None:
    """Per branch the sanity checks' verdicts of the run's audit at its default place, when
    it audited this very model; None when there is none (a damaged audit is an error)."""
    path = audit_file(run_dir)
    if not path.is_file() or not has_model(run_dir):
        return None
    result = read_audit(path, prototypes=False)
    if result["model_sha256"] != model_sha256(run_dir):
        return None

    def verdict(checks: dict, name: str):
        found = checks.get(name)
        return found.get("verdict") if isinstance(found, dict) else None

    return {branch: {"model_randomisation": verdict(checks, "model_randomisation"),
                     "label_randomisation": verdict(checks, "label_randomisation")}
            for branch, checks in result["sanity"].items()}
