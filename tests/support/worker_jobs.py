"""Jobs for the worker-pool tests; module-level so spawned workers can import them."""

import signal
import time


def sleep_deaf(seconds: float) -> None:
    """A job stuck where no signal reaches it (as native code can be)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)


def niceness() -> int:
    """This process's niceness (``os.nice(0)`` changes nothing and returns it)."""
    import os

    return os.nice(0)
