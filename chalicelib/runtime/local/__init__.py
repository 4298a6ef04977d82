"""Local warm workers for Node.js and Python functions: LocalExecutor (executor.py) and its parts.

protocol.py (the wire protocol and the toolbelt RPC bridge), zygote.py (forks sandboxed workers), sandbox.py
(SandboxPolicy and the confinement steps), pool.py (warm pool, spares, housekeeping), worker.py (the gateway's
handle on a worker, stderr capture), worker_python.py + worker_python_logs.py and worker_node.js (the workers).
"""
