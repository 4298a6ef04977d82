# The egress proxy service function Lambdas send all their traffic through (ECS Fargate, TCP 3128).
#   docker build -f infra/images/egress.Dockerfile -t fngate-egress .
# Environment: FNGATE_STORE=dynamodb FNGATE_TABLE FNGATE_GATEWAY_URL AWS_REGION (see chalicelib/runtime/egress_service.py).
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
WORKDIR /srv/fngate
COPY requirements.txt infra/images/egress-requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt -r egress-requirements.txt
COPY chalicelib/ ./chalicelib/
ENV FNGATE_STORE=dynamodb PYTHONUNBUFFERED=1
USER 65534:65534
EXPOSE 3128
CMD ["python", "-m", "chalicelib.runtime.egress_service"]
