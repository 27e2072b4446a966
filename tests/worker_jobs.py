"""Jobs for the worker-pool tests; module-level so spawned workers can import them."""

import signal
import time


def sleep_deaf(seconds: float) -> None:
    """A job stuck where no signal reaches it (as native code can be)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
