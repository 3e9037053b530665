"""Start and stop the real Firestore and Pub/Sub emulators (gcloud) for tests.

An emulator runs in its own process group, because gcloud starts a shell script that starts
Java: stopping only gcloud would leave the Java server running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

READY_LINE = "Dev App Server is now running"


def gcloud_available() -> bool:
    """Return whether gcloud (and Java, which the emulator runs on) are on PATH."""
    return shutil.which("gcloud") is not None and shutil.which("java") is not None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorError(RuntimeError):
    """The emulator did not start; the message holds the tail of its log."""


class FirestoreEmulator:
    """``with FirestoreEmulator() as host:`` runs the emulator on a free port of 127.0.0.1."""

    name = "firestore"
    ready_line = READY_LINE

    def command(self) -> list[str]:
        """Return the gcloud command line that starts this emulator on ``self.host``."""
        return ["gcloud", "emulators", "firestore", "start", f"--host-port={self.host}", "--quiet"]

    def __init__(self, *, port: int | None = None, timeout: float = 60.0) -> None:
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix=f"{self.name}-emulator-", suffix=".log")[1])

    def start(self) -> str:
        """Start the emulator, wait until it answers, and return ``host:port``."""
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so stop() reaches Java too
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise EmulatorError(f"{self.name} emulator exited early:\n{self.log_tail()}")
            if self.ready_line in self._log.read_text(errors="replace") and self._answers():
                return self.host
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(
            f"{self.name} emulator not ready after {self.timeout:.0f} s:\n{self.log_tail()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def clear(self, project: str) -> None:
        """Delete every document of ``project``'s default database."""
        request = urllib.request.Request(
            f"http://{self.host}/emulator/v1/projects/{project}/databases/(default)/documents",
            method="DELETE",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        """Stop the emulator's whole process group; wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The group may outlive its leader (Java exits after gcloud): make sure it is gone, and
        # wait until the port is free, since a killed process closes its sockets a moment later.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._listening():
            time.sleep(0.05)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the emulator's output."""
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)


class PubSubEmulator(FirestoreEmulator):
    """``with PubSubEmulator() as host:`` runs the Pub/Sub emulator on a free port, fresh data."""

    name = "pubsub"
    ready_line = "Server started, listening on"

    def __init__(self, *, port: int | None = None, timeout: float = 60.0) -> None:
        super().__init__(port=port, timeout=timeout)
        self._data = tempfile.TemporaryDirectory(prefix="pubsub-emulator-")

    def command(self) -> list[str]:
        """Return ``gcloud beta emulators pubsub start`` on ``self.host``, with its own data dir."""
        return [
            "gcloud",
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port={self.host}",
            f"--data-dir={self._data.name}",
            "--quiet",
        ]

    def _answers(self) -> bool:
        return self._listening()  # gRPC only: an open port is the answer

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc, traceback)
        self._data.cleanup()
