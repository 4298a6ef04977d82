# The one image every function Lambda runs (build context: the repository root).
#   docker build -f infra/images/function.Dockerfile -t fngate-function .
# python3.11 + node 20, the Lambda runtime interface client, the runtime shim with the local executor's worker
# scripts beside it (the same code that runs functions locally), and both Toolbelts. Per-function code arrives in
# each event's bundle (chalicelib/runtime/aws_lambda.py), so one image serves every function of every account.
# Base images are pinned by digest; refresh both digests together (docker buildx imagetools inspect <image>).
FROM node:20-slim@sha256:1c18d9ab3af4585870b92e4dbc5cac5a0dc77dd13df1a5905cea89fc720eb05b AS node

FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
COPY --from=node /usr/local/bin/node /usr/local/bin/node
# npm builds Node dependencies in the container (lambda_shim/packages.py); no package code runs (--ignore-scripts)
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
COPY infra/images/function-requirements.txt /tmp/function-requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/function-requirements.txt && rm /tmp/function-requirements.txt

COPY chalicelib/runtime/lambda_shim/ /var/task/lambda_shim/
COPY chalicelib/runtime/local/protocol.py chalicelib/runtime/local/worker_python.py /var/task/local/
COPY chalicelib/runtime/local/worker_python_logs.py chalicelib/runtime/local/worker_node.js /var/task/local/
COPY chalicelib/runtime/egress_relay.py /var/task/egress_relay.py
# the dependency builder the local gateway uses, with the pure rules it imports (no I/O, stdlib only)
COPY chalicelib/__init__.py /var/task/chalicelib/__init__.py
COPY chalicelib/domain/ /var/task/chalicelib/domain/
COPY chalicelib/runtime/__init__.py chalicelib/runtime/deps.py /var/task/chalicelib/runtime/
COPY chalicelib/toolbelt/python/ /opt/fngate/toolbelt/python/
COPY chalicelib/toolbelt/node/ /opt/fngate/toolbelt/node/

ENV LAMBDA_TASK_ROOT=/var/task \
    FNGATE_WORKER_DIR=/var/task/local \
    FNGATE_NODE_BINARY=/usr/local/bin/node \
    FNGATE_TOOLBELT_PYTHON_PATH=/opt/fngate/toolbelt/python \
    FNGATE_TOOLBELT_NODE_PATH=/opt/fngate/toolbelt/node:/opt/fngate/toolbelt/node/preinstalled/node_modules
WORKDIR /var/task
# Workers run as this uid: the shim's files stay read-only to the functions it starts.
USER 1000:1000
ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]
CMD ["lambda_shim.handler.handle"]
