"""`python -m tests.bench.append_worker DSN TASKS SECONDS START_AT`: one append process; prints JSON."""

import sys

from tests.bench.stack_append import worker_main

if __name__ == "__main__":
    worker_main(sys.argv[1:])
