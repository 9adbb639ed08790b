"""Where uploaded files live while the server reads them: one private folder per running server.

Gradio hands an event's function whatever file path the event's JSON names, after copying it into
its cache. Its own check that the path was uploaded (``gradio.processing_utils._check_allowed``)
returns at once unless the Blocks were started by ``launch()``; mounted with
``gr.mount_gradio_app``, as here, they never are, and Gradio offers no setting that turns the check
on. So the server enforces it itself: it makes its own folder (``<tmp>/rag-uploads/<pid>-<random>``,
mode 0700), points Gradio's upload and cache folder at it, and ``guard.RequestGuard`` lets a file
path through only when it names, through no symlink, a file inside that folder that Gradio's upload
route wrote. The API writes its uploads there too, under names the server chooses. The folder is
removed when the server stops; the folders of servers that died are removed when the next starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

UPLOADS_ROOT = Path(tempfile.gettempdir()) / "rag-uploads"


class UploadFolder:
    """A running server's private folder for uploads (see the module's docstring)."""

    def __init__(self, root: Path = UPLOADS_ROOT) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        remove_dead_servers_folders(root)
        self.path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root)).resolve()
        self._uploaded: Callable[[str], bool] = lambda path: True

    def trust_uploads_of(self, uploaded: Callable[[str], bool]) -> None:
        """``uploaded(path)``: whether the upload route wrote that file (Gradio keeps the set)."""
        self._uploaded = uploaded

    def holds(self, path: object) -> bool:
        """Whether ``path`` is an uploaded file of this server: inside its folder, reached through
        no symlink, a regular file, written by the upload route."""
        if not isinstance(path, str) or "\x00" in path or not os.path.isabs(path):
            return False
        resolved = os.path.realpath(path)
        if resolved != os.path.normpath(path) or not resolved.startswith(f"{self.path}{os.sep}"):
            return False
        return os.path.isfile(resolved) and self._uploaded(path)

    @contextlib.contextmanager
    def request_folder(self) -> Iterator[Path]:
        """A folder for one request's files, removed with everything in it when the request ends."""
        folder = Path(tempfile.mkdtemp(prefix="request-", dir=self.path))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def discard(self, paths: Iterable[str]) -> None:
        """Delete uploaded files once read, and the folders Gradio made for them when left empty."""
        for path in paths:
            if not self.holds(path):
                continue
            Path(path).unlink(missing_ok=True)
            parent = Path(path).parent
            while parent != self.path and self.path in parent.parents:
                with contextlib.suppress(OSError):  # not empty: another upload is in it
                    parent.rmdir()
                parent = parent.parent

    def files(self) -> list[Path]:
        """Every file in the folder (for tests and the load probe: what is left behind)."""
        return [path for path in self.path.rglob("*") if path.is_file()]

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def remove_dead_servers_folders(root: Path) -> None:
    """Remove the upload folders of servers that are no longer running (``<pid>-…``, pid gone):
    a server killed in the middle of an upload leaves its files there."""
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
