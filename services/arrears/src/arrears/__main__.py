"""`python -m arrears`: run the arrears service of the region in YIWANG_REGION."""

from arrears.bootstrap import SERVICE, build
from runtime.host import run_forever

if __name__ == "__main__":
    run_forever(SERVICE, build)
