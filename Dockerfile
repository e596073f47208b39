# syntax=docker/dockerfile:1
#
# One image for the four services (intake, routing, notify, audit), the operator CLI
# (`phananh`) and the reference agency client (`phananh-agency`). The image has no
# per-service command: docker-compose.yml sets `command` for each service, e.g.
# `phananh-intake`, `phananh topics create`.
#
#   docker build -t phananh:local .
#   docker run --rm phananh:local phananh --help
#
# Builder and runtime start FROM the same Python image: the virtual environment's
# `python` is a symlink to that image's interpreter (/usr/local/bin/python3.11).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

COPY --from=uv /uv /uvx /bin/

# Compile bytecode at install time (faster start), copy out of the cache mount instead of
# hard-linking across file systems, never download a Python: use the image's interpreter.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Third-party dependencies first, in their own layer: it is rebuilt only when uv.lock or
# the root pyproject.toml changes, not on every source edit. `--frozen` installs exactly
# what uv.lock says without needing the members' pyproject.toml files yet.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace --no-editable

# Then the workspace members, installed as wheels (not editable) so that the runtime
# stage needs the virtual environment only, not the sources. `--locked` (all members'
# pyproject.toml are present now) refuses a uv.lock that is out of date.
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY clients/ clients/
COPY deploy/cli/ deploy/cli/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

# Fail the build, not the container, if a console script the compose file runs is missing.
RUN set -eu; \
    for script in phananh phananh-intake phananh-routing phananh-notify phananh-audit \
                  phananh-agency; do \
        test -x "/app/.venv/bin/${script}" || { echo "missing console script: ${script}" >&2; exit 1; }; \
    done

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="phananh" \
      org.opencontainers.image.description="Phản ánh kiến nghị: intake, routing, notify and audit services and the operator CLI" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 pakn \
    && useradd --system --uid 10001 --gid pakn --create-home --home-dir /home/pakn \
        --shell /usr/sbin/nologin pakn

# Owned by root and read-only for the service user: the code cannot be changed at run time.
COPY --from=builder /app/.venv /app/.venv
# The reference city configuration; mount your own over /app/config to change it.
COPY config/ /app/config/

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app

# Numeric so that orchestrators (e.g. Kubernetes runAsNonRoot) can verify it is not root.
USER 10001:10001

# Every service serves /healthz, /readyz and /metrics on this port (PHANANH_HTTP__PORT).
EXPOSE 8080

CMD ["phananh", "--help"]
