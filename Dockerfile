# One image for Dataflow workers and the Flex Template launcher.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/bertprep:0.1.0 \
#       --build-arg LAUNCHER_TAG=<a dated tag of the launcher base image> .
ARG LAUNCHER_TAG=latest
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:${LAUNCHER_TAG} AS launcher

# The trainer image: `bertprep train` on GPU workers (Vertex AI custom training worker pools, a Kubeflow
# TFJob, workers started by hand with TF_CONFIG); README "Training on GPU or TPU workers".
#   docker build --target trainer -t REGION-docker.pkg.dev/PROJECT/REPO/bertprep-trainer:0.1.0 .
# The Dataflow worker image below stays the default target (the last stage).
FROM tensorflow/tensorflow:2.21.0-gpu AS trainer
WORKDIR /opt/bertprep
COPY setup.py README.md ./
COPY bertprep ./bertprep
RUN pip install --no-cache-dir '.[gcp]'
ENTRYPOINT ["bertprep"]
CMD ["train", "--help"]

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
