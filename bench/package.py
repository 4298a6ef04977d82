"""The gateway's Lambda package, before and after the lean requirements, built side by side in one run.

Both are real `chalice package` builds for the prod stage with pip reading the index (so both need the network):
"before" is a `git archive` of BEFORE (requirements.txt with chalice, which pulls botocore, pip, setuptools...),
"after" is this checkout through `fngate aws package`'s code (chalicelib/aws/stack.py). Run alone:
``python -m bench.package``.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from chalicelib.aws import stack

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "34b85ce"  # the last commit whose requirements.txt shipped chalice (and its dependencies) to Lambda


def sizes(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as z:
        infos = z.infolist()
    return {"zipped": zip_path.stat().st_size, "unzipped": sum(i.file_size for i in infos), "files": len(infos)}


def _before(work: Path) -> dict[str, Any]:
    archive = subprocess.run(["git", "archive", BEFORE], cwd=ROOT, capture_output=True, check=True).stdout
    project = work / "before"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(project, filter="data")
    for cached in (project / ".chalice" / "deployments").glob("*.zip"):  # a stale cache it committed
        cached.unlink()
    t0 = time.perf_counter()
    out = stack.chalice_package(project, work / "before-out")
    return {**sizes(out / "deployment.zip"), "seconds": time.perf_counter() - t0}


def _after(work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    built = stack.package(ROOT, work / "after-out")
    return {**sizes(built.zip_path), "seconds": time.perf_counter() - t0}


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fngate-bench-package-") as tmp:
        load = os.getloadavg()[0]
        return {"before": _before(Path(tmp)), "after": _after(Path(tmp)), "load": load}


def row(m: dict[str, Any]) -> tuple[str, str, str, str]:
    b, a = m["before"], m["after"]
    return ("gateway Lambda package (`fngate aws package`): zipped / unzipped / files",
            f"{a['zipped'] / 1e6:.2f} MB / {a['unzipped'] / 1e6:.1f} MB / {a['files']:,}",
            f"before ({BEFORE}, chalice + botocore + pip + setuptools in requirements.txt): {b['zipped'] / 1e6:.1f} MB "
            f"/ {b['unzipped'] / 1e6:.1f} MB / {b['files']:,}; {b['zipped'] / a['zipped']:.1f}× smaller zipped",
            "met" if a["zipped"] < b["zipped"] / 4 else "**missed**")


if __name__ == "__main__":
    result = measure()
    print(result)
    print("| " + " | ".join(row(result)) + " |")
