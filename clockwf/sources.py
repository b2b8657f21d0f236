"""Definition sets: the files of a directory, and the name of the source they are published from.

``publish DIR`` and ``diff DIR`` take every ``*.yaml`` / ``*.yml`` file under ``DIR`` (recursively,
in path order), with the pre-commit hook's exclusion of ``.github/`` (GitHub Actions' workflows
are YAML too) and of the other hidden directories (``.git``), ``.clockwf/`` excepted. Symbolic
links to directories are not followed.

The source recorded on each published version is ``--source NAME``, or for a directory its git
remote and path inside the repository (``https://git.example.com/ops.git//schedules``, the
``//`` as in Terraform's module addresses), or its absolute path outside git. Credentials in a
remote URL are never part of the name.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SUFFIXES = (".yaml", ".yml")


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") and name != ".clockwf"


def directory_files(directory: str) -> list[str]:
    """The definition files under ``directory``, in path order."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d))
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(SUFFIXES))
    return sorted(found)


def expand(paths: Sequence[str]) -> list[str]:
    """Files as given, directories replaced by their definition files; ``-`` stays as is. A
    directory without any stays as it is, so that validation reports it (a directory is not a
    definition file) and an empty set is never published, or pruned against."""
    out: list[str] = []
    for name in paths:
        found = directory_files(name) if name != "-" and os.path.isdir(name) else []
        out.extend(found or [name])
    return out


def _git(directory: str, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", directory, *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def without_credentials(url: str) -> str:
    """``https://user:token@host/x.git`` -> ``https://host/x.git``; scp-like URLs as they are."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def default_source(directory: str) -> str:
    """The source name of a directory: git remote + path in the repository, else its absolute
    path."""
    absolute = Path(directory).resolve()
    top = _git(str(absolute), "rev-parse", "--show-toplevel")
    remotes = (_git(str(absolute), "remote") or "").split()
    if top is None or not remotes:
        return str(absolute)
    remote = "origin" if "origin" in remotes else remotes[0]
    url = _git(str(absolute), "remote", "get-url", remote)
    if url is None:
        return str(absolute)
    inside = absolute.relative_to(Path(top).resolve()).as_posix()
    name = without_credentials(url)
    return name if inside == "." else f"{name}//{inside}"
