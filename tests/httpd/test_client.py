# SPDX-License-Identifier: Apache-2.0
"""mod_b2c_client end to end, with real servers on loopback:

    caller --> gateway httpd (mod_proxy + mod_b2c_client) --> API httpd (mod_b2c_auth,
               |                                              Require role access:test-api)
               +--> test identity platform (token endpoint)   or the header-echo backend

The gateway is a subclass of conftest.Httpd (Gateway below) that also loads mod_rewrite,
mod_proxy_balancer, mod_lbmethod_byrequests, mod_slotmem_shm and mod_b2c_client, runs a fixed
process model (StartServers = ServerLimit = procs, 16 threads each) and writes <B2CClient>
sections and secret files (root-only, 0600: httpd reads them as root at startup).

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/httpd/test_client.py
Env: B2C_MODULE_DIR (directory holding mod_b2c_client.so; default: the repo root);
     B2C_CORE_DUMPS=1 (with `ulimit -c unlimited`): gateways dump core into ROOT/cores;
     B2C_KEEP_TMP=1 keeps the server roots (conftest).
"""

import json
import os
import re
import shutil
import stat
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import serialization

import idp as idpmod
from conftest import (APACHE_BIN, AUD, CLIENT_MODULE, IS_ROOT, MINTED, MODULE_PATH, ROLE,
                      Httpd, assert_no_tokens_in, base_rules, free_port, http_request, poll,
                      stop_then_check)

SCOPE = 'api://%s/.default' % AUD
API_PATH = '/conf/api/testdata'

# every gateway and API httpd this module started: the last test scans all their logs
STARTED = []
# every secret any gateway was configured with (plus the IdP's real one)
SECRETS = {idpmod.CLIENT_SECRET}


# ------------------------------------------------------------------------------ helpers

def echo_json(resp):
    assert resp.status == 200, resp
    return json.loads(resp.body)


def header_values(echoed, name):
    return [v for k, v in echoed['headers'] if k.lower() == name.lower()]


def bearer(echoed, header='Authorization'):
    """The token of the one `header: Bearer <token>` the backend saw."""
    vals = header_values(echoed, header)
    assert len(vals) == 1, 'backend saw %s: %r' % (header, vals)
    scheme, _, tok = vals[0].partition(' ')
    assert scheme == 'Bearer' and tok, vals
    return tok


def assert_idp_token(idp, tok, client_id=idpmod.CLIENT_ID, kind='v2'):
    """tok was minted by this IdP's token endpoint for client_id; returns its claims."""
    assert tok in MINTED, 'not a token the IdP issued: %s...' % tok[:20]
    claims = idp.verify_token(tok)
    assert claims['azp'] == client_id, claims
    assert claims['aud'] == AUD, claims
    if kind != 'b2c':
        assert claims.get('roles') == [ROLE], claims
    return claims


def token_requests(idp, path=None):
    """The IdP's answered token requests (an entry gets its status when answered)."""
    with idp.lock:
        return [dict(e) for e in idp.request_log
                if e['endpoint'] == 'token' and e.get('status') is not None
                and (path is None or e['path'] == path)]


def fetch_lines(log, logno='02101'):
    """(pid, line) of each B2C<logno> line of an error log."""
    return [(int(m.group(1)), m.group(0)) for m in
            re.finditer(r'^.*\[pid (\d+)[^\]]*\].*B2C%s.*$' % logno, log, re.M)]


# ------------------------------------------------------------------------------ harness

