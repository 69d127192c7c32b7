"""``blufio serve`` as a real process for tests: started, its URL read, stopped by signal."""

import os
import re
import signal
import subprocess
import sys


class Served:
    """A running ``serve``; ``command`` is what precedes ``serve`` (default: this checkout's
    ``python -m blufio``), ``env`` the whole environment."""

    def __init__(self, env, command=None):
        command = command or [sys.executable, "-m", "blufio"]
        self.process = subprocess.Popen([*command, "serve"], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.stderr = ""
        self.url = self.next_url()

    def next_url(self):
        """Read the gateway's URL from the next announcement on stdout (after a SIGHUP, the
        re-executed process announces itself again)."""
        line = self.process.stdout.readline()
        while line and not line.startswith("Blufio gateway:"):
            line = self.process.stdout.readline()
        match = re.search(r"http://[\d.]+:\d+", line)
        if not match:
            self.process.kill()
            raise AssertionError(f"serve printed {line!r}; stderr: {self.process.stderr.read()}")
        self.url = match.group(0)
        return self.url

    def stop(self, timeout=30):
        """SIGTERM, wait, and return the exit code; ``stderr`` then holds the log."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.stderr = self.process.stderr.read()
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def checkout_env(repo_root, **env):
    """``os.environ`` with this checkout importable, a free gateway port, and ``env``;
    a value of None removes the variable."""
    environ = dict(os.environ, PYTHONPATH=repo_root, BLUFIO_GATEWAY__PORT="0")
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ
