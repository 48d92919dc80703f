"""`python -m injury`: run the injury service of the region in YIWANG_REGION."""

from injury.bootstrap import SERVICE, build
from runtime.host import run_forever

if __name__ == "__main__":
    run_forever(SERVICE, build)
