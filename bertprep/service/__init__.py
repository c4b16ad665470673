"""The service around the pipelines: scheduled runs, a run registry, an HTTP API, Dataflow templates.

    jobs_file    the YAML jobs file: named jobs, schedules, dependencies; validated with key and line
    catalog      which pipelines exist (the job commands of the CLI) and how a job's args become argv
    registry     the SQLite run registry (and the queue the scheduler and the API share)
    fingerprint  what a run's inputs looked like (sizes and mtimes, or content hashes)
    runner       one run: a pipeline subprocess, its output directory, the LATEST pointer
    scheduler    the long-running loop: cron schedules, retries with backoff, dependencies, SIGTERM
    api          the FastAPI app behind `bertprep serve`
    dataflow     Flex Template specs and launch request bodies derived from each job's options
"""