class Gateway(Httpd):
    """An httpd with mod_proxy(+balancer, rewrite) and mod_b2c_client."""

    BASE_MODULES = Httpd.BASE_MODULES + ['rewrite', 'slotmem_shm', 'proxy_balancer',
                                         'lbmethod_byrequests']

    def __init__(self, parent, name, procs=1, loglevel='warn b2c_client:trace8'):
        super().__init__(parent, name=name, load_b2c=False, loglevel=loglevel)
        self.procs = procs
        self.client_blocks = []
        self.extra = []
        self.secrets = set()
        self.secret_dir = os.path.join(self.root, 'secrets')

    # ---- config
    def write(self):
        p = self.procs
        self.server_extra = '\n'.join(
            ['# gateway process model (later values win over the template\'s)',
             'StartServers %d' % p, 'ServerLimit %d' % p, 'ThreadsPerChild 16',
             'MaxRequestWorkers %d' % (16 * p), 'MinSpareThreads 1',
             'MaxSpareThreads %d' % (16 * p + 16),
             'LoadModule b2c_client_module %s' % CLIENT_MODULE]
            + self.client_blocks + self.extra)
        if os.environ.get('B2C_CORE_DUMPS'):     # debugging crashes: ulimit -c unlimited too
            cores = os.path.join(self.root, 'cores')
            os.makedirs(cores, exist_ok=True)
            os.chmod(cores, 0o1777)
            self.server_extra += '\nCoreDumpDirectory %s' % cores
        return super().write()

    def secret_file(self, value, name=None, mode=0o600, newline=True):
        """A secret file in a root-only directory; returns its path."""
        os.makedirs(self.secret_dir, exist_ok=True)
        os.chmod(self.secret_dir, 0o700)
        path = os.path.join(self.secret_dir, name or 'client-%d.secret' % len(self.secrets))
        with open(path, 'w') as f:
            f.write(value + ('\n' if newline else ''))
        os.chmod(path, mode)
        self.secrets.add(value)
        SECRETS.add(value)
        return path

    def add_client(self, name, idp=None, secret=idpmod.CLIENT_SECRET, how='file',
                   client_id=idpmod.CLIENT_ID, endpoint=None, authority=None, scope=SCOPE,
                   extra=()):
        """A <B2CClient name>. how: file|env|literal|none (secret: value, or env var name
        for 'env'); endpoint/authority: default the IdP's v2 token endpoint."""
        lines = []
        if authority:
            lines.append('B2CAuthority %s' % authority)
        else:
            lines.append('B2CTokenEndpoint %s' % (endpoint or idp.token_url('v2')))
        lines.append('B2CClientId %s' % client_id)
        if how == 'file':
            lines.append('B2CClientSecret file:%s' % self.secret_file(secret))
        elif how == 'env':
            lines.append('B2CClientSecret env:%s' % secret)
        elif how == 'literal':
            self.secrets.add(secret)
            SECRETS.add(secret)
            lines.append('B2CClientSecret %s' % secret)
        if scope:
            lines.append('B2CScope %s' % scope)
        lines += list(extra)
        self.client_blocks.append('<B2CClient %s>\n    %s\n</B2CClient>'
                                  % (name, '\n    '.join(lines)))
        return self

    def add_server(self, text):
        self.extra.append(text)
        return self

    def proxy_location(self, path, target, client='backend', extra=()):
        lines = ['ProxyPass %s' % target]
        if client:
            lines.append('B2CClientToken %s' % client)
        self.add_raw('<Location %s>\n    %s\n</Location>'
                     % (path, '\n    '.join(lines + list(extra))))
        return self

    # ---- logs
    def all_logs(self):
        return self.error_log() + self._read(os.path.join(self.root, 'logs', 'stdout.log'))


def check_logs_clean(h, secrets):
    text = h.all_logs() if isinstance(h, Gateway) else h.error_log()
    assert_no_tokens_in(text, MINTED, '%s logs' % h.name)
    leaked = [s[:6] + '...' for s in secrets if s and s in text]
    assert not leaked, 'client secrets found in %s logs: %s' % (h.name, leaked)


@pytest.fixture
def make_gateway(workdir, request):
    made = []

    def make(procs=1, **kw):
        name = 'gw-%s-%d' % (re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name)[:50], len(made))
        g = Gateway(workdir, name, procs=procs, **kw)
        made.append(g)
        STARTED.append(g)
        return g
    yield make
    stop_then_check(made, lambda g: check_logs_clean(g, SECRETS))


def start_api(make_httpd, idp):
    """The protected API: mod_b2c_auth, Require role access:test-api, 'Operation authorized'."""
    h = make_httpd(server_extra='B2CAuthMetadataAllow %s/' % idp.base)
    h.add_location('conf', 'api', base_rules(idp) + ['Require role %s' % ROLE])
    STARTED.append(h)
    return h.start()


# ------------------------------------------------------------------------------ shared gateway

AUTHORITY_FORMS = {
    # name: (authority URL relative to the IdP base, token endpoint path it must reach)
    # tenant spelled differently per form (the IdP matches it case-insensitively), so
    # each form's token requests can be told apart from the other clients'
    'oauth2_v2': ('/{TID}/oauth2/v2.0', '/{TID}/oauth2/v2.0/token'),
    'v2': ('/contoso.onmicrosoft.com/v2.0', '/contoso.onmicrosoft.com/oauth2/v2.0/token'),
    'tenant': ('/contoso/', '/contoso/oauth2/v2.0/token'),
    'discovery': ('/Contoso/v2.0/.well-known/openid-configuration',
                  '/Contoso/oauth2/v2.0/token'),
    'b2c_policy': ('/contoso.onmicrosoft.com/B2C_1_client_credentials/v2.0',
                   '/contoso.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token'),
}
PROXY_KINDS = ['proxypass', 'rewrite_server', 'rewrite_dir', 'balancer', 'sethandler',
               'proxy_section_balancer', 'proxy_section_url']
PROXY_PATHS = {'proxypass': '/echo/x', 'rewrite_server': '/rw/x', 'rewrite_dir': '/conf/rwdir/x',
               'balancer': '/bal/x', 'sethandler': '/sh/x', 'proxy_section_balancer': '/psec/x',
               'proxy_section_url': '/purl/x'}
BAD_SECRET_SHARED = 'wrong-' + uuid.uuid4().hex


