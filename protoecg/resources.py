"""Files that ship with the package: the review app and the study protocols.

Found through the installed packages (``review_app``, ``study_protocols``), so they work from a
wheel (``pip install .``) as well as from an editable checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from protoecg.errors import ProtoECGError

DEFAULT_PROTOCOL = "protoecgnet_clinician_review.toml"


def _packaged(package: str, name: str) -> Path:
    try:
        path = Path(str(resources.files(package).joinpath(name)))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ProtoECGError(f"{package}/{name}: missing from this installation of protoecg "
                            "(reinstall it with `pip install .` from the checkout)")
    return path


def review_app_path() -> Path:
    """The Streamlit entry point of the review app."""
    return _packaged("review_app", "app.py")


def protocol_path(name: str = DEFAULT_PROTOCOL) -> Path:
    """A study protocol shipped with protoecg (default: the paper's clinician review)."""
    return _packaged("study_protocols", name)
