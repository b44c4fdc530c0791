"""Small helpers shared by the load tools (bench/bench.py, tests/soak/soak.py):
logging to stderr, free loopback ports, and the children of an httpd by /proc."""

import os
import socket
import sys


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    """A port free on 127.0.0.1 right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


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
