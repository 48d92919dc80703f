"""`python -m transfer`: run the transfer service of the region in YIWANG_REGION."""

from transfer.bootstrap import SERVICE, build
from runtime.host import run_forever

if __name__ == "__main__":
    run_forever(SERVICE, build)
