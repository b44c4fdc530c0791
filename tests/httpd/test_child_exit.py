# SPDX-License-Identifier: Apache-2.0
"""A child stopping while its watchdog thread is inside a fetch.

httpd 2.4 does not join a child's watchdog threads before it destroys the child pool and
calls exit(): a refresh still running then used freed key stores, token states and
OpenSSL/libcurl state torn down by exit handlers (a child segfault or an ASan double free
at stop). The modules close a gate in the child pool's pre-cleanup: the transfer in flight
is cancelled, the tick in flight is waited for (bounded), and later ticks do nothing.

Each test: the identity platform answers slowly (30 s) while the watchdog refreshes; the
server is stopped once that refresh has reached the identity platform. It must stop well
within the fetch timeout (the transfer is cancelled, not waited out) and no process may
crash (the ASan run of this suite also checks for sanitizer reports).

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/httpd/test_child_exit.py
"""

import time

from conftest import poll
from test_shared_cache import idp, make_server, redis  # noqa: F401 (fixtures)

# Stopping takes well under this; a fetch waited out would take FETCH_TIMEOUT.
FETCH_TIMEOUT = 20
STOP_BOUND = 8


def stop_during_refresh(h, idp, endpoint):
    before = idp.count(endpoint)
    idp.slow(30, endpoint)
    assert poll(lambda: idp.count(endpoint) > before, 10), 'no background refresh seen'
    t0 = time.monotonic()
    h.stop(timeout=FETCH_TIMEOUT + 10)
    took = time.monotonic() - t0
    assert took < STOP_BOUND, 'stop took %.1f s: the refresh was waited out' % took
    return took


def test_auth_child_stops_during_key_refresh(idp, make_server):
    h = make_server(idp, procs=1, server_lines=['B2CAuthRefreshInterval 1',
                                               'B2CAuthFetchTimeout %d' % FETCH_TIMEOUT]).start()
    assert h.api(idp.mint()).status == 200
    stop_during_refresh(h, idp, 'metadata')


def test_auth_child_stops_during_key_refresh_redis(idp, make_server, redis):
    h = make_server(idp, procs=2, server_lines=['B2CAuthCache redis:%s' % redis.spec,
                                               'B2CAuthRefreshInterval 1',
                                               'B2CAuthFetchTimeout %d' % FETCH_TIMEOUT]).start()
    assert h.api(idp.mint()).status == 200
    stop_during_refresh(h, idp, 'metadata')


def test_client_child_stops_during_token_refresh(idp, make_server):
    idp.token_lifetime = 4                  # the watchdog refreshes at half the lifetime
    h = make_server(idp, procs=1, client=True).start()
    assert h.get('/gw/testdata', idp.mint()).status == 200
    stop_during_refresh(h, idp, 'token')
