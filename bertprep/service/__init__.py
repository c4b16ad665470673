"""The service around the pipelines: scheduled runs, a run registry, an HTTP API, Dataflow templates.

    jobs_file    the YAML jobs file: named jobs, schedules, dependencies; validated with key and line
    yaml_lines   YAML read with line numbers kept, for those error messages
    catalog      which pipelines exist (pipelines.registry's jobs) and how a job's args become argv
    registry     the SQLite run registry (and the queue the scheduler and the API share)
    fingerprint  what a run's inputs looked like (sizes and mtimes, or content hashes)
    runner       one run: a pipeline subprocess, its output directory, the LATEST pointer
    scheduler    the long-running loop: cron schedules, retries with backoff, dependencies, SIGTERM
    clock        the scheduler's time, injectable (FakeClock steps it in tests)
    api          the FastAPI app behind `bertprep serve`
    dataflow     Flex Template specs and launch request bodies derived from each job's options
    flex_main    the file the Flex Template launcher runs (FLEX_TEMPLATE_PYTHON_PY_FILE)
"""
