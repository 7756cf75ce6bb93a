"""Exec shim: `python -I -S shim.py ENGINE_PID CPUS -- COMMAND...`.

Arms the parent-death signal (so the replica dies with its engine even on SIGKILL), pins the
CPU affinity, then replaces itself with COMMAND. It is run as a file and imports only the
standard library, so it costs a few milliseconds. The death signal is tied to the thread
that forked this process: the engine forks from one long-lived thread.
"""

import ctypes
import os
import signal
import sys
from typing import NoReturn

PR_SET_PDEATHSIG = 1
EXIT_CANNOT_RUN = 127


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"mls: {message}\n")
    sys.stderr.flush()
    os._exit(EXIT_CANNOT_RUN)


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        _fail("usage: shim.py ENGINE_PID CPUS -- COMMAND...")
    engine_pid, cpus, command = int(argv[0]), argv[1], argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        _fail(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != engine_pid:
        # The engine died between fork and prctl; the signal will never come.
        os._exit(EXIT_CANNOT_RUN)
    if cpus != "-":
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        _fail(f"cannot run {command[0]!r}: {exc.strerror}")


if __name__ == "__main__":
    main(sys.argv[1:])
