# The mlservice image the rendered objects name by default (`mls kube render --image` overrides):
# every built-in runtime's server (`mls serve`), the storage-initializer (`mls storage-init`),
# the per-pod agent (`mls agent`) and the operator (`mls operator`) are the same `mls`.
#   docker build -t mlservice:latest .
#   docker build --build-arg EXTRAS=sklearn,xgboost,lightgbm,onnx,kube,torch -t mlservice:torch .
FROM python:3.11-slim AS build

ARG EXTRAS=sklearn,xgboost,lightgbm,onnx,kube
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/mlservice \
 && /opt/mlservice/bin/pip install -c constraints.txt ".[${EXTRAS}]"

FROM python:3.11-slim

COPY --from=build /opt/mlservice /opt/mlservice
ENV PATH=/opt/mlservice/bin:$PATH PYTHONUNBUFFERED=1 MLS_HOME=/home/mls/.mlservice
RUN groupadd --system --gid 1000 mls \
 && useradd --system --uid 1000 --gid mls --create-home --home-dir /home/mls mls \
 && mkdir -p /mnt/models /var/lib/t9k/model \
 && chown mls:mls /mnt/models /var/lib/t9k/model
USER 1000:1000
WORKDIR /home/mls
EXPOSE 8080 8081 9081
ENTRYPOINT ["mls"]
CMD ["--help"]
