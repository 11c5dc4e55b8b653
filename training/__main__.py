"""`python -m training FILE_OR_URI...`: the training container's entrypoint (= `diamonds train`)."""

import sys

from training.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
