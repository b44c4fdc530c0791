# TEMPORARY debug harness (not for commit)
import json, os, socket, threading, time, hashlib
from test_shared_cache import (pytest, Redis, Memcached, idp, make_server, idp_counts, mixed_job)  # noqa
from conftest import workdir  # noqa
from test_shared_cache import _fleet, _two_loads, _resp_encode


class Monitor(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.s = socket.create_connection(('127.0.0.1', port))
        self.s.sendall(_resp_encode(['MONITOR']))
        self.lines = []
        self.stop_ = False

    def run(self):
        f = self.s.makefile('rb')
        while not self.stop_:
            try:
                l = f.readline()
            except Exception:
                break
            if not l:
                break
            self.lines.append(l.decode(errors='replace').rstrip())


@pytest.mark.parametrize('rep', range(int(os.environ.get('REPS', '5'))))
@pytest.mark.parametrize('backend', os.environ.get('BACKENDS', 'redis,memcache').split(','))
def test_dbg(idp, make_server, workdir, backend, rep):
    server = Redis(workdir) if backend == 'redis' else Memcached()
    server.start()
    mon = Monitor(server.port) if backend == 'redis' else None
    if mon:
        mon.start()
    try:
        a, b = _fleet(idp, make_server, '%s:%s' % (backend, server.spec), loglevel='debug') \
            if False else _fleet(idp, make_server, '%s:%s' % (backend, server.spec))
        tokens = [idp.mint() for _ in range(40)]
        ra, rb = _two_loads(a, b, mixed_job(idp, tokens), mixed_job(idp, tokens))
        c = idp_counts(idp)
        with idp.lock:
            rl = [(e['time'], e['endpoint']) for e in idp.request_log]
        out = {'counts': c, 'idp': rl,
               'a': [l for l in a.error_log().splitlines() if 'B2C' in l],
               'b': [l for l in b.error_log().splitlines() if 'B2C' in l],
               'cache_id': hashlib.sha256(('c' + idp.metadata_url()).encode()).hexdigest(),
               'mon': mon.lines[:4000] if mon else []}
        fn = '/tmp/dbg/%s-%d-%s.json' % (backend, rep, 'ok' if (c['metadata'], c['jwks'], c['token']) == (1, 1, 1) else 'BAD')
        json.dump(out, open(fn, 'w'), indent=0)
        assert (c['metadata'], c['jwks'], c['token']) == (1, 1, 1), c
    finally:
        if mon:
            mon.stop_ = True
        server.stop()
