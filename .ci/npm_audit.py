"""npm audit of the npm packages fngate ships (under chalicelib/, by their lock files): fails on a known vulnerability.

A package without third-party dependencies has nothing to audit. An audit service that cannot be reached is
reported and not fatal (the check then proves nothing, and says so).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def audit(package: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(package, Path(tmp) / "package.json")
        lock = package.with_name("package-lock.json")
        if lock.exists():  # audit exactly what is installed
            shutil.copy(lock, Path(tmp) / "package-lock.json")
        else:
            subprocess.run(["npm", "install", "--package-lock-only", "--omit=dev", "--no-fund", "--silent"],
                           cwd=tmp, check=True)
        done = subprocess.run(["npm", "audit", "--omit=dev", "--json"], cwd=tmp, capture_output=True, text=True)
    try:
        report = json.loads(done.stdout or "{}")
    except ValueError:
        report = {}
    if "error" in report or not report:
        print(f"npm audit: {package.parent.name}: the audit service could not be reached ({done.stderr.strip()[:200]})")
        return 0
    found = report.get("metadata", {}).get("vulnerabilities", {})
    print(f"npm audit: {package.parent.name}: {found}")
    return 1 if any(found.get(level) for level in ("moderate", "high", "critical")) else 0


def main() -> int:
    packages = sorted(p for p in (ROOT / "chalicelib").rglob("package.json") if "node_modules" not in p.parts)
    with_deps = [p for p in packages if json.loads(p.read_text()).get("dependencies")]
    print(f"npm audit: {len(packages)} shipped npm packages, {len(with_deps)} with third-party dependencies")
    return max((audit(p) for p in with_deps), default=0)


if __name__ == "__main__":
    sys.exit(main())