@pytest.fixture(scope='module')
def gw(workdir, shared_idp, echo_backend):
    """One gateway (2 processes) for the tests that do not change IdP state: the shared
    IdP's default client as 'backend', one client per B2CAuthority form, a 'broken' client
    with a wrong secret, and the API httpd behind /api/."""
    idp = shared_idp
    api = Httpd(workdir, 'client-api', server_extra='B2CAuthMetadataAllow %s/' % idp.base)
    api.add_location('conf', 'api', base_rules(idp) + ['Require role %s' % ROLE])
    g = Gateway(workdir, 'client-shared-gw', procs=2)
    STARTED.extend([api, g])
    e = 'http://127.0.0.1:%d' % echo_backend
    g.add_client('backend', idp)
    g.add_client('broken', idp, secret=BAD_SECRET_SHARED)
    for form, (auth, _) in AUTHORITY_FORMS.items():
        g.add_client('auth-' + form, idp, authority=idp.base + auth.format(TID=idp.tid.upper()))
        g.proxy_location('/auth-%s/' % form, e + '/auth-%s/' % form, 'auth-' + form)
    g.proxy_location('/api/', 'http://127.0.0.1:%d/conf/api/' % api.port)
    g.proxy_location('/echo/', e + '/echo/')
    g.add_raw('<Location /echo/off/>\n    B2CClientToken Off\n</Location>')
    g.proxy_location('/hdr/', e + '/hdr/', extra=['B2CClientTokenHeader X-Backend-Auth'])
    # RewriteRule [P] in server context, and in a <Directory> (mod_rewrite's fixups)
    g.add_raw('RewriteEngine On\nRewriteRule ^/rw/(.*)$ %s/rw/$1 [P]\n'
              '<Location /rw/>\n    B2CClientToken backend\n</Location>' % e)
    g.add_location('conf', 'rwdir', ['RewriteEngine On',
                                     'RewriteRule ^(.*)$ %s/rwdir/$1 [P]' % e,
                                     'B2CClientToken backend'])
    g.add_raw('<Proxy balancer://echo-cluster>\n    BalancerMember %s\n</Proxy>\n'
              '<Location /bal/>\n    ProxyPass balancer://echo-cluster/bal/\n'
              '    B2CClientToken backend\n</Location>' % e)
    g.add_raw('<Location /sh/>\n    SetHandler "proxy:%s"\n    B2CClientToken backend\n'
              '</Location>' % e)
    # the token named in a <Proxy> section (docs: covers every ProxyPass to that backend)
    g.add_raw('<Proxy "balancer://psec">\n    BalancerMember %s\n    B2CClientToken backend\n'
              '</Proxy>\nProxyPass /psec/ balancer://psec/psec/' % e)
    g.add_raw('<Proxy "%s/purl/">\n    B2CClientToken backend\n</Proxy>\n'
              'ProxyPass /purl/ %s/purl/' % (e, e))
    # ProxyPass ! exclusion under a location whose client has no token (proxied: 503)
    g.proxy_location('/px/', e + '/px/', 'broken')
    g.add_raw('<Location /px/local/>\n    ProxyPass !\n</Location>')
    # forward proxy: never a token, even with B2CClientToken in the matching <Proxy>
    g.fwd_port = free_port()
    g.add_raw('Listen 127.0.0.1:%d\n<VirtualHost 127.0.0.1:%d>\n    ProxyRequests On\n'
              '    <Proxy "*">\n        B2CClientToken backend\n    </Proxy>\n'
              '</VirtualHost>' % (g.fwd_port, g.fwd_port))
    # the gateway validates its callers' tokens (mod_b2c_auth) and forwards its own
    g.add_server('LoadModule b2c_auth_module %s' % MODULE_PATH)
    g.proxy_location('/authed/', e + '/authed/',
                     extra=base_rules(idp) + ['Require role %s' % ROLE])
    # not proxied: a static file and a CGI in locations that name a client
    g.add_location('conf', 'static', ['B2CClientToken backend', 'CGIPassAuth On'])
    g.add_location('conf', 'static_hdr', ['B2CClientToken backend',
                                          'B2CClientTokenHeader X-Backend-Auth'])
    g.add_location('conf', 'static_broken', ['B2CClientToken broken', 'CGIPassAuth On'])
    # .htaccess may not name clients, not even with AllowOverride All
    g.add_location('htaccess', 'hta_token', ['B2CClientToken backend'])
    g.add_location('htaccess', 'hta_all', ['B2CClientToken backend'])
    g.add_location('htaccess', 'hta_header', ['B2CClientTokenHeader X-Backend-Auth'])
    g.add_raw('<Directory "%s/htdocs/hta/hta_all">\n    AllowOverride All\n</Directory>' % g.root)
    g.api = api
    try:
        api.start()
        g.start()
        yield g
    finally:
        g.stop()
        api.stop()
    check_logs_clean(g, SECRETS)
    check_logs_clean(api, SECRETS)


# ------------------------------------------------------------------------------ end to end

def test_end_to_end_200_through_api(gw, shared_idp):
    r = gw.get('/api/testdata')
    assert r.status == 200 and 'Operation authorized' in r.body, r
    # the API really demands a token: straight to it without one is 401
    assert gw.api.get(API_PATH).status == 401


@pytest.mark.parametrize('kind', PROXY_KINDS)
def test_backend_sees_bearer_token_from_idp(gw, shared_idp, kind):
    r = gw.get(PROXY_PATHS[kind])
    assert r.status == 200, r
    d = echo_json(r)
    assert_idp_token(shared_idp, bearer(d))


