# One image for Dataflow workers and the Flex Template launcher.
FROM apache/beam_python3.11_sdk:2.77.0

WORKDIR /opt/bertprep
COPY setup.py README.md ./
COPY bertprep ./bertprep
RUN pip install --no-cache-dir '.[gcp]'

# Flex Template launcher: the launcher runs this file with the template's parameters.
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/opt/bertprep/bertprep/cli.py
ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE=/opt/bertprep/setup.py

# Keep the Beam SDK harness as the entrypoint so Dataflow can start workers from this image.
ENTRYPOINT ["/opt/apache/beam/boot"]
