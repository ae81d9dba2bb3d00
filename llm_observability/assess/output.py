"""Writing a report file atomically: a temporary file beside it, then ``os.replace``.

A reader never sees a half-written report, and a failure leaves the previous file (or none) in place,
with no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from llm_observability.assess.loader import AssessError


def _new_file_mode(path: Path) -> int:
    """The existing file's permissions, else what ``open()`` would give a new file (0666 less the umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path: str | Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` all at once; :class:`AssessError` (one sentence) when it cannot."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_dir():
        raise AssessError(f"cannot write {path}: it is a folder, give a file name.")
    try:
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    except OSError as error:
        raise AssessError(f"cannot write {path}: {error.strerror or error}.") from None
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise AssessError(f"cannot write {path}: {error.strerror or error}.") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
