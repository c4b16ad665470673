# One image for Dataflow workers and the Flex Template launcher.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/bertprep:0.1.0 \
#       --build-arg LAUNCHER_TAG=<a dated tag of the launcher base image> .
ARG LAUNCHER_TAG=latest
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:${LAUNCHER_TAG} AS launcher

# `serve` target: the scheduler and HTTP API, with its run registry on a volume (README, "Running serve
# in a container"):  docker build --target serve -t bertprep-serve .
# A stage of its own, before the worker stage, so the worker image stays what a plain `docker build` makes.
FROM python:3.11-slim AS serve
WORKDIR /opt/bertprep
COPY setup.py README.md ./
COPY bertprep ./bertprep
RUN pip install --no-cache-dir '.[gcp]'
# The registry (SQLite), logs and local outputs live under /var/lib/bertprep: mount a volume there so a
# restarted or replaced container finds its runs; the new container takes over the old one's runs when
# their leases expire (--lease-seconds), whatever its host name or PID.
VOLUME ["/var/lib/bertprep"]
WORKDIR /var/lib/bertprep
EXPOSE 8080
# serve handles SIGTERM (docker stop): running pipelines get --grace-seconds, then are retried after the restart.
STOPSIGNAL SIGTERM
ENTRYPOINT ["bertprep", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["--jobs", "/etc/bertprep/jobs.yaml", "--registry", "/var/lib/bertprep/bertprep-runs.sqlite"]

# The default target (last stage): the Dataflow worker and Flex Template launcher image.
FROM apache/beam_python3.11_sdk:2.77.0

# The Beam SDK image has no Flex Template launcher; take it from Google's launcher base image.
COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

WORKDIR /opt/bertprep
COPY setup.py README.md ./
COPY bertprep ./bertprep
RUN pip install --no-cache-dir '.[gcp]'
# Compile the pre-training kernel into numba's cache now, so workers do not each spend ~10 s on it.
RUN python -c "from bertprep.transforms.pretraining.records import compile_kernel; compile_kernel()"

# The launcher runs this file with the template's parameters (one of them names the job).
# Workers run this same image, so nothing needs staging: no FLEX_TEMPLATE_PYTHON_SETUP_FILE.
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/opt/bertprep/bertprep/service/flex_main.py

# Keep the Beam SDK harness as the entrypoint so Dataflow can start workers from this image.
ENTRYPOINT ["/opt/apache/beam/boot"]
