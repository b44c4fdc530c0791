# SPDX-License-Identifier: Apache-2.0
"""Waits during identity-platform outages (issue 12 items 2 and 3, issue 11 finding 1):

  * recovery: children in their retry pause (keys) or backoff (client tokens) take what
    another child published at once, instead of waiting the pause out;
  * bounded waits: with a trickling answer, every request is answered 503 (Retry-After)
    within the fetch timeout + 1 s;
  * slow tenant: a .htaccess metadata URL on a tarpit (accepts, never answers) holds one
    thread per process; the other requests for it get 503 at once and other sites are not
    delayed. A URL of httpd.conf: requests wait for the one fetch, at most the timeout.

Servers: test_shared_cache.CacheHttpd (shmcb) with 1 or 2 children. Every wait is bounded.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/httpd/test_outages.py
"""

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROLE, AUD, AUD_URI, http_request, poll
from test_shared_cache import idp, make_server, OK_BODY  # noqa: F401 (fixtures)

SLACK = 1.0


def timed_get(port, path, token=None, timeout=30):
    hdrs = {'Authorization': 'Bearer ' + token} if token else {}
    t0 = time.monotonic()
    try:
        r = http_request(port, path, hdrs, timeout=timeout)
        return r.status, r.headers.get('Retry-After'), time.monotonic() - t0
    except OSError:
        return 0, None, time.monotonic() - t0


def burst(n, fn):
    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda i: fn(i), range(n)))


