"""SIGTERM for `train`: stop Spark at once, even while the main thread waits inside py4j."""
from __future__ import annotations

import logging
import os
import signal
import threading

from ..core.errors import SigtermInterrupt
from .spark import jvm

log = logging.getLogger("alsreco.train")


class StopOnSigterm:
    """SIGTERM handling that also works while the main thread is blocked inside a Spark call.

    Python runs signal handlers only between bytecodes of the main thread, which may sit in a
    py4j socket read for minutes. So a watcher thread reads the signal wake-up fd and kills
    the JVM, which unblocks the main thread, where the handler then raises `Terminated`.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._raise)
        threading.Thread(target=self._watch, args=(read_fd,), name="sigterm-watch", daemon=True).start()

    def _raise(self, signum, frame):
        self.requested.set()
        raise SigtermInterrupt()

    def _watch(self, fd: int) -> None:
        while True:
            got = os.read(fd, 64)
            if not got:
                return
            if signal.SIGTERM in got:
                self.requested.set()
                log.error("SIGTERM received: stopping Spark")
                jvm.kill_active_jvm()
                jvm.kill_children()  # a JVM still starting up has no gateway handle yet

    def finished(self) -> None:
        """The job's outcome is decided (and its exit code with it): from now on SIGTERM is ignored. A platform
        that stops every host once one exits may signal this one while the interpreter shuts down, where the
        default action would turn a finished job into exit 143 (Python restores SIG_DFL for handlers it
        installed when it finalises, but keeps SIG_IGN)."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

