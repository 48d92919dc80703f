# syntax=docker/dockerfile:1
#
# One image for every yiwang Python process: the gateway and the regional
# services (enrolment, transfer, arrears, injury).  compose.yaml picks the
# process with its command, e.g. `python -m enrolment`.
#
# Build from the repository root (the root pyproject.toml installs all
# packages):
#
#   docker build -f infra/docker/python.Dockerfile -t yiwang/python:dev .

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the project and its dependencies into a virtualenv ------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The whole repository is copied into this stage only; the runtime stage
# takes nothing but the installed virtualenv, so tests, docs and .git never
# reach the final image.
COPY . /src
RUN pip install /src

# --- runtime ----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Unprivileged user with a fixed uid/gid, so volume permissions are
# predictable.
RUN groupadd --system --gid 10001 yiwang \
 && useradd --system --uid 10001 --gid yiwang --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin yiwang

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
USER 10001:10001

# 8000: gateway HTTP API; 8081: health endpoints of the regional services.
EXPOSE 8000 8081

CMD ["python", "-m", "gateway"]
