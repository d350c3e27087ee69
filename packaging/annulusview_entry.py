"""Entry point of the frozen AnnulusView: the same ``annulusview`` command line as the venv.

With no arguments the window opens (as ``annulusview``); ``AnnulusView --self-test`` checks
the installation.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the batch command's worker processes
    from annulusview.cli import main

    sys.exit(main())
