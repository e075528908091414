"""Training and conversion jobs. The database row is each job's state of record; workers
(in-process threads, or Celery worker processes at scale) claim, heartbeat and finish jobs
through ``studio.jobs.store`` with fencing on the worker id, so a job is never both re-run and
reported done."""