def test_incoming_authorization_replaced(gw, shared_idp):
    r = gw.get('/echo/replace', headers=[('Authorization', 'Bearer caller-token-xyz'),
                                         ('Authorization', 'Basic dXNlcjpwdw==')])
    d = echo_json(r)
    tok = bearer(d)          # exactly one Authorization, and it is ours
    assert 'caller-token-xyz' not in r.body and 'dXNlcjpwdw' not in r.body
    assert_idp_token(shared_idp, tok)
    # through the real API too: a forged caller token does not get in the way
    r = gw.get('/api/testdata', token='forged.caller.token')
    assert r.status == 200 and 'Operation authorized' in r.body, r


def test_token_header_keeps_caller_authorization(gw, shared_idp):
    r = gw.get('/hdr/x', headers=[('Authorization', 'Bearer caller-token-xyz'),
                                  ('x-backend-auth', 'Bearer spoofed-by-caller')])
    d = echo_json(r)
    assert header_values(d, 'Authorization') == ['Bearer caller-token-xyz'], d['headers']
    assert 'spoofed-by-caller' not in r.body
    assert_idp_token(shared_idp, bearer(d, 'X-Backend-Auth'))
    # no caller Authorization: none is invented
    d = echo_json(gw.get('/hdr/y'))
    assert header_values(d, 'Authorization') == [], d['headers']
    assert_idp_token(shared_idp, bearer(d, 'X-Backend-Auth'))


def test_client_token_off_in_sub_location(gw):
    d = echo_json(gw.get('/echo/off/x', token='caller-token-xyz'))
    assert header_values(d, 'Authorization') == ['Bearer caller-token-xyz'], d['headers']


def test_gateway_validates_caller_and_forwards_own_token(gw, shared_idp):
    caller = shared_idp.mint(client_id=str(uuid.uuid4()))
    d = echo_json(gw.get('/authed/x', token=caller))
    tok = bearer(d)
    assert tok != caller
    assert_idp_token(shared_idp, tok)
    r = gw.get('/authed/x')
    assert r.status == 401, r


def test_forward_proxy_requests_get_no_token(gw, echo_backend):
    # absolute-form request to the forward-proxy virtual host
    r = http_request(gw.fwd_port, 'http://127.0.0.1:%d/fwd/x' % echo_backend,
                     [('Host', '127.0.0.1:%d' % echo_backend)])
    d = echo_json(r)
    assert d['path'] == '/fwd/x'
    assert header_values(d, 'Authorization') == [], d['headers']


# ------------------------------------------------------------------------------ non-proxied

def test_non_proxied_requests_untouched(gw):
    # static file in a location naming a client
    r = gw.get('/conf/static/testdata')
    assert r.status == 200 and r.body == 'Operation authorized', r
    # CGI (CGIPassAuth On would show an injected Authorization as HTTP_AUTHORIZATION)
    env = gw.get('/conf/static/env.cgi').env()
    assert 'HTTP_AUTHORIZATION' not in env, env.get('HTTP_AUTHORIZATION', '')[:30]
    env = gw.get('/conf/static/env.cgi', token='caller-token-xyz').env()
    assert env.get('HTTP_AUTHORIZATION') == 'Bearer caller-token-xyz', env   # control
    env = gw.get('/conf/static_hdr/env.cgi').env()
    assert 'REQUEST_METHOD' in env and 'HTTP_X_BACKEND_AUTH' not in env, env


def test_proxypass_exclusion_untouched(gw):
    assert gw.get('/px/x').status == 503            # proxied, client without a token
    r = gw.get('/px/local/testdata')                # ProxyPass !: not proxied
    assert r.status == 404, r


def test_non_proxied_not_503_when_client_has_no_token(gw):
    # 'broken' has a wrong secret: a proxied request would get 503; these are not proxied
    r = gw.get('/conf/static_broken/testdata')
    assert r.status == 200 and r.body == 'Operation authorized', r
    r = gw.get('/conf/static_broken/env.cgi', token='caller-token-xyz')
    assert r.status == 200, r
    assert r.env().get('HTTP_AUTHORIZATION') == 'Bearer caller-token-xyz'


# ------------------------------------------------------------------------------ authorities

@pytest.mark.parametrize('form', list(AUTHORITY_FORMS))
def test_authority_forms_reach_token_endpoint(gw, shared_idp, form):
    idp = shared_idp
    auth, endpoint_path = AUTHORITY_FORMS[form]
    endpoint_path = endpoint_path.format(TID=idp.tid.upper())
    r = gw.get('/auth-%s/x' % form)
    assert r.status == 200, (r, gw.error_log()[-1500:])
    assert_idp_token(idp, bearer(echo_json(r)), kind='b2c' if 'b2c' in form else 'v2')
    reqs = token_requests(idp, endpoint_path)
    assert reqs and all(e['method'] == 'POST' and e['status'] == 200 for e in reqs), reqs
    if form == 'discovery':
        md = [e for e in idp.request_log if e['endpoint'] == 'metadata'
              and e['path'] == auth]
        assert md, 'the discovery document was never fetched'


# ------------------------------------------------------------------------------ .htaccess

