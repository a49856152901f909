# syntax=docker/dockerfile:1
# The hooks image: `aihooks serve` (and `aihooks router`) as a non-root user, on a
# read-only root filesystem. The final stage gets only the venv, without pip and
# with its bytecode compiled: no compiler, no pip cache, no sources but the package.
#
#   docker build -t aihooks:0.1.0 .            (or: buildah bud -t aihooks:0.1.0 .)
#
# BASE is any Debian-based image with python3 (3.11+) and its venv module; the
# default is what users pull. tools/image/build.sh builds the same file from a
# local bookworm base made by mmdebstrap. Behind a TLS-intercepting proxy, pass
# its CA bundle to pip as a build secret (never a layer):
#   --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt
ARG BASE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/aihooks
WORKDIR /src
# The pinned dependencies first, in a layer of their own: a change to the code
# rebuilds only the layer below.
COPY pyproject.toml ./
RUN --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
    && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
    && /opt/aihooks/bin/pip install --require-virtualenv -r requirements.txt
COPY README.md ./
COPY hooks ./hooks
RUN --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
    && /opt/aihooks/bin/pip install --require-virtualenv --no-deps . \
    && /opt/aihooks/bin/pip uninstall --yes pip setuptools

FROM ${BASE}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin aihooks
COPY --from=build /opt/aihooks /opt/aihooks
USER 10001:10001
# Bytecode was compiled at install time; nothing writes to the root filesystem.
ENV PATH=/opt/aihooks/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
EXPOSE 8080 8000
ENTRYPOINT ["aihooks"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
