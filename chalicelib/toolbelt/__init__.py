"""What functions import: the Node packages (``lp-faas-toolbelt``, V2 alias ``core-functions-toolbelt``) and the
Python package ``fngate_toolbelt``. Both are thin clients of the toolbelt RPC bridge (the host side is
chalicelib/services/toolbelt_host.py) plus HTTP through the egress proxy; they use only their language's standard
library, so nothing has to be installed for a worker.

The executor puts ``NODE_PATH`` (Node) and ``PYTHON_PATH`` (Python, appended to sys.path) on the workers:
``LocalExecutor(toolbelt_node_path=NODE_PATH, toolbelt_python_path=PYTHON_PATH)``.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_PATH = str(HERE / "node")  # holds the package dirs lp-faas-toolbelt/ and core-functions-toolbelt/
# packages every Node function may require undeclared (jsforce), installed by `make` from preinstalled/package.json
NODE_PREINSTALLED = str(HERE / "node" / "preinstalled" / "node_modules")
PYTHON_PATH = str(HERE / "python")  # holds the package dir fngate_toolbelt/

__all__ = ["NODE_PATH", "NODE_PREINSTALLED", "PYTHON_PATH"]