@pytest.mark.parametrize('where', ['hta_token', 'hta_all', 'hta_header'])
def test_client_directives_refused_in_htaccess(gw, where):
    mark = gw.log_mark()
    r = gw.get('/hta/%s/testdata' % where)
    assert r.status == 500, r
    log = poll(lambda: gw.log_since(mark) if 'not allowed here' in gw.log_since(mark) else '', 5)
    assert re.search(r'B2CClientToken(Header)? not allowed here', log), gw.log_since(mark)


# ------------------------------------------------------------------------------ token reuse

def test_token_reused_across_requests(idp, make_httpd, make_gateway):
    procs = 2
    api = start_api(make_httpd, idp)
    g = make_gateway(procs=procs)
    g.add_client('backend', idp)
    g.proxy_location('/api/', 'http://127.0.0.1:%d/conf/api/' % api.port)
    g.start()
    assert g.get('/api/testdata').status == 200

    def one(_):
        r = http_request(g.port, '/api/testdata', timeout=20)
        return r.status, r.body
    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(one, range(200)))
    bad = [x for x in results if x != (200, 'Operation authorized')]
    assert not bad, bad[:5]
    workers = [p for p in g.child_pids()]
    fetches = fetch_lines(g.error_log())
    per_pid = {}
    for pid, _ in fetches:
        per_pid[pid] = per_pid.get(pid, 0) + 1
    assert idp.counts['token'] <= procs, (idp.counts, fetches)
    assert all(n == 1 for n in per_pid.values()), per_pid
    assert len(token_requests(idp)) == len(fetches), (token_requests(idp), fetches)
    assert len(workers) >= procs  # the process model we asked for is what ran


def test_watchdog_prefetches_only_clients_in_use(idp, make_gateway, echo_backend):
    """Each child fetches the tokens its locations need within about a second of starting,
    before any request; a <B2CClient> no B2CClientToken names is not fetched (commit
    ea25368; docs/mod_b2c_client.md still says every defined client is)."""
    unused_id = str(uuid.uuid4())
    idp.clients[unused_id] = idpmod.Client(unused_id, secret='unused-' + uuid.uuid4().hex,
                                           oid=str(uuid.uuid4()))
    g = make_gateway(procs=2)
    g.add_client('backend', idp)
    g.add_client('unused', idp, client_id=unused_id, secret=idp.clients[unused_id].secret)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    used = lambda: [e for e in token_requests(idp) if e['form'].get('client_id') == idpmod.CLIENT_ID]
    assert poll(lambda: len(used()) >= 2, 5), token_requests(idp)
    assert all(e['status'] == 200 for e in used())
    time.sleep(1.5)     # two more watchdog rounds: what must NOT happen is a fetch for 'unused'
    assert not [e for e in token_requests(idp) if e['form'].get('client_id') == unused_id]
    assert len(used()) == 2, used()
    # the first request finds the token already there: no further token request
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))))
    assert len(token_requests(idp)) == 2


# ------------------------------------------------------------------------------ refresh

def test_refresh_before_expiry_without_failures(idp, make_httpd, make_gateway, echo_backend):
    life = 20       # refresh half way (short tokens), usable until 2 s before expiry
    idp.token_lifetime = life
    api = start_api(make_httpd, idp)
    g = make_gateway(procs=1)
    g.add_client('backend', idp)
    g.proxy_location('/api/', 'http://127.0.0.1:%d/conf/api/' % api.port)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    t1 = bearer(echo_json(g.get('/echo/1')))
    c1 = assert_idp_token(idp, t1)
    assert len(token_requests(idp)) == 1
    failures, seen = [], {t1: time.time()}

    def step():
        a = g.get('/api/testdata')
        if a.status != 200:
            failures.append(('api', time.time(), a.status, a.headers.get('Retry-After')))
        e = g.get('/echo/2')
        if e.status != 200:
            failures.append(('echo', time.time(), e.status, e.headers.get('Retry-After')))
        else:
            seen.setdefault(bearer(echo_json(e)), time.time())
        return len(seen) >= 2 and len(token_requests(idp)) >= 2
    assert poll(step, timeout=life + 5, interval=0.25), (seen.keys(), token_requests(idp))
    assert not failures, failures
    reqs = token_requests(idp)
    assert all(e['status'] == 200 for e in reqs), reqs
    t2 = [t for t in seen if t != t1][0]
    assert_idp_token(idp, t2)
    # refreshed ahead of expiry, but not long before it was due (half way for short tokens)
    assert reqs[1]['time'] < c1['exp'] - 1, (reqs[1]['time'], c1['exp'])
    assert reqs[1]['time'] >= c1['iat'] + 0.4 * life, (reqs[1]['time'], c1['iat'])
    assert seen[t2] < c1['exp'], (seen[t2], c1['exp'])
    # after the refresh, the new token is the one used
    assert bearer(echo_json(g.get('/echo/3'))) == t2


# ------------------------------------------------------------------------------ failures

