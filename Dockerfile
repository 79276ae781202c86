# Image of the modelward services and command line tool. The entrypoint is `modelward`;
# docker-compose.yml runs the services with `python -m modelward_registry serve` and
# `python -m modelward_governance serve` instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 modelward
USER modelward
WORKDIR /home/modelward
ENV MODELWARD_HOME=/home/modelward/.modelward

EXPOSE 50051 50052
ENTRYPOINT ["modelward"]
CMD ["--help"]
