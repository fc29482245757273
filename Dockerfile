# cryptoj_actors in a container (docs/deployment.md).
#   docker build -t cryptoj .
#   docker run -d --name cryptoj --network host \
#       -v cryptoj-state:/var/lib/cryptoj \
#       -v "$PWD/cryptoj.toml:/etc/cryptoj/cryptoj.toml:ro" cryptoj
# Paper trading unless the config has system.mode = "live" and the command
# adds --live. The admin interface listens on 127.0.0.1 only, so it is
# reached with --network host (or `docker exec cryptoj cryptoj-actors status`).

# --- build: the package and its dependencies in a virtual environment -----------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/cryptoj/venv
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY cryptoj_actors ./cryptoj_actors
RUN /opt/cryptoj/venv/bin/pip install .

# --- run: the environment alone, as an unprivileged user -------------------------
FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/cryptoj --create-home \
        --shell /usr/sbin/nologin cryptoj \
    && chmod 0700 /var/lib/cryptoj
COPY --from=build /opt/cryptoj/venv /opt/cryptoj/venv
# The defaults, commented: mount your own config over this file.
COPY conf/default.toml /etc/cryptoj/cryptoj.toml
ENV PATH=/opt/cryptoj/venv/bin:$PATH PYTHONUNBUFFERED=1
USER cryptoj
WORKDIR /var/lib/cryptoj
# The state directory (`var` under it): journal, backups, trading state,
# admin.token, runs. Losing it loses the ledger: keep it on a volume.
VOLUME ["/var/lib/cryptoj"]
# SIGINT is Ctrl-C: a clean stop (`docker stop` sends it; give it the time:
# docker stop -t 60).
STOPSIGNAL SIGINT
ENTRYPOINT ["cryptoj-actors"]
CMD ["run", "--config", "/etc/cryptoj/cryptoj.toml", "--no-ui"]