def test_bad_secret_503_retry_after_backend_not_called(idp, make_gateway, rec_backend):
    wrong = 'Wr0ng~secret.' + uuid.uuid4().hex
    g = make_gateway(procs=1)
    g.add_client('backend', idp, secret=wrong)
    g.proxy_location('/rec/', 'http://127.0.0.1:%d/rec/' % rec_backend.server_address[1])
    g.start()
    r = g.get('/rec/x')
    assert r.status == 503, r
    ra = r.headers.get('Retry-After')
    assert ra is not None and ra.isdigit() and 1 <= int(ra) <= 60, ra
    assert wrong not in r.body
    n = idp.counts['token']
    assert 1 <= n <= 2, idp.counts
    for _ in range(5):
        r = g.get('/rec/x')
        assert r.status == 503 and r.headers.get('Retry-After'), r
    assert idp.counts['token'] == n, 'a refused secret must not be retried at once'
    assert rec_backend.seen == [], rec_backend.seen
    log = poll(lambda: g.error_log() if 'B2C02103' in g.error_log() else '', 5)
    lines = [l for l in log.splitlines() if 'B2C02102' in l]
    assert lines, log[-2000:]
    assert any('AADSTS7000215' in l and 'invalid_client' in l for l in lines), lines
    assert 'B2C02103' in log
    assert wrong not in g.all_logs()


def _fragments(secret, n=12):
    return {secret[i:i + n] for i in range(0, len(secret) - n + 1)}


@pytest.mark.parametrize('shape', ['plain', 'quote', 'backslash', 'long_description',
                                   'in_error_field'])
def test_secret_echoed_by_idp_is_not_logged(idp, make_gateway, rec_backend, shape):
    """The docs: if the identity platform echoes the secret in its error text, the module
    logs '(error text withheld ...)'. No 12-character piece of the secret may reach a log."""
    secret = {'quote': 'Echo"secret.', 'backslash': 'Echo\\secret.'}.get(shape, 'Echo~secret.')
    secret += uuid.uuid4().hex
    desc = 'AADSTS7000215: Invalid client secret provided: %s' % secret
    if shape == 'long_description':
        desc = 'AADSTS7000215: Invalid client secret provided. ' + 'x' * 240 + ' ' + secret
    body = {'error': 'invalid_client', 'error_codes': [7000215], 'error_description': desc}
    if shape == 'in_error_field':
        body = {'error': 'invalid_client_' + secret, 'error_codes': [7000215]}
    idp.set_fault('token', 'status', status=401, body=body)
    g = make_gateway(procs=1)
    g.add_client('backend', idp, secret=secret)
    g.proxy_location('/rec/', 'http://127.0.0.1:%d/rec/' % rec_backend.server_address[1])
    g.start()
    assert g.get('/rec/x').status == 503
    assert poll(lambda: 'B2C02103' in g.error_log(), 5), g.error_log()[-1500:]
    logs = g.all_logs()
    leaked = [f for f in _fragments(secret) if f in logs]
    assert not leaked, 'secret pieces in the log: %r\n%s' % (
        sorted(leaked)[:3], [l for l in logs.splitlines() if 'B2C0210' in l][:2])
    assert rec_backend.seen == []


def test_idp_retry_after_is_honoured(idp, make_gateway, rec_backend):
    idp.set_fault('token', 'status', status=503, retry_after=120)
    g = make_gateway(procs=1)
    g.add_client('backend', idp)
    g.proxy_location('/rec/', 'http://127.0.0.1:%d/rec/' % rec_backend.server_address[1])
    g.start()
    r = g.get('/rec/x')
    assert r.status == 503, r
    ra = r.headers.get('Retry-After')
    assert ra and ra.isdigit() and 110 <= int(ra) <= 120, ra
    n = idp.counts['token']
    for _ in range(3):
        assert g.get('/rec/x').status == 503
    assert idp.counts['token'] == n, 'retried before the Retry-After of the token endpoint'
    assert rec_backend.seen == []


def test_graceful_restart_rereads_rotated_secret(idp, make_gateway, echo_backend):
    """The documented rotation: new secret in the file, graceful restart, new children
    use it (the old one no longer works at the IdP)."""
    import signal
    g = make_gateway(procs=1)
    g.add_client('backend', idp)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    t1 = bearer(echo_json(g.get('/echo/1')))
    new = 'Rotated~' + uuid.uuid4().hex
    path = [l.split('file:', 1)[1] for b in g.client_blocks for l in b.splitlines()
            if 'file:' in l][0]
    with open(path, 'w') as f:
        f.write(new + '\n')
    g.secrets.add(new)
    SECRETS.add(new)
    idp.clients[idpmod.CLIENT_ID].secret = new        # the old secret is now refused
    mark = g.log_mark()
    g.proc.send_signal(signal.SIGUSR1)                 # graceful restart
    assert poll(lambda: 'resuming normal operations' in g.log_since(mark), 10), g.log_since(mark)

    def fresh():
        r = g.get('/echo/2')
        return r if r.status == 200 and bearer(echo_json(r)) != t1 else None
    r = poll(fresh, 10, 0.2)
    assert r, (g.log_since(mark)[-2000:], token_requests(idp)[-2:])
    assert_idp_token(idp, bearer(echo_json(r)))
    assert all(e['status'] == 200 for e in token_requests(idp)), token_requests(idp)
    assert new not in g.all_logs()


