"""`python -m transfer`: run the transfer service of the region in YIWANG_REGION."""

from runtime.host import run_forever
from transfer.bootstrap import SERVICE, build

if __name__ == "__main__":
    run_forever(SERVICE, build)
