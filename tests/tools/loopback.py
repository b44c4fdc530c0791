# SPDX-License-Identifier: Apache-2.0
"""Small helpers shared by the load tools (bench/bench.py, tests/soak/soak.py) and the
httpd suites (tests/httpd/conftest.py re-exports them): logging to stderr, free loopback
ports, bounded polling, the children of an httpd by /proc, and stopping a child process."""

import os
import signal
import socket
import subprocess
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    """A port free on 127.0.0.1 right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def poll(fn, timeout, interval=0.1):
    """Call fn until it returns truthy or `timeout` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def proc_children(pid):
    """PIDs whose parent is pid, sorted."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
            if int(st[st.rindex(')') + 2:].split()[1]) == pid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(out)


def stop_process(proc, timeout=10):
    """Stop a child we started (a Popen): SIGTERM, then SIGKILL if it is still there
    after `timeout` seconds. Nothing to do when it never started or already exited."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