class Tarpit:
    """Accepts connections on a free loopback port and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def tarpit():
    t = Tarpit()
    yield t
    t.close()


# ============================================================ recovery after an outage

FAULTS = {
    'status503': dict(mode='status', status=503),
    'truncated': dict(mode='garbage', body='{"keys": [{"kty": "RSA", "n": "'),
    'oversized': dict(mode='huge', size=12 * 1024 * 1024),
    'empty': dict(mode='garbage', body=' '),
}


@pytest.mark.parametrize('fault', sorted(FAULTS))
def test_keys_both_children_recover_within_a_second(idp, make_server, fault):
    """Both children fail (retry pause); once one has keys again, every child answers 200
    to fresh valid tokens within a second: the one in its pause adopts the generation the
    other published instead of waiting its pause out."""
    idp.set_fault('all', **FAULTS[fault])
    h = make_server(idp, procs=2, socache=('shmcb',)).start()
    first = burst(16, lambda i: timed_get(h.port, '/conf/api/testdata', idp.mint())[0])
    assert set(first) <= {503}, first
    idp.clear_faults()
    # someone's pause ends (at most 10 s) and fetches; from then on, within a second,
    # everyone is served
    assert poll(lambda: timed_get(h.port, '/conf/api/testdata', idp.mint())[0] == 200,
                15, 0.05)
    t_ok = time.monotonic()

    def all_ok():
        rs = burst(12, lambda i: timed_get(h.port, '/conf/api/testdata', idp.mint())[0])
        return all(s == 200 for s in rs)
    assert poll(all_ok, 1.0, 0.05), 'a child still in its pause after 1 s'
    assert time.monotonic() - t_ok < 1.0 + SLACK


def test_gateway_both_children_recover_within_a_second(idp, make_server):
    """The token endpoint fails (both children back off), then comes back: once one child
    has a token, both inject within a second."""
    idp.set_fault('token', 'status', status=503)
    h = make_server(idp, procs=2, socache=('shmcb',), client=True).start()
    first = burst(8, lambda i: timed_get(h.port, '/gw/testdata')[0])
    assert set(first) <= {503}, first
    idp.clear_faults()
    assert poll(lambda: timed_get(h.port, '/gw/testdata')[0] == 200, 30, 0.05)
    t_ok = time.monotonic()

    def all_ok():
        return all(s == 200 for s in burst(12, lambda i: timed_get(h.port, '/gw/testdata')[0]))
    assert poll(all_ok, 1.0, 0.05), 'a child still in its backoff after 1 s'
    assert time.monotonic() - t_ok < 1.0 + SLACK


# ================================================================== bounded waits

@pytest.mark.parametrize('endpoint', ['metadata', 'jwks'])
def test_keys_trickling_answer_bounded_by_fetch_timeout(idp, make_server, endpoint):
    """A trickling metadata or JWKS answer: every request is answered 503 with Retry-After
    within B2CAuthFetchTimeout + 1 s, in both children."""
    idp.set_fault(endpoint, 'trickle', delay=0.2, size=100000)
    h = make_server(idp, procs=2, socache=('shmcb',),
                    server_lines=['B2CAuthFetchTimeout 1']).start()
    rs = burst(12, lambda i: timed_get(h.port, '/conf/api/testdata', idp.mint()))
    for st, ra, dt in rs:
        assert st == 503, rs
        assert ra and int(ra) > 0, rs
        assert dt < 1 + SLACK, rs
    # the shared single-flight code logs under the module that waited
    waits = [l for l in h.error_log().splitlines() if re.search(r'B2C0010[1-4]', l)]
    assert all('[b2c_auth:' in l for l in waits), waits


def test_gateway_trickling_token_endpoint_bounded(idp, make_server):
    """The token endpoint trickles its body: every gateway request is answered 503 with
    Retry-After within the client's 10 s request timeout + 1 s (before: up to 2x the
    timeout, then another fetch)."""
    idp.set_fault('token', 'trickle', delay=0.5, size=100000)
    h = make_server(idp, procs=2, socache=('shmcb',), client=True).start()
    rs = burst(8, lambda i: timed_get(h.port, '/gw/testdata', timeout=40))
    for st, ra, dt in rs:
        assert st == 503, rs
        assert ra, rs
        assert dt < 10 + SLACK, rs


# ================================================================== slow tenant

def slow_server(make_server, idp, tarpit, mode='htaccess'):
    md = 'http://127.0.0.1:%d/tenant/v2.0/.well-known/openid-configuration' % tarpit.port
    h = make_server(idp, procs=1, socache=('shmcb',),
                    server_lines=['ThreadsPerChild 6', 'MaxRequestWorkers 6',
                                  'MaxSpareThreads 16',
                                  'B2CAuthMetadataAllow http://127.0.0.1:%d/' % tarpit.port,
                                  'B2CAuthFetchTimeout 4'])
    h.add_location(mode, 'slow', ['AuthType Bearer', 'B2CAuthMetadataURL %s' % md,
                                    'B2CAuthAudience %s %s' % (AUD, AUD_URI),
                                    'Require role %s' % ROLE])
    return h.start()


def test_slow_tenant_holds_one_thread(idp, make_server, tarpit):
    """6 worker threads, 8 concurrent requests to a directory whose metadata URL never
    answers: a cached-token request elsewhere is answered within 200 ms, every time; the
    slow directory's requests get 503 at once except the fetching one."""
    h = slow_server(make_server, idp, tarpit)
    tok = idp.mint()
    assert timed_get(h.port, '/conf/api/testdata', tok)[0] == 200   # cached from now on
    results = []

    def slow(i):
        results.append(timed_get(h.port, h.path('htaccess', 'slow'), idp.mint(), timeout=30))
    threads = [threading.Thread(target=slow, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    lat = []
    for _ in range(5):
        st, _, dt = timed_get(h.port, '/conf/api/testdata', tok)
        assert st == 200
        lat.append(dt)
        time.sleep(0.05)
    for t in threads:
        t.join(30)
    assert max(lat) < 0.2, lat
    assert all(st == 503 for st, _, _ in results), results
    quick = [dt for _, _, dt in results if dt < 1.0]
    assert len(quick) >= 7, results     # all but the fetching thread
    assert max(dt for _, _, dt in results) < 4 + SLACK, results


def test_slow_tenant_answers_carry_retry_after(idp, make_server, tarpit):
    """The quick 503s for a URL being fetched say when to come back."""
    h = slow_server(make_server, idp, tarpit)
    rs = burst(4, lambda i: timed_get(h.port, h.path('htaccess', 'slow'), idp.mint()))
    assert all(st == 503 and ra and int(ra) > 0 for st, ra, _ in rs), rs


def test_slow_conf_url_waits_bounded_by_fetch_timeout(idp, make_server, tarpit):
    """A metadata URL of httpd.conf (the operator's) that never answers: requests wait
    for the one fetch (so that a cold start's burst is served by one fetch), but none
    longer than B2CAuthFetchTimeout (4 s) + 1 s, then 503 with Retry-After."""
    h = slow_server(make_server, idp, tarpit, mode='conf')
    rs = burst(4, lambda i: timed_get(h.port, h.path('conf', 'slow'), idp.mint(), timeout=30))
    assert all(st == 503 and ra for st, ra, _ in rs), rs
    assert max(dt for _, _, dt in rs) < 4 + SLACK, rs
