"""`python -m enrolment`: run the enrolment service of the region in YIWANG_REGION."""

from enrolment.bootstrap import SERVICE, build
from runtime.host import run_forever

if __name__ == "__main__":
    run_forever(SERVICE, build)
