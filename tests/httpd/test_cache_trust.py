# SPDX-License-Identifier: Apache-2.0
"""A shared cache outside httpd is not a trust anchor (issue 11 finding 11): with
B2CAuthCacheKey / B2CClientCacheKey every entry is sealed under its cache key, so whoever
can write the redis or memcached server can delete entries but never plant, alter, move or
read one. Entries are planted here straight into a real redis-server, with the module's key
derivation (providers see SHA-256 of the cache key string) and its sealing (cache_seal.py).

Run:   /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/httpd/test_cache_trust.py
"""

import base64
import hashlib
import json
import os
import time

from cache_seal import SealKey, make_key_file
from conftest import AUD, AUD_URI, ROLE
import test_shared_cache as sc
from test_shared_cache import (OK_BODY, entry_kind, idp, idp_counts, make_server,  # noqa: F401
                               memcached, redis, redis_key)

REFUSED = 'B2C01032'


def verdict_key(idp, token):
    """mod_b2c_auth's shared key of a verdict (shared_key over validation_context) for the
    Location base_rules(idp) makes: default algs (RS256 = 1), default skew, discovered
    issuer, httpd.conf origin rule, no CA bundle."""
    context = ('%s\n1\n300\naud:%s\n%s\niss:(discovered)\ntrust:conf\nca:(system)\naddrs:'
               % (idp.metadata_url('v2'), AUD, AUD_URI))
    digest = hashlib.sha256(context.encode() + b'\0' + token.encode()).hexdigest()
    return 'b2c:tok:' + digest


def planted_claims(sub='planted'):
    exp = int(time.time()) + 3600
    claims = {'sub': sub, 'roles': [ROLE], 'aud': AUD, 'exp': exp}
    return b'b2c1 claims\n%d\n%s' % (exp, json.dumps(claims).encode())


def unsigned_jws(idp):
    """A real-looking token with every claim right and a signature that is not one."""
    t = idp.mint()
    return t.rsplit('.', 1)[0] + '.' + base64.urlsafe_b64encode(os.urandom(256)).decode(
        ).rstrip('=')


def fleet_key(workdir):
    return SealKey.from_file(sc.default_cache_key(workdir))


def plant(redis, key, value):
    redis.cmd('SET', redis_key(key), value, 'EX', 600)


def auth_server(idp, make_server, redis, procs=1, **kw):
    kw.setdefault('server_lines', ['B2CAuthCache redis:%s' % redis.spec])
    return make_server(idp, procs=procs, **kw)


def only_claims(redis):
    """Leave the verdicts in redis only (no keys, no leases): a server started next must
    rely on them or fail with 503 when the identity platform is down."""
    for raw, v in redis.entries().items():
        if entry_kind(v) != 'claims':
            redis.cmd('DEL', raw)


# ---------------------------------------------------------------- planted verdicts

def test_derivation_and_control_sealed_plant_is_accepted(idp, make_server, redis, workdir):
    """The derivation the other tests use is the module's: a valid token's verdict is at
    verdict_key and opens under it; and a verdict sealed with the fleet key IS used (an
    unsigned token gets 200), so the refusals below are the seal's doing."""
    h = auth_server(idp, make_server, redis).start()
    tok = idp.mint()
    assert h.api(tok).status == 200
    key = fleet_key(workdir)
    raw = redis.entries(raw=True).get(redis_key(verdict_key(idp, tok)))
    assert raw is not None, redis.entries(raw=True)
    assert raw[1:9] == key.id and entry_kind(key.peek(raw)) == 'claims'
    forged = unsigned_jws(idp)
    plant(redis, verdict_key(idp, forged), key.seal(verdict_key(idp, forged),
                                                    planted_claims()))
    assert h.api(forged).status == 200      # the key's holder is trusted, by design


def test_planted_plain_verdict_for_unsigned_jws_refused(idp, make_server, redis):
    h = auth_server(idp, make_server, redis).start()
    assert h.api(idp.mint()).status == 200
    forged = unsigned_jws(idp)
    plant(redis, verdict_key(idp, forged), planted_claims())
    r = h.api(forged)
    assert r.status == 401, r
    assert REFUSED in h.error_log()