@pytest.mark.parametrize('mode', ['close', 'status'])
def test_idp_down_cached_token_then_503(idp, make_gateway, rec_backend, mode):
    """IdP down (connections dropped, or 503 temporarily_unavailable) after a token is
    cached: the cached token is used until its use-until time, then 503."""
    life = 10       # refresh at +5 s, usable until +9 s
    idp.token_lifetime = life
    g = make_gateway(procs=1)
    g.add_client('backend', idp)
    g.proxy_location('/rec/', 'http://127.0.0.1:%d/rec/' % rec_backend.server_address[1])
    g.start()
    t1 = bearer(echo_json(g.get('/rec/1')))
    c1 = assert_idp_token(idp, t1)
    idp.outage(True, mode=mode)
    t_down = time.time()
    oks, first_503 = [], []

    def step():
        r = g.get('/rec/2')
        if r.status == 200:
            oks.append((time.time(), bearer(echo_json(r))))
            return False
        first_503.append((time.time(), r))
        return True
    assert poll(step, timeout=life + 8, interval=0.2), 'no 503 after the token expired'
    when, r = first_503[0]
    assert r.status == 503, r
    ra = r.headers.get('Retry-After')
    assert ra and ra.isdigit() and int(ra) >= 1, ra
    assert oks, 'no request succeeded with the cached token while the IdP was down'
    assert all(tok == t1 for _, tok in oks), 'a token appeared while the IdP was down'
    # the cached token was used after the failed refresh (+5 s), never after its expiry
    assert max(t for t, _ in oks) >= c1['iat'] + life / 2 + 1, (oks[-1][0], c1['iat'])
    assert max(t for t, _ in oks) < c1['exp'], (oks[-1][0], c1['exp'])
    assert when >= t_down and when < c1['exp'] + 3, (when, c1['exp'])
    failed = [e for e in token_requests(idp) if e['status'] in ('closed', 503)]
    assert failed, 'the gateway never tried to refresh while the IdP was down'
    before = len(rec_backend.seen)
    assert g.get('/rec/3').status == 503
    assert len(rec_backend.seen) == before, 'backend called without a token'
    assert re.search(r'B2C02102.*%s' % ('unreachable' if mode == 'close' else
                                        'temporarily_unavailable'), g.error_log()), \
        g.error_log()[-1500:]
    # back up: within the backoff, requests get a fresh token again
    idp.outage(False)
    r = poll(lambda: (lambda x: x if x.status == 200 else None)(g.get('/rec/4')), 25, 0.5)
    assert r and r.status == 200, g.error_log()[-1500:]
    assert bearer(echo_json(r)) != t1


# ------------------------------------------------------------------------------ client auth

def test_client_secret_basic(idp, make_gateway, echo_backend):
    g = make_gateway(procs=1)
    g.add_client('backend', idp, extra=['B2CClientAuthMethod client_secret_basic'])
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))))
    reqs = token_requests(idp)
    assert reqs and all(e['status'] == 200 for e in reqs), reqs
    for e in reqs:
        auth = {k.lower(): v for k, v in e['headers'].items()}.get('authorization', '')
        assert auth.startswith('Basic '), e['headers']
        assert 'client_secret' not in e['form'], e['form']
        assert e['form'].get('grant_type') == 'client_credentials'
        assert e['form'].get('scope') == SCOPE


def test_client_secret_post_is_default(idp, make_gateway, echo_backend):
    g = make_gateway(procs=1)
    g.add_client('backend', idp)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))))
    for e in token_requests(idp):
        assert e['form'].get('client_secret') == '<redacted>', e['form']
        assert 'authorization' not in {k.lower() for k in e['headers']}


def test_private_key_jwt_certificate(idp, make_gateway, echo_backend):
    key, cert = idpmod.make_client_certificate()
    cid = str(uuid.uuid4())
    idp.clients[cid] = idpmod.Client(cid, secret=None, cert=cert, oid=str(uuid.uuid4()))
    procs = 2
    g = make_gateway(procs=procs)
    os.makedirs(g.secret_dir, exist_ok=True)
    os.chmod(g.secret_dir, 0o700)
    cert_file = os.path.join(g.secret_dir, 'client.crt')
    key_file = os.path.join(g.secret_dir, 'client.key')
    with open(cert_file, 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(key_file, 0o600)
    g.add_client('backend', idp, how='none', client_id=cid,
                 extra=['B2CClientCertificate %s %s' % (cert_file, key_file)])
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))), client_id=cid)
    # each process gets its own token (watchdog prefetch): two assertions
    assert poll(lambda: len(token_requests(idp)) >= 2, 10), token_requests(idp)
    reqs = token_requests(idp)
    assert all(e['status'] == 200 for e in reqs), [(e['status'], e['form']) for e in reqs]
    for e in reqs:
        f = e['form']
        assert f.get('client_assertion_type') == \
            'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', f
        assert 'client_assertion' in f and 'client_secret' not in f, f
    # the IdP refuses a replayed jti (AADSTS7000229), so all-200 already implies distinct
    # jti; check the set too
    assert len(idp.used_jti) == len(reqs) >= 2, (idp.used_jti, len(reqs))


# ------------------------------------------------------------------------------ config

