# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the mod_b2c_auth integration suite: a real httpd on loopback, the test
identity platform (tests/idp/idp.py) and a header-echo backend. The helpers the test
files share live here too (poll, free_port, Recorder, stop_then_check...); what the load
tools share with the suites is in tests/tools/ and re-exported from here.

Run:  cd /work/main && /usr/bin/python3 -m pytest -q tests/httpd
Env:  B2C_MODULE_DIR   directory holding mod_b2c_auth.so (default: the repo root)
      APACHE_BIN       httpd binary (default /usr/sbin/apache2)
      APACHE_MODULES   httpd module dir (default /usr/lib/apache2/modules)
      B2C_KEEP_TMP=1   keep the generated ServerRoots (printed at session end)
      B2C_HTTPD_PROCS  httpd child processes (default 1; fetch-count tests assume 1)

The suite FAILS (it does not skip) when the module is missing.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'idp'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'tools'))
import idp as idpmod  # noqa: E402
# re-exported: the test files import these from conftest
from httpd_env import (APACHE_BIN, APACHE_MODULES, CLIENT_MODULE,  # noqa: E402,F401
                       IS_ROOT, MODULE_DIR)
from httpd_env import AUTH_MODULE as MODULE_PATH  # noqa: E402
from loopback import free_port, poll, proc_children, stop_process  # noqa: E402,F401
# One child process by default: the caches and fetch counters the tests assert on are
# per process. B2C_HTTPD_PROCS=3 runs the stateless checks against several processes.
HTTPD_PROCS = int(os.environ.get('B2C_HTTPD_PROCS', '1'))

AUD = idpmod.API_CLIENT_ID
AUD_URI = 'api://' + idpmod.API_CLIENT_ID
ROLE = idpmod.ROLE
TENANT2 = idpmod.Tenant('9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d', 'fabrikam')
MODES = ['conf', 'htaccess']

# Every token minted through a RecordingIdP, so the logs can be searched for them.
MINTED = []

ENV_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env
"""


class RecordingIdP(idpmod.TestIdP):
    __test__ = False

    def mint(self, *a, **kw):
        t = super().mint(*a, **kw)
        MINTED.append(t)
        return t

    def mint_raw(self, *a, **kw):
        t = super().mint_raw(*a, **kw)
        MINTED.append(t)
        return t


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # http.client.HTTPMessage (get_all for repeats)
        self.body = body

    @property
    def www_authenticate(self):
        return self.headers.get_all('WWW-Authenticate') or []

    def env(self):
        """Parse an env.cgi body into a dict."""
        out = {}
        for line in self.body.splitlines():
            k, sep, v = line.partition('=')
            if sep:
                out[k] = v
        return out

    def __repr__(self):
        return '<Response %s %r %r>' % (self.status, self.www_authenticate, self.body[:200])


def http_request(port, path, headers=(), method='GET', timeout=15, host='127.0.0.1'):
    """One request on a fresh connection. headers: dict or list of (name, value), which
    may repeat a name (http.client sends each as its own header line)."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode('utf-8', 'replace')
        return Response(r.status, r.headers, body)
    finally:
        conn.close()


