"""Specific errors raised by the library.

The library raises these; only the edges (the CLI, the Streamlit app) turn them into messages.
Every message names the file or field at fault and what was expected, on one line.
"""


class ProtoECGError(Exception):
    """A problem with the user's input that the user can fix (CLI: one line, exit code 2)."""


class DataError(ProtoECGError):
    """A dataset folder, record or label that is not what the adapter expects."""


class LayoutError(DataError):
    """A folder that is not the dataset layout that was asked for."""


class RecordError(DataError):
    """One record that cannot be used (unreadable, wrong leads, rate, length, NaN, flat line).

    Adapters can skip these on request (``skip_bad=True``); all other errors are fatal.
    """

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class LabelError(DataError):
    """A label that is malformed or not one of the 71 PTB-XL statements."""


class DownloadError(ProtoECGError):
    """A download that failed or whose checksum does not match."""