def test_root_only_secret_file_is_enough(idp, make_gateway, echo_backend):
    g = make_gateway(procs=1)
    g.add_client('backend', idp)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    path = [l.split('file:', 1)[1] for b in g.client_blocks for l in b.splitlines()
            if 'file:' in l][0]
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    if IS_ROOT:
        assert st.st_uid == 0
        # the workers (www-data) cannot read it ...
        p = subprocess.run(['setpriv', '--reuid=www-data', '--regid=www-data', '--clear-groups',
                            'cat', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.returncode != 0 and not p.stdout
    g.start()
    # ... and need not: httpd read it as root at startup
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))))


def test_secret_file_missing_fails_config_test(idp, make_gateway):
    g = make_gateway()
    missing = os.path.join(g.root, 'no-such-dir', 'client.secret')
    g.client_blocks.append('<B2CClient backend>\n B2CTokenEndpoint %s\n B2CClientId %s\n'
                           ' B2CClientSecret file:%s\n B2CScope %s\n</B2CClient>'
                           % (idp.token_url(), idpmod.CLIENT_ID, missing, SCOPE))
    rc, out = g.check()
    assert rc != 0, out
    assert missing in out, out


def test_secret_file_not_regular_or_empty_fails(idp, make_gateway):
    for kind in ('dir', 'empty'):
        g = make_gateway()
        path = os.path.join(g.root, 'secret-' + kind)
        os.makedirs(g.root, exist_ok=True)
        if kind == 'dir':
            os.makedirs(path, exist_ok=True)
        else:
            open(path, 'w').close()
        g.client_blocks.append('<B2CClient backend>\n B2CTokenEndpoint %s\n B2CClientId %s\n'
                               ' B2CClientSecret file:%s\n B2CScope %s\n</B2CClient>'
                               % (idp.token_url(), idpmod.CLIENT_ID, path, SCOPE))
        rc, out = g.check()
        assert rc != 0 and path in out, (kind, out)


@pytest.mark.skipif(not IS_ROOT or not shutil.which('setpriv'),
                    reason='needs root to run the config test as another user')
def test_secret_file_unreadable_fails_config_test(idp, make_gateway):
    # root reads any file: run `apache2 -t` as www-data, for whom the 0700 directory
    # holding the 0600 secret is closed
    g = make_gateway()
    g.add_client('backend', idp)
    path = os.path.join(g.secret_dir, 'client-0.secret')
    g.write()
    p = subprocess.run(['setpriv', '--reuid=www-data', '--regid=www-data', '--clear-groups',
                        APACHE_BIN, '-t', '-f', g.conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode('utf-8', 'replace')
    assert p.returncode != 0, out
    assert path in out and 'ermission denied' in out, out
    assert idpmod.CLIENT_SECRET not in out


def test_env_secret(idp, make_gateway, echo_backend, monkeypatch):
    var = 'B2C_TEST_SECRET_%s' % uuid.uuid4().hex[:8].upper()
    g = make_gateway()
    g.add_client('backend', idp, how='env', secret=var)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    monkeypatch.delenv(var, raising=False)
    rc, out = g.check()
    assert rc != 0 and var in out, out
    monkeypatch.setenv(var, idpmod.CLIENT_SECRET)
    rc, out = g.check()
    assert rc == 0, out
    g.start()
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))))


def test_literal_secret_warns(idp, make_gateway, echo_backend):
    g = make_gateway()
    g.add_client('backend', idp, how='literal', secret=idpmod.CLIENT_SECRET)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend)
    g.start()
    assert_idp_token(idp, bearer(echo_json(g.get('/echo/x'))))
    logs = g.all_logs()
    assert re.search(r'B2C02001.*B2CClient backend', logs), logs[-2000:]
    assert idpmod.CLIENT_SECRET not in logs


def test_undefined_client_fails_config_test(idp, make_gateway, echo_backend):
    g = make_gateway()
    g.add_client('backend', idp)
    g.proxy_location('/echo/', 'http://127.0.0.1:%d/echo/' % echo_backend, client='no-such-client')
    rc, out = g.check()
    assert rc != 0, out
    assert 'no-such-client' in out and 'B2C02002' in out, out


@pytest.mark.parametrize('container', ['VirtualHost', 'Location', 'Directory'])
def test_client_section_outside_server_config_fails(idp, make_gateway, container):
    g = make_gateway()
    secret = g.secret_file(idpmod.CLIENT_SECRET)
    arg = {'VirtualHost': '127.0.0.1:%d' % g.port, 'Location': '/x',
           'Directory': '"%s/htdocs"' % g.root}[container]
    g.add_raw('<%s %s>\n<B2CClient backend>\n B2CTokenEndpoint %s\n B2CClientId %s\n'
              ' B2CClientSecret file:%s\n B2CScope %s\n</B2CClient>\n</%s>'
              % (container, arg, idp.token_url(), idpmod.CLIENT_ID, secret, SCOPE, container))
    rc, out = g.check()
    assert rc != 0, out
    assert 'B2CClient' in out, out


# ------------------------------------------------------------------------------ logs (last)

def test_zz_no_tokens_or_secrets_in_any_log():
    """Every gateway and API httpd this module ran: no token or secret bytes in its logs."""
    assert STARTED and MINTED
    for h in STARTED:
        check_logs_clean(h, SECRETS)
