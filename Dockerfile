# The netcode harness and its reference endpoints in one image (docs/containers.md).
#
#   harness up --containers --build          # fills build/wheels, builds, runs every role
# or, step by step:
#   .venv/bin/python -c 'from pathlib import Path; from harness.containers import prepare_wheels; prepare_wheels(Path("."))'
#   docker build -t netcode-harness:latest [--build-arg BASE_IMAGE=...] .
#   docker run --rm -p 127.0.0.1:8081:8081 -e HARNESS_ROLE=intel-hub -e HARNESS_PORT=8081 netcode-harness:latest
#
# The build needs no network: every wheel in build/wheels/ (the dependencies of
# pyproject.toml and its build backend, nothing else) is installed with
# --no-index. BASE_IMAGE must provide python3 with venv, of the version (3.11)
# and architecture the wheels were built for. No compiler is needed in either stage.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_FIND_LINKS=/wheels
RUN python3 -m venv /opt/harness
# Dependencies first, in a layer of their own: a change to the sources leaves it cached.
COPY build/wheels/ /wheels/
RUN /opt/harness/bin/python -m pip install --quiet /wheels/*.whl
# The harness itself: a wheel built here by the same recipe as .ci/run's (setup.py copies fixtures/ into it
# as harness/_catalog and docs/ as harness/_docs), so the image carries the catalog and the standard inside
# the package and needs no HARNESS_FIXTURES.
COPY pyproject.toml setup.py MANIFEST.in README.md /src/
COPY harness/ /src/harness/
COPY adapters/ /src/adapters/
COPY fixtures/ /src/fixtures/
COPY docs/ /src/docs/
RUN /opt/harness/bin/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir /dist /src \
    && /opt/harness/bin/python -m pip install --quiet --no-deps /dist/netcode_harness-*.whl \
    && /opt/harness/bin/python -m pip check \
    && /opt/harness/bin/python -m pip uninstall --yes --quiet pip setuptools wheel

FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 harness \
    && useradd --system --uid 10001 --gid harness --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin harness
COPY --from=build /opt/harness/ /opt/harness/
# Role, address and port of the endpoint; `harness serve --role/--host/--port` override them,
# but the health check below reads HARNESS_HOST and HARNESS_PORT: set the port through the environment.
# 0.0.0.0 is the container's own network namespace (published ports); with host networking bind 127.0.0.1.
ENV PATH=/opt/harness/bin:$PATH \
    HARNESS_ROLE=supplier \
    HARNESS_HOST=0.0.0.0 \
    HARNESS_PORT=8080 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER harness:harness
EXPOSE 8080 8081 8082 8083 8084
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["python3", "-c", "import os, urllib.request as u; h = os.environ.get('HARNESS_HOST') or '0.0.0.0'; h = '127.0.0.1' if h == '0.0.0.0' else f'[{h}]' if ':' in h else h; u.urlopen(f\"http://{h}:{os.environ.get('HARNESS_PORT', '8080')}/_harness/health\", timeout=2)"]
ENTRYPOINT ["harness", "serve"]