def test_memcache_planted_verdict_refused_sealed_one_opens(idp, make_server, memcached,
                                                          workdir):
    """memcache: a plain verdict planted for an unsigned token is refused (401, logged);
    the module's own verdict there is sealed with the fleet key, and one sealed with that
    key is used (the control: the refusal is the seal's doing)."""
    h = make_server(idp, procs=1,
                    server_lines=['B2CAuthCache memcache:%s' % memcached.spec]).start()
    tok = idp.mint()
    assert h.api(tok).status == 200
    key = fleet_key(workdir)
    raw = memcached.get(redis_key(verdict_key(idp, tok)))
    assert raw is not None and raw[1:9] == key.id, raw
    assert entry_kind(key.peek(raw)) == 'claims'
    forged = unsigned_jws(idp)
    memcached.set(redis_key(verdict_key(idp, forged)), planted_claims())
    r = h.api(forged)
    assert r.status == 401, r
    assert REFUSED in h.error_log()
    other = unsigned_jws(idp)
    memcached.set(redis_key(verdict_key(idp, other)),
                  key.seal(verdict_key(idp, other), planted_claims()))
    assert h.api(other).status == 200       # the key's holder is trusted, by design


def test_bearer_x_never_looked_up(idp, make_server, redis, workdir):
    """Even a verdict sealed with the fleet key is not found for `Bearer x`: a token that
    is not a JWS never reaches the shared cache."""
    h = auth_server(idp, make_server, redis).start()
    key = fleet_key(workdir)
    for tok in ('x', 'a.b', 'x.y.z'):
        plant(redis, verdict_key(idp, tok), key.seal(verdict_key(idp, tok),
                                                     planted_claims()))
        r = h.api(tok)
        assert r.status == 401, (tok, r)
    assert REFUSED not in h.error_log()     # not refused: never read


def test_verdict_sealed_under_another_key_refused(idp, make_server, redis, workdir):
    h = auth_server(idp, make_server, redis).start()
    other = SealKey.from_file(make_key_file(os.path.join(workdir, 'other.key')))
    forged = unsigned_jws(idp)
    plant(redis, verdict_key(idp, forged), other.seal(verdict_key(idp, forged),
                                                      planted_claims()))
    assert h.api(forged).status == 401
    assert 'key' in h.error_log().split(REFUSED, 1)[1].splitlines()[0]


def test_verdict_copied_from_another_cache_key_refused(idp, make_server, redis):
    """A real, sealed verdict moved under an unsigned token's key does not open there."""
    h = auth_server(idp, make_server, redis).start()
    tok = idp.mint()
    assert h.api(tok).status == 200
    real = redis.entries(raw=True)[redis_key(verdict_key(idp, tok))]
    forged = unsigned_jws(idp)
    plant(redis, verdict_key(idp, forged), real)
    assert h.api(forged).status == 401
    assert REFUSED in h.error_log()


def _second_server_sees(idp, make_server, redis, change, **kw):
    """Server A validates a token, then only the verdicts stay in redis, each passed
    through change(raw) -> raw; with the identity platform down a fresh server B answers
    200 only if it could use the verdict (else 503: no keys)."""
    a = auth_server(idp, make_server, redis, **kw.pop('a', {})).start()
    tok = idp.mint()
    assert a.api(tok).status == 200
    a.stop()
    only_claims(redis)
    raw = redis.entries(raw=True)
    assert raw, 'no verdict in redis'
    for k, v in raw.items():
        redis.cmd('SET', k, change(v), 'EX', 600)
    idp.outage(True)
    b = auth_server(idp, make_server, redis, **kw.pop('b', {})).start()
    return b.api(tok).status, b


def test_unaltered_verdict_used_control(idp, make_server, redis):
    status, _ = _second_server_sees(idp, make_server, redis, lambda v: v)
    assert status == 200


def test_altered_byte_refused(idp, make_server, redis):
    def flip(v):
        i = len(v) // 2
        return v[:i] + bytes([v[i] ^ 1]) + v[i + 1:]
    status, b = _second_server_sees(idp, make_server, redis, flip)
    assert status == 503
    assert REFUSED in b.error_log()


def test_truncated_entry_refused(idp, make_server, redis):
    status, b = _second_server_sees(idp, make_server, redis, lambda v: v[:-1])
    assert status == 503
    status2 = b.api(idp.mint()).status
    assert status2 == 503
    assert REFUSED in b.error_log()


def test_key_rotation_new_server_opens_old_servers_entries(idp, make_server, redis,
                                                           workdir):
    """B still has [old] only, A has [new, old]: A uses what B sealed."""
    old = sc.default_cache_key(workdir)
    new = make_key_file(os.path.join(workdir, 'new.key'))
    status, _ = _second_server_sees(
        idp, make_server, redis, lambda v: v,
        a={'server_lines': ['B2CAuthCache redis:%s' % redis.spec,
                            'B2CAuthCacheKey file:%s' % old]},
        b={'server_lines': ['B2CAuthCache redis:%s' % redis.spec,
                            'B2CAuthCacheKey file:%s file:%s' % (new, old)]})
    assert status == 200


