"""The example systemd unit: systemd accepts it, and its Documentation= points at something that
exists once the unit's own install steps ran (no invented web address)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "examples" / "systemd" / "clockwf.service"
# `sudo install -D -m 644 README.md /usr/local/share/doc/clockwf/README.md` in the header
INSTALL = re.compile(r"^#\s+sudo install\b.*\s(\S+)\s+(/\S+)\s*$")


def _documentation() -> list[str]:
    uris: list[str] = []
    for line in UNIT.read_text().splitlines():
        if line.startswith("Documentation="):
            uris += line.removeprefix("Documentation=").split()
    return uris


def test_documentation_points_at_a_file_the_install_steps_put_there() -> None:
    installed = {m.group(2): m.group(1) for m in map(INSTALL.match, UNIT.read_text().splitlines())
                 if m}
    uris = _documentation()
    assert uris, "the unit names its documentation"
    for uri in uris:
        # No web address: the project publishes none it could vouch for; no man: page either.
        assert uri.startswith("file:"), f"{uri}: not a file this project installs"
        path = uri.removeprefix("file:").removeprefix("//")
        assert path in installed, f"{path} is not installed by the unit's install steps"
        assert (ROOT / installed[path]).is_file(), f"{installed[path]} is not in the tree"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is needed to check the unit"
    clockwf = Path(sys.executable).parent / "clockwf"
    assert clockwf.exists()
    unit = tmp_path / "clockwf.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/clockwf", str(clockwf)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr      # an invalid Documentation= URL is a warning