class Httpd:
    """A throw-away httpd: generated config in a fresh ServerRoot, run in the foreground
    as our child process, stopped by its PID."""

    BASE_MODULES = ['mpm_event', 'authn_core', 'authz_core', 'authz_user', 'authz_host',
                    'alias', 'env', 'setenvif', 'headers', 'mime', 'dir', 'cgid', 'proxy',
                    'proxy_http']

    def __init__(self, parent, name='httpd', server_extra='', module_path=None,
                 load_b2c=True, loglevel='warn b2c_auth:debug'):
        self.root = os.path.join(parent, name)
        self.name = name
        self.port = free_port()
        self.server_extra = server_extra
        self.module_path = module_path or MODULE_PATH
        self.load_b2c = load_b2c
        self.loglevel = loglevel
        self.locations = []      # (mode, name, lines)
        self.raw = []            # extra config after the directories
        self.proc = None
        self.conf = os.path.join(self.root, 'httpd.conf')
        self.error_log_path = os.path.join(self.root, 'logs', 'error.log')

    # ---- config
    def add_location(self, mode, name, lines):
        """mode 'conf': rules in a <Directory> of httpd.conf; 'htaccess': in .htaccess."""
        self.locations.append((mode, name, list(lines)))
        return self

    def add_raw(self, text):
        self.raw.append(text)
        return self

    @staticmethod
    def subdir(mode):
        return {'conf': 'conf', 'htaccess': 'hta'}[mode]

    def path(self, mode, name, file='testdata'):
        return '/%s/%s/%s' % (self.subdir(mode), name, file)

    def write(self):
        for d in ('', 'logs', 'run', 'htdocs', 'htdocs/conf', 'htdocs/hta'):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
            os.chmod(os.path.join(self.root, d), 0o755)
        htdocs = os.path.join(self.root, 'htdocs')
        self._write(os.path.join(htdocs, 'testdata'), 'Operation authorized')
        dirs = []
        for mode, name, lines in self.locations:
            d = os.path.join(htdocs, self.subdir(mode), name)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
            self._write(os.path.join(d, 'testdata'), 'Operation authorized')
            self._write(os.path.join(d, 'env.cgi'), ENV_CGI, 0o755)
            if mode == 'htaccess':
                self._write(os.path.join(d, '.htaccess'), '\n'.join(lines) + '\n')
            else:
                dirs.append('<Directory "%s">\n    %s\n</Directory>' % (d, '\n    '.join(lines)))
        m = APACHE_MODULES
        loads = '\n'.join('LoadModule %s_module %s/mod_%s.so' % (x, m, x) for x in self.BASE_MODULES)
        if self.load_b2c:
            loads += '\nLoadModule b2c_auth_module %s' % self.module_path
        user = 'User www-data\nGroup www-data' if IS_ROOT else ''
        conf = """# generated by tests/httpd/conftest.py
ServerRoot "{root}"
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/httpd.pid"
Mutex file:{root}/run default
ErrorLog "{root}/logs/error.log"
LogLevel {loglevel}
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "{root}/logs/access.log" common
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
{loads}
{user}
StartServers {procs}
ServerLimit {procs}
ThreadsPerChild 16
ThreadLimit 16
MaxRequestWorkers {workers}
MinSpareThreads 1
MaxSpareThreads {workers}
Timeout 30
KeepAlive Off
TypesConfig /etc/mime.types
ScriptSock "{root}/run/cgid.sock"
AddHandler cgi-script .cgi
DirectoryIndex testdata
DocumentRoot "{htdocs}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{htdocs}">
    Options +ExecCGI
    AllowOverride None
    Require all granted
</Directory>
<Directory "{htdocs}/hta">
    AllowOverride AuthConfig
</Directory>
{server_extra}
{dirs}
{raw}
""".format(root=self.root, port=self.port, loads=loads, user=user, htdocs=htdocs,
           server_extra=self.server_extra, dirs='\n'.join(dirs), raw='\n'.join(self.raw),
           loglevel=self.loglevel, procs=HTTPD_PROCS, workers=16 * HTTPD_PROCS)
        self._write(self.conf, conf)
        return self

    @staticmethod
    def _write(path, text, mode=0o644):
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)

    # ---- run
    def check(self):
        """`apache2 -t` on the generated config: (rc, combined output)."""
        self.write()
        p = subprocess.run([APACHE_BIN, '-t', '-f', self.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def start(self, timeout=15):
        assert os.path.exists(self.module_path) or not self.load_b2c, \
            'module not built: %s (run make in %s)' % (self.module_path, REPO)
        self.write()
        self.out = open(os.path.join(self.root, 'logs', 'stdout.log'), 'w')
        self.proc = subprocess.Popen([APACHE_BIN, '-f', self.conf, '-DFOREGROUND'],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('httpd exited with %s:\n%s\n%s' % (
                    self.proc.returncode, self._read(os.path.join(self.root, 'logs', 'stdout.log')),
                    self.error_log()))
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    pass
                if os.path.exists(os.path.join(self.root, 'run', 'httpd.pid')):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError('httpd not ready in %ss:\n%s' % (timeout, self.error_log()))

    def stop(self, timeout=10):
        if self.proc is None:
            return
        try:
            stop_process(self.proc, timeout)
        finally:
            self.out.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def child_pids(self):
        """PIDs of the main process's children (worker processes and the cgid daemon)."""
        return proc_children(self.proc.pid)

    @staticmethod
    def _read(path):
        try:
            with open(path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def error_log(self):
        return self._read(self.error_log_path)

    def log_mark(self):
        return len(self.error_log())

    def log_since(self, mark):
        return self.error_log()[mark:]

    # ---- requests
    def get(self, path, token=None, headers=(), scheme='Bearer', **kw):
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers)
        if token is not None:
            hdrs.append(('Authorization', '%s %s' % (scheme, token)))
        return http_request(self.port, path, hdrs, **kw)

    def at(self, mode, name, token=None, file='testdata', **kw):
        return self.get(self.path(mode, name, file), token, **kw)


def assert_no_tokens_in(text, tokens, where='error log'):
    leaks = []
    for t in tokens:
        parts = t.split('.')
        if t and t in text:
            leaks.append(t[:20] + '...')
        elif len(parts) == 3 and len(parts[2]) >= 16 and parts[2] in text:
            leaks.append('signature segment ' + parts[2][:12] + '...')
        elif len(parts) >= 2 and len(parts[1]) >= 40 and parts[1] in text:
            leaks.append('payload segment ' + parts[1][:12] + '...')
    assert not leaks, 'token bytes found in %s: %s' % (where, leaks[:5])


def check_no_tokens(h):
    """No token minted in this session appears in h's error log."""
    assert_no_tokens_in(h.error_log(), MINTED, '%s error log' % h.name)


def stop_then_check(servers, check=check_no_tokens):
    """Teardown of a server factory: stop every server first (so each log is complete and
    no server still writes), then check(h) each one's logs."""
    for h in servers:
        h.stop()
    for h in servers:
        check(h)


# ---------------------------------------------------------------------------- backends

class EchoHandler(BaseHTTPRequestHandler):
    """Answers GET with 200 and JSON {path, headers}: what the backend saw."""
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def record(self):
        pass

    def _answer(self):
        self.record()
        body = json.dumps({'path': self.path, 'headers': list(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer


class RecordingHandler(EchoHandler):
    """An EchoHandler for any method that first appends the request to server.seen."""

    def record(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n:
            self.rfile.read(n)
        with self.server.lock:
            self.server.seen.append({'method': self.command, 'path': self.path,
                                     'headers': list(self.headers.items()), 'time': time.time()})

    do_GET = do_POST = do_HEAD = do_PUT = EchoHandler._answer


class Recorder(ThreadingHTTPServer):
    """An HTTP server on a free port of `host`, serving from a thread of its own until
    stop(). With RecordingHandler (the default) it records every request in .seen: a
    proxied backend, or the 'other host' of a redirect."""
    daemon_threads = True

    def __init__(self, host='127.0.0.1', handler=RecordingHandler):
        super().__init__((host, 0), handler)
        self.lock = threading.Lock()
        self.seen = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={'poll_interval': 0.1},
                                       daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    @property
    def url(self):
        return 'http://%s:%d' % self.server_address

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture(scope='session')
def echo_backend():
    """The port of a header-echo backend shared by the session."""
    srv = Recorder(handler=EchoHandler)
    yield srv.port
    srv.stop()


@pytest.fixture
def rec_backend():
    """An echo backend of this test's own, which records every request it gets."""
    srv = Recorder()
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------- IdPs

def _new_idp(**kw):
    kw.setdefault('tenants', [idpmod.Tenant(), TENANT2])
    i = RecordingIdP(**kw)
    # ES256 tests: an EC key, published only in the second tenant's JWKS
    i.ec = i.add_key('EC', tenants={TENANT2.tid})
    # a key whose "issuer" member is fixed to one tenant (like Microsoft's consumer keys),
    # published only on /common; it signs nothing unless a test asks
    i.fixed_tid = 'e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9'
    i.fixed = i.add_key(issuer='https://login.microsoftonline.com/%s/v2.0' % i.fixed_tid,
                        tenants={'common'})
    # a key that is never published (unknown kid)
    i.unpublished = i.add_key(published=False)
    return i.start()


@pytest.fixture(scope='session')
def shared_idp():
    """One IdP for the shared httpd; tests must not change its keys or faults."""
    i = _new_idp()
    yield i
    i.stop()


@pytest.fixture
def idp():
    """A fresh IdP for tests that rotate keys, inject faults or count fetches."""
    i = _new_idp()
    yield i
    i.stop()


# ---------------------------------------------------------------------------- httpd

@pytest.fixture(scope='session')
def workdir():
    d = tempfile.mkdtemp(prefix='b2c-httpd-')
    os.chmod(d, 0o755)      # www-data must reach the htdocs when httpd runs as root
    yield d
    if os.environ.get('B2C_KEEP_TMP'):
        print('\nkept httpd roots in %s' % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_httpd(workdir, request):
    """Factory for dedicated httpd instances (stopped, and their logs checked for token
    bytes, at teardown)."""
    made = []
    counter = [0]

    def make(**kw):
        counter[0] += 1
        name = '%s-%d' % (request.node.name.replace('/', '_').replace('[', '_')
                          .replace(']', '')[:60], counter[0])
        h = Httpd(workdir, name=name, **kw)
        made.append(h)
        return h
    yield make
    stop_then_check(made)


def base_rules(idp, md='v2', aud=(AUD, AUD_URI), tenant=None):
    return ['AuthType Bearer',
            'B2CAuthMetadataURL %s' % idp.metadata_url(md, tenant=tenant),
            'B2CAuthAudience %s' % ' '.join(aud)]


def shared_locations(idp):
    """name -> rules; each is served at /conf/<name>/ and /hta/<name>/ on the shared httpd."""
    t = idp.tenant
    r = 'Require role %s' % ROLE
    b = base_rules(idp)
    return {
        'role': b + [r],
        'realm': b + ['AuthName "orders api"', r],
        'v1': base_rules(idp, 'v1') + [r],
        'b2c_role': base_rules(idp, 'b2c') + [r],
        'b2c_scope': base_rules(idp, 'b2c') + ['Require scope %s' % ROLE],
        'issuers': base_rules(idp, 'v1') + [
            'B2CAuthIssuer %s %s %s' % (idp.issuer('v2', t), idp.issuer('v1', t), idp.issuer('b2c', t)),
            r],
        'common': base_rules(idp, 'common') + [r],
        'scope': b + ['Require scope %s' % ROLE],
        'claim': b + ['Require b2c-claim azp other-client-id %s' % idpmod.CLIENT_ID],
        'claim_num': b + ['Require b2c-claim level 5'],
        'claim_bool': b + ['Require b2c-claim flag true'],
        'any_ip': b + ['<RequireAny>', '    Require ip 127.0.0.1', '    Require role no-such-role',
                       '</RequireAny>'],
        'any_ip_other': b + ['<RequireAny>', '    Require ip 192.0.2.1',
                             '    Require role %s' % ROLE, '</RequireAny>'],
        'all': b + ['<RequireAll>', '    Require role %s' % ROLE, '    Require role second',
                    '</RequireAll>'],
        'roles_any': b + ['Require role first-role %s' % ROLE],
        'valid_user': b + ['Require valid-user'],
        'open': b + ['Require all granted'],
        'iss_template': base_rules(idp, 'v1') + [
            'B2CAuthIssuer https://login.microsoftonline.com/{tenantid}/v2.0', r],
        'not_role': b + ['<RequireAll>', '    Require valid-user', '    Require not role blocked',
                         '</RequireAll>'],
        'lower_type': ['AuthType bearer'] + b[1:] + [r],
        'skew0': b + ['B2CAuthClockSkew 0', r],
        'ru_oid': b + ['B2CAuthRemoteUser oid', r],
        'ru_upn': b + ['B2CAuthRemoteUser upn', 'Require valid-user'],
        'headers': b + ['B2CAuthClaimsHeaders On', r],
        'env_off': b + ['B2CAuthClaimsEnv Off', r],
        'es256': base_rules(idp, tenant=TENANT2) + ['B2CAuthAlgorithms ES256 RS256', r],
        'ps256': b + ['B2CAuthAlgorithms PS256', r],
        'aud_uri_only': base_rules(idp, aud=(AUD_URI,)) + [r],
        # tenant 1's keys (no EC key) but tenant 2's issuer: for cache-confusion checks
        'es256_t1': b + ['B2CAuthAlgorithms ES256 RS256',
                         'B2CAuthIssuer %s' % idp.issuer('v2', TENANT2), r],
    }


@pytest.fixture(scope='session')
def srv(shared_idp, workdir, echo_backend):
    """The shared httpd: every location of shared_locations() in both modes, plus
    .htaccess-only and proxy locations."""
    i = shared_idp
    h = Httpd(workdir, 'shared',
              server_extra='B2CAuthMetadataAllow %s/\n'
                           'SetEnvIf X-Test-Spoof "1" B2C_CLAIM_injected=yes' % i.base)
    h.locations_map = shared_locations(i)
    for name, lines in h.locations_map.items():
        for mode in MODES:
            h.add_location(mode, name, lines)
    # .htaccess only: shared-hosting guard and request-time misconfiguration
    h.add_location('htaccess', 'bad_prefix', [
        'AuthType Bearer',
        'B2CAuthMetadataURL http://127.0.0.2:%d/%s/v2.0/.well-known/openid-configuration'
        % (i.port, i.tid),
        'B2CAuthAudience %s' % AUD, 'Require role %s' % ROLE])
    h.add_location('htaccess', 'no_aud', [
        'AuthType Bearer', 'B2CAuthMetadataURL %s' % i.metadata_url(), 'Require role %s' % ROLE])
    h.add_location('htaccess', 'no_md', [
        'AuthType Bearer', 'B2CAuthAudience %s' % AUD, 'Require role %s' % ROLE])
    for loc, hdrs in (('proxied', 'On'), ('proxied_off', 'Off')):
        h.add_raw('<Location /%s/>\n    ProxyPass http://127.0.0.1:%d/\n    %s\n'
                  '    B2CAuthClaimsHeaders %s\n</Location>'
                  % (loc, echo_backend, '\n    '.join(base_rules(i) + ['Require role %s' % ROLE]),
                     hdrs))
    h.start()
    yield h
    h.stop()