def test_new_key_alone_refuses_old_entries(idp, make_server, redis, workdir):
    new = make_key_file(os.path.join(workdir, 'new.key'))
    status, _ = _second_server_sees(
        idp, make_server, redis, lambda v: v,
        b={'server_lines': ['B2CAuthCache redis:%s' % redis.spec,
                            'B2CAuthCacheKey file:%s' % new]})
    assert status == 503


# ---------------------------------------------------------------- client tokens

def gateway(idp, make_server, redis):
    return make_server(idp, procs=1, client=True,
                       server_lines=['B2CAuthCache redis:%s' % redis.spec],
                       client_lines=['B2CClientCache redis:%s' % redis.spec])


def test_gateway_token_not_in_plain_text(idp, make_server, redis):
    h = gateway(idp, make_server, redis).start()
    r = h.get('/gw/testdata')
    assert r.status == 200 and r.body == OK_BODY, r
    raw = redis.entries('b2c_client', raw=True)
    assert raw, 'no client entries in redis'
    assert redis.of_kind('ctoken', 'b2c_client')       # there, sealed
    for v in list(raw.values()) + list(redis.entries(raw=True).values()):
        assert b'eyJ' not in v and b'b2c1 ' not in v, v[:80]


def test_planted_client_token_not_used(idp, make_server, redis):
    """The client token entry replaced by an unsealed one (newer, long-lived): a fresh
    gateway refuses it and fetches its own token (with the planted one its backend, this
    same server, would answer 401)."""
    a = gateway(idp, make_server, redis).start()
    assert a.get('/gw/testdata').status == 200
    a.stop()
    now = int(time.time())
    for k in redis.of_kind('ctoken', 'b2c_client'):
        redis.cmd('SET', k, b'b2c1 ctoken\n%d\n3600\nPLANTED.token.value' % now, 'EX', 600)
    before = idp_counts(idp)
    b = gateway(idp, make_server, redis).start()
    r = b.get('/gw/testdata')
    assert r.status == 200 and r.body == OK_BODY, r
    assert idp_counts(idp) != before
    assert 'B2C02032' in b.error_log()


# ---------------------------------------------------------------- configuration

def test_redis_without_key_refused(idp, make_server, redis):
    h = auth_server(idp, make_server, redis, cache_key=None)
    rc, out = h.check()
    assert rc != 0 and 'B2CAuthCacheKey' in out and 'redis' in out, out
    try:
        h.start(timeout=5)
        started = True
    except (AssertionError, Exception):
        started = False
    assert not started or not h.alive()
    assert 'B2CAuthCacheKey' in h.error_log() + h.stdout()


def test_client_memcache_without_key_refused(idp, make_server, memcached):
    h = make_server(idp, client=True, cache_key=None,
                    client_lines=['B2CClientCache memcache:%s' % memcached.spec])
    rc, out = h.check()
    assert rc != 0 and 'B2CClientCacheKey' in out, out


def test_key_directive_errors(idp, make_server, workdir):
    short = os.path.join(workdir, 'short.key')
    make_key_file(short, b'sekrit-17\n')
    for line, word in (('B2CAuthCacheKey %s' % short, 'file:'),
                       ('B2CAuthCacheKey file:%s' % short, 'short.key'),
                       ('B2CAuthCacheKey file:/nonexistent/k', '/nonexistent/k')):
        rc, out = make_server(idp, server_lines=[line]).check()
        assert rc != 0 and 'B2CAuthCacheKey' in out and word in out, (line, out)
    assert 'sekrit-17' not in out          # never the key file's content


def test_key_readable_by_others_warned_and_shmcb_sealed(idp, make_server, workdir):
    """Optional with shmcb (sealed then too); a key file others can read is warned of."""
    path = make_key_file(os.path.join(workdir, 'open.key'))
    os.chmod(path, 0o644)
    h = make_server(idp, procs=1, server_lines=['B2CAuthCacheKey file:%s' % path],
                    client=True, client_lines=['B2CClientCacheKey file:%s' % path]).start()
    assert h.api(idp.mint()).status == 200
    assert h.get('/gw/testdata').status == 200
    log = h.error_log() + h.stdout()
    assert 'B2C01031' in log and 'B2C02031' in log, log[-2000:]
