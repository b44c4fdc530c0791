#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side benchmark: plain httpd, mod_b2c_auth and (when Debian's packages are
installed) mod_auth_openidc and mod_oauth2 doing the same job; and a mod_b2c_client
gateway against a plain mod_proxy gateway with a static bearer header.

Run:   /usr/bin/python3 bench/bench.py [--quick] [--seconds N] [--rounds N] [--out DIR]
       (or ./dev bench)
Needs: wrk (apt-get install wrk), /usr/sbin/apache2, the built modules in the repo root.
Optional: libapache2-mod-auth-openidc, libapache2-mod-oauth2 (compared when present).

Everything runs on 127.0.0.1: the test identity platform in this process
(tests/idp/idp.py), every httpd as a child of this script on a free port, started and
stopped by PID (also on error or Ctrl-C). See docs/performance.md for the method.
"""

import argparse
import atexit
import csv
import datetime
import http.client
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'idp'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'tools'))
import idp as idpmod  # noqa: E402
from httpd_env import APACHE_BIN, APACHE_MODULES, IS_ROOT, MODULE_DIR  # noqa: E402
from loopback import free_port, log, proc_children  # noqa: E402

WRK = shutil.which('wrk') or '/usr/bin/wrk'
WRK_LUA = os.path.join(HERE, 'wrk.lua')
HZ = os.sysconf('SC_CLK_TCK')
NCPU = os.cpu_count() or 1

# The process model every server gets (the issue's: event MPM, 2 children x 32 threads).
PROCS = 2
THREADS = 32
CONNECTIONS = 32
WRK_THREADS = 2
PATH = '/api/r'
BODY = 'ok'           # the 2-byte static file

AUD = idpmod.API_CLIENT_ID
ROLE = idpmod.ROLE

# Targets from the issue (ratios to the matching ceiling).
TARGET_HOT = 0.90
TARGET_COLD = 0.65
TARGET_GW = 0.95
TARGET_RSS = 2.0

# ------------------------------------------------------------------------ helpers

_started = []         # Server objects still running, stopped at exit whatever happens


def proc_cpu_ticks(pid):
    """utime+stime of a process (all its threads), in clock ticks; 0 if gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            st = f.read()
    except OSError:
        return 0
    fields = st[st.rindex(')') + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_status_kb(pid, key):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy_ticks():
    """(process time, interrupt time) jiffies of the whole machine from /proc/stat:
    user+nice+system+steal, and irq+softirq (loopback TCP is mostly softirq, which
    the kernel does not charge to the processes involved)."""
    with open('/proc/stat') as f:
        p = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    return p[0] + p[1] + p[2] + p[7], p[5] + p[6]


def self_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine_info():
    model = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ver = subprocess.run([APACHE_BIN, '-v'], stdout=subprocess.PIPE, text=True,
                             timeout=10).stdout.splitlines()[0].split(':', 1)[1].strip()
    except Exception:                                   # noqa: BLE001
        ver = '?'
    return {'nproc': NCPU, 'cpu': model, 'kernel': platform.release(), 'httpd': ver,
            'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}


def module_available(name):
    return os.path.exists(os.path.join(APACHE_MODULES, 'mod_%s.so' % name))


def http_get(port, path, token=None, timeout=15):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        hdrs = {'Authorization': 'Bearer ' + token} if token else {}
        conn.request('GET', path, headers=hdrs)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


# ------------------------------------------------------------------------ tokens

def mint_many(idp, n):
    """n distinct valid RS256 tokens (about 800/s). Minted in this process: forking
    a pool while the IdP's server threads hold locks can deadlock the children."""
    return [idp.mint('v2', roles=[ROLE], lifetime=7200) for _ in range(n)]


def forged_tokens(idp, n):
    """Tokens with the right shape and claims but a kid that no JWKS has (and a random
    signature): each one makes a validator look for a key it will never find."""
    out = []
    for _ in range(n):
        kid = idpmod.b64u(secrets.token_bytes(20))
        header = {'typ': 'JWT', 'alg': 'RS256', 'x5t': kid, 'kid': kid}
        out.append(idp.mint_raw(header, idp.claims('v2', roles=[ROLE], lifetime=7200),
                                signature=secrets.token_bytes(256)))
    return out


# ------------------------------------------------------------------------ httpd

class Server:
    """One httpd with a generated config, foreground child of this script, stopped by
    its PID."""

    def __init__(self, workdir, name, body):
        self.name = name
        self.root = os.path.join(workdir, name)
        self.port = free_port()
        self.body = body          # config text after the common head
        self.proc = None
        self.peak_rss_kb = 0

    def conf(self, modules):
        lines = ['# generated by bench/bench.py',
                 'ServerRoot "%s"' % self.root,
                 'DefaultRuntimeDir "%s/run"' % self.root,
                 'PidFile "%s/run/httpd.pid"' % self.root,
                 'Mutex file:%s/run default' % self.root,
                 'ErrorLog "%s/logs/error.log"' % self.root,
                 'LogLevel warn',
                 'Listen 127.0.0.1:%d' % self.port,
                 'ServerName 127.0.0.1:%d' % self.port]
        for m in modules:
            path = (os.path.join(MODULE_DIR, 'mod_%s.so' % m) if m.startswith('b2c_')
                    else os.path.join(APACHE_MODULES, 'mod_%s.so' % m))
            lines.append('LoadModule %s_module %s' % (m, path))
        if IS_ROOT:
            lines += ['User www-data', 'Group www-data']
        lines += ['StartServers %d' % PROCS, 'ServerLimit %d' % PROCS,
                  'ThreadsPerChild %d' % THREADS, 'ThreadLimit %d' % THREADS,
                  'MaxRequestWorkers %d' % (PROCS * THREADS),
                  'MinSpareThreads %d' % THREADS,
                  'MaxSpareThreads %d' % (PROCS * THREADS),
                  'MaxConnectionsPerChild 0',
                  'KeepAlive On', 'MaxKeepAliveRequests 0', 'KeepAliveTimeout 15',
                  'Timeout 30',
                  'TypesConfig /etc/mime.types',
                  'DocumentRoot "%s/htdocs"' % self.root,
                  '<Directory />', '    AllowOverride None', '    Require all denied',
                  '</Directory>',
                  '<Directory "%s/htdocs">' % self.root, '    AllowOverride None',
                  '    Require all granted', '</Directory>']
        return '\n'.join(lines) + '\n' + self.body + '\n'

    def write(self, modules):
        for d in ('', 'logs', 'run', 'htdocs', 'htdocs/api'):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
            os.chmod(os.path.join(self.root, d), 0o755)
        with open(os.path.join(self.root, 'htdocs', 'api', 'r'), 'w') as f:
            f.write(BODY)
        os.chmod(os.path.join(self.root, 'htdocs', 'api', 'r'), 0o644)
        self.conf_path = os.path.join(self.root, 'httpd.conf')
        with open(self.conf_path, 'w') as f:
            f.write(self.conf(modules))
        os.chmod(self.conf_path, 0o644)

    def start(self, modules, timeout=20):
        self.write(modules)
        self.out = open(os.path.join(self.root, 'logs', 'stdout.log'), 'w')
        self.proc = subprocess.Popen([APACHE_BIN, '-f', self.conf_path, '-DFOREGROUND'],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _started.append(self)
        self.peak_rss_kb = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s: httpd exited with %s:\n%s' % (
                    self.name, self.proc.returncode, self.error_log()[-3000:]))
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    pass
                if len(proc_children(self.proc.pid)) >= PROCS:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError('%s: httpd not ready in %ss:\n%s' % (
            self.name, timeout, self.error_log()[-3000:]))

    def pids(self):
        if not self.proc or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + proc_children(self.proc.pid)

    def cpu_ticks(self):
        return sum(proc_cpu_ticks(p) for p in self.pids())

    def rss_kb(self):
        """Sum of the processes' peak resident sets (VmHWM); also tracks the maximum."""
        now = sum(proc_status_kb(p, 'VmHWM') for p in self.pids())
        self.peak_rss_kb = max(self.peak_rss_kb, now)
        return now

    def stop(self, timeout=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.rss_kb()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)   # our own session
                except OSError:
                    pass
                self.proc.wait(5)
        self.out.close()
        if self in _started:
            _started.remove(self)

    def error_log(self):
        try:
            with open(os.path.join(self.root, 'logs', 'error.log'), errors='replace') as f:
                return f.read()
        except OSError:
            return ''


def stop_all():
    for s in list(_started):
        try:
            s.stop()
        except Exception as e:                          # noqa: BLE001
            log('bench: stopping %s: %s' % (s.name, e))


# ------------------------------------------------------------------------ configs

BASE = ['mpm_event', 'authn_core', 'authz_core', 'mime']


def cfg_plain(idp):
    return BASE, '<Location /api>\n    Require all granted\n</Location>'


def cfg_b2c(idp):
    return BASE + ['b2c_auth'], """<Location /api>
    AuthType Bearer
    B2CAuthMetadataURL {md}
    B2CAuthAudience {aud} api://{aud}
    Require role {role}
</Location>""".format(md=idp.metadata_url('v2'), aud=AUD, role=ROLE)


def cfg_b2c_shm(idp):
    # the same, with mod_socache_shmcb loaded: B2CAuthCache defaults to shmcb, so keys
    # and token verdicts are shared by the processes and fetches are single-flight
    mods, body = cfg_b2c(idp)
    return ['socache_shmcb'] + mods, body


def jwks_url(idp):
    return '%s/%s/discovery/v2.0/keys' % (idp.base, idp.tid)


def issuer(idp):
    return idpmod.TestIdP.issuer('v2', idp.tenant)


def cfg_openidc(idp):
    # mod_auth_openidc as an OAuth 2.0 resource server validating JWTs against the JWKS;
    # issuer, audience and role checked by Require claim (what mod_b2c_auth checks).
    # It insists on an https:// JWKS URI: it gets the TLS twin of the IdP (same keys).
    return BASE + ['auth_openidc'], """OIDCCryptoPassphrase bench-{pw}
OIDCOAuthVerifyJwksUri {jwks}
OIDCOAuthSSLValidateServer Off
OIDCOAuthRemoteUserClaim sub
OIDCOAuthAcceptTokenAs header
<Location /api>
    AuthType oauth20
    <RequireAll>
        Require claim iss:{iss}
        Require claim aud:{aud}
        Require claim roles:{role}
    </RequireAll>
</Location>""".format(pw=secrets.token_hex(8), jwks=jwks_url(idp), iss=issuer(idp),
                      aud=AUD, role=ROLE)


def cfg_oauth2(idp):
    # mod_oauth2 (liboauth2) with the same checks; its validation-result cache (shm,
    # 1000 entries FIFO by default) is left as shipped.
    return BASE + ['oauth2'], """<Location /api>
    AuthType oauth2
    OAuth2TokenVerify jwks_uri {jwks} verify.exp=required&verify.iat=skip
    OAuth2TargetPass envvars=Off&headers=Off
    <RequireAll>
        Require oauth2_claim iss:{iss}
        Require oauth2_claim aud:{aud}
        Require oauth2_claim roles:{role}
    </RequireAll>
</Location>""".format(jwks=jwks_url(idp), iss=issuer(idp), aud=AUD, role=ROLE)


def cfg_backend(idp):
    return cfg_plain(idp)


def cfg_gw_plain(idp, backend_port, static_token):
    return BASE + ['socache_shmcb', 'headers', 'proxy', 'proxy_http'], """<Location /api>
    ProxyPass http://127.0.0.1:{port}/api
    RequestHeader set Authorization "Bearer {tok}"
</Location>""".format(port=backend_port, tok=static_token)


def cfg_gw_b2c(idp, backend_port, secret_file):
    # mod_socache_shmcb loaded: B2CClientCache defaults to shmcb (one token per machine)
    return BASE + ['socache_shmcb', 'headers', 'proxy', 'proxy_http', 'b2c_client'], """<B2CClient api>
    B2CAuthority     {base}/{tid}/oauth2/v2.0
    B2CClientId      {cid}
    B2CClientSecret  file:{secret}
    B2CScope         api://{aud}/.default
</B2CClient>
<Location /api>
    ProxyPass http://127.0.0.1:{port}/api
    B2CClientToken api
</Location>""".format(base=idp.base, tid=idp.tid, cid=idpmod.CLIENT_ID, secret=secret_file,
                      aud=AUD, port=backend_port)


# ------------------------------------------------------------------------ measuring

def run_wrk(port, seconds, token=None, token_file=None, once=False):
    """Run wrk against PATH; returns its JSON summary plus the wrk process's CPU."""
    env = dict(os.environ, BENCH_THREADS=str(WRK_THREADS))
    cmd = [WRK, '-t%d' % WRK_THREADS, '-c%d' % CONNECTIONS, '-d%ds' % max(1, int(seconds)),
           '--timeout', '10s', '-s', WRK_LUA]
    if token_file:
        env['BENCH_TOKENS'] = token_file
        env['BENCH_ONCE'] = '1' if once else '0'
    else:
        env.pop('BENCH_TOKENS', None)
        if token:
            cmd += ['-H', 'Authorization: Bearer ' + token]
    cmd += ['http://127.0.0.1:%d%s' % (port, PATH), '--', PATH]
    before = children_cpu_seconds()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=seconds + 60)
    wrk_cpu = children_cpu_seconds() - before
    line = [x for x in p.stdout.splitlines() if x.startswith('{"requests"')]
    if p.returncode != 0 or not line:
        raise RuntimeError('wrk failed (%s): %s %s' % (p.returncode, p.stdout[-2000:],
                                                         p.stderr[-2000:]))
    res = json.loads(line[-1])
    res['wrk_cpu_s'] = wrk_cpu
    return res


def measure(server, seconds, extra_servers=(), **wrk_kw):
    """One wrk run with the server's CPU, peak RSS and the machine's other load."""
    busy0, irq0 = machine_busy_ticks()
    cpu0 = server.cpu_ticks()
    extra0 = sum(s.cpu_ticks() for s in extra_servers)
    self0 = self_cpu_seconds()
    t0 = time.monotonic()
    r = run_wrk(server.port, seconds, **wrk_kw)
    elapsed = time.monotonic() - t0
    busy1, irq1 = machine_busy_ticks()
    cpu = (server.cpu_ticks() - cpu0) / HZ
    extra = (sum(s.cpu_ticks() for s in extra_servers) - extra0) / HZ
    selfcpu = self_cpu_seconds() - self0
    machine_busy = (busy1 - busy0) / HZ
    other = max(0.0, machine_busy - cpu - extra - r['wrk_cpu_s'] - selfcpu)
    reqs = r['requests']
    dur = r['duration_us'] / 1e6
    r.update({
        'rps': reqs / dur if dur > 0 else 0.0,
        'cpu_us_per_req': cpu / reqs * 1e6 if reqs else 0.0,
        'server_cpu_s': cpu,
        'backend_cpu_s': extra,
        'other_load_pct': 100.0 * other / (elapsed * NCPU),
        'machine_busy_pct': 100.0 * machine_busy / (elapsed * NCPU),
        'softirq_pct': 100.0 * (irq1 - irq0) / HZ / (elapsed * NCPU),
        'rss_kb': server.rss_kb(),
        'bad': r['err_status'] + r['err_connect'] + r['err_read'] + r['err_write']
        + r['err_timeout'],
    })
    return r


def burst(port, token, n=CONNECTIONS):
    """n concurrent first requests (each on its own connection, released together)."""
    barrier = threading.Barrier(n)
    statuses = [None] * n

    def one(i):
        try:
            barrier.wait(10)
            statuses[i] = http_get(port, PATH, token, timeout=30)
        except Exception as e:                          # noqa: BLE001
            statuses[i] = repr(e)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return statuses


# ------------------------------------------------------------------------ main

class Checks:
    def __init__(self):
        self.passed, self.failed, self.lines = 0, 0, []

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        self.lines.append(('ok  ' if ok else 'FAIL') + '  ' + what)
        log('bench: %s %s' % ('ok  ' if ok else 'FAIL', what))


def median(xs):
    xs = sorted(xs)
    if not xs:
        return 0.0
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true',
                    help='CI smoke run: 1 round, 3 s per measurement, no comparators')
    ap.add_argument('--seconds', type=int, default=None, help='seconds per measurement')
    ap.add_argument('--rounds', type=int, default=None, help='alternating rounds')
    ap.add_argument('--tokens', type=int, default=None,
                    help='pre-minted tokens for the cold mode')
    ap.add_argument('--compare', choices=('auto', 'yes', 'no'), default=None,
                    help='mod_auth_openidc / mod_oauth2 (auto: when installed; '
                         'default no with --quick)')
    ap.add_argument('--out', default=os.path.join(HERE, 'results'))
    ap.add_argument('--keep', action='store_true', help='keep the generated ServerRoots')
    a = ap.parse_args(argv)
    seconds = a.seconds or (3 if a.quick else 6)
    rounds = a.rounds or (1 if a.quick else 3)
    ntokens = a.tokens or (4000 if a.quick else 20000)
    compare = a.compare or ('no' if a.quick else 'auto')

    for need in (APACHE_BIN, WRK, os.path.join(MODULE_DIR, 'mod_b2c_auth.so'),
                 os.path.join(MODULE_DIR, 'mod_b2c_client.so')):
        if not os.path.exists(need):
            log('bench: missing %s (apt-get install wrk apache2; make -s)' % need)
            print('bench: 0 passed, 1 failed')
            return 2

    t_start = time.monotonic()
    info = machine_info()
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix='b2c-bench-')
    os.chmod(workdir, 0o755)
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))

    idp = idpmod.TestIdP(token_lifetime=3599)
    log('bench: minting %d RS256 tokens for the cold mode ...' % ntokens)
    t = time.monotonic()
    cold = mint_many(idp, ntokens)
    assert len(set(cold)) == len(cold)
    log('bench: minted in %.1f s' % (time.monotonic() - t))
    hot = idp.mint('v2', roles=[ROLE], lifetime=7200)
    forged = forged_tokens(idp, 2000)
    cold_file = os.path.join(workdir, 'cold.tokens')
    forged_file = os.path.join(workdir, 'forged.tokens')
    for fn, toks in ((cold_file, cold), (forged_file, forged)):
        with open(fn, 'w') as f:
            f.write('\n'.join(toks) + '\n')
    secret_file = os.path.join(workdir, 'client.secret')
    with open(secret_file, 'w') as f:
        f.write(idpmod.CLIENT_SECRET + '\n')
    os.chmod(secret_file, 0o600)
    if IS_ROOT:
        try:
            import pwd
            w = pwd.getpwnam('www-data')
            os.chown(secret_file, 0, w.pw_gid)
            os.chmod(secret_file, 0o640)
        except KeyError:
            pass
    idp.start()
    # mod_auth_openidc only fetches https:// JWKS URIs: a TLS twin of the IdP with the same
    # keys (its own counters), started only when mod_auth_openidc is compared.
    idp_tls = None

    def tls_twin():
        nonlocal idp_tls
        if idp_tls is None:
            tdir = os.path.join(workdir, 'tls')
            os.makedirs(tdir)
            _, cert, key = idpmod.make_tls_files(tdir)
            idp_tls = idpmod.TestIdP(token_lifetime=3599, tls=(cert, key))
            idp_tls.keys = idp.keys
            idp_tls.active_kid = idp.active_kid
            idp_tls.start()
        return idp_tls

    auth = [('plain', cfg_plain, idp), ('b2c_auth', cfg_b2c, idp),
            ('b2c_auth_shm', cfg_b2c_shm, idp)]
    skipped = []
    for name, fn, mod in (('auth_openidc', cfg_openidc, 'auth_openidc'),
                          ('oauth2', cfg_oauth2, 'oauth2')):
        if compare == 'no':
            continue
        if module_available(mod):
            auth.append((name, fn, tls_twin() if name == 'auth_openidc' else idp))
        elif compare == 'yes':
            log('bench: mod_%s.so not installed' % mod)
            print('bench: 0 passed, 1 failed')
            return 2
        else:
            skipped.append(name)
    if skipped:
        log('bench: not installed, not compared: %s' % ', '.join(skipped))

    rows = []           # one per measurement
    fetches = []        # forged / burst counts
    token_calls = []    # gateway token-endpoint calls per gateway lifetime
    rss = {}            # config -> [peak RSS kB per server lifetime]
    counter = [0]

    def new_server(name, cfg, *extra, which=None):
        counter[0] += 1
        mods, body = cfg(which or idp, *extra)
        return Server(workdir, '%02d-%s' % (counter[0], name), body), mods

    def record(cfg_name, mode, rnd, r):
        r.update({'config': cfg_name, 'mode': mode, 'round': rnd})
        rows.append(r)
        log('bench:   %-12s %-6s round %d: %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  '
            '%6.1f us CPU/req  bad %d  other load %4.1f%%' % (
                cfg_name, mode, rnd, r['rps'], r['lat_p50_us'] / 1e3, r['lat_p99_us'] / 1e3,
                r['cpu_us_per_req'], r['bad'], r['other_load_pct']))

    try:
        # ---- fetch counts: startup burst and forged flood, each on a fresh server
        for name, cfg, ip in auth[1:]:
            s, mods = new_server(name + '-burst', cfg, which=ip)
            ip.reset_counters()
            s.start(mods)
            st = burst(s.port, hot)
            n_ok = sum(1 for x in st if x == 200)
            # the same job: a token without the role, or for another audience, is refused
            wrong = {'no role': ip.mint('v2', roles=[], lifetime=7200),
                     'other audience': ip.mint('v2', aud='api://someone-else', lifetime=7200)}
            for what, tok in wrong.items():
                code = http_get(s.port, PATH, tok)
                checks.check(code in (401, 403), '%s refuses a token with %s (%s)' % (
                    name, what, code))
            fetches.append({'config': name, 'mode': 'burst', 'jwks': ip.counts['jwks'],
                            'metadata': ip.counts['metadata'], 'requests': len(st),
                            'ok': n_ok})
            s.stop()
            log('bench:   %-12s burst : %d/%d x 200, %d JWKS + %d metadata fetches' % (
                name, n_ok, len(st), ip.counts['jwks'], ip.counts['metadata']))
            if name.startswith('b2c_auth'):
                bound = 1 if name == 'b2c_auth_shm' else PROCS
                checks.check(n_ok == len(st), '%s startup burst: all %d answered 200 '
                             '(got %d)' % (name, len(st), n_ok))
                checks.check(idp.counts['jwks'] <= bound,
                             '%s startup burst: JWKS fetches %d <= %d'
                             % (name, idp.counts['jwks'], bound))

            s, mods = new_server(name + '-forged', cfg, which=ip)
            ip.reset_counters()
            s.start(mods)
            r = measure(s, min(seconds, 5), token_file=forged_file)
            n401 = r['err_status']
            fetches.append({'config': name, 'mode': 'forged', 'jwks': ip.counts['jwks'],
                            'metadata': ip.counts['metadata'], 'requests': r['requests'],
                            'ok': r['requests'] - n401, 'rps': r['rps']})
            s.stop()
            log('bench:   %-12s forged: %d requests (%.0f/s), %d not refused, %d JWKS + %d '
                'metadata fetches' % (name, r['requests'], r['rps'], r['requests'] - n401,
                                      ip.counts['jwks'], ip.counts['metadata']))
            if name.startswith('b2c_auth'):
                # the initial fetch only: keys that young are taken as current, so
                # an unknown kid refetches nothing (per machine with the shared cache)
                bound = 1 if name == 'b2c_auth_shm' else PROCS
                checks.check(r['requests'] > 0 and n401 == r['requests'],
                             '%s forged flood: every forged token refused (%d of %d)'
                             % (name, n401, r['requests']))
                checks.check(idp.counts['jwks'] <= bound,
                             '%s forged flood: JWKS fetches %d <= %d'
                             % (name, idp.counts['jwks'], bound))

        # ---- throughput: alternating rounds
        backend, bmods = new_server('backend', cfg_backend)
        backend.start(bmods)
        gws = [('gw_plain', lambda i: cfg_gw_plain(i, backend.port, hot)),
               ('gw_b2c_client', lambda i: cfg_gw_b2c(i, backend.port, secret_file))]
        for rnd in range(rounds):
            order = auth[rnd % len(auth):] + auth[:rnd % len(auth)]
            if rnd % 2:
                order = order[::-1]
            for name, cfg, ip in order:
                s, mods = new_server(name, cfg, which=ip)
                s.start(mods)
                warm = run_wrk(s.port, 1, token=hot)
                r = measure(s, seconds, token=hot)
                if warm['err_status'] and name != 'plain':
                    log('bench:   %s warm-up: %d refused' % (name, warm['err_status']))
                record(name, 'hot', rnd, r)
                # our modules must answer every hot request with 200; the comparators'
                # failures are shown in the table's "bad" column, not failed on
                if name in ('plain', 'b2c_auth', 'b2c_auth_shm'):
                    checks.check(r['requests'] > 0 and r['bad'] == 0,
                                 '%s hot round %d: all %d requests answered 200 (%d not)' % (
                                     name, rnd, r['requests'], r['bad']))
                r = measure(s, seconds, token_file=cold_file, once=True)
                r['reused_tokens'] = r['threads_stopped'] < WRK_THREADS
                record(name, 'cold', rnd, r)
                if name.startswith('b2c_auth'):
                    checks.check(r['requests'] > 0 and r['bad'] == 0,
                                 '%s cold round %d: all %d requests answered 200 (%d not)' % (
                                     name, rnd, r['requests'], r['bad']))
                s.stop()
                rss.setdefault(name, []).append(s.peak_rss_kb)
            for name, cfg in (gws if rnd % 2 == 0 else gws[::-1]):
                s, mods = new_server(name, cfg)
                idp.reset_counters()
                s.start(mods)
                warm = run_wrk(s.port, 1)
                r = measure(s, seconds, extra_servers=(backend,))
                record(name, 'gateway', rnd, r)
                checks.check(r['requests'] > 0 and r['bad'] == 0,
                             '%s round %d: all %d requests answered 200 (%d not)' % (
                                 name, rnd, r['requests'], r['bad']))
                s.stop()
                rss.setdefault(name, []).append(s.peak_rss_kb)
                if name == 'gw_b2c_client':
                    calls = idp.counts['token']
                    token_calls.append(calls)
                    checks.check(calls <= 1, 'gw_b2c_client round %d: %d token-endpoint '
                                 'calls <= 1 per token lifetime (shared shmcb cache)' % (
                                     rnd, calls))
        backend.stop()
    finally:
        stop_all()
        idp.stop()
        if idp_tls is not None:
            idp_tls.stop()
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log('bench: kept %s' % workdir)

    # ---- table
    summary = []
    ceil = {}
    for mode in ('hot', 'cold', 'gateway'):
        for name in [x[0] for x in auth] + ['gw_plain', 'gw_b2c_client']:
            rs = [r for r in rows if r['config'] == name and r['mode'] == mode]
            if not rs:
                continue
            e = {'config': name, 'mode': mode, 'rounds': len(rs),
                 'rps': median([r['rps'] for r in rs]),
                 'rps_min': min(r['rps'] for r in rs), 'rps_max': max(r['rps'] for r in rs),
                 'p50_ms': median([r['lat_p50_us'] for r in rs]) / 1e3,
                 'p99_ms': median([r['lat_p99_us'] for r in rs]) / 1e3,
                 'cpu_us_per_req': median([r['cpu_us_per_req'] for r in rs]),
                 # sum of the server's processes' VmHWM right after this mode's run
                 # (hot runs first, so the hot figure excludes the cold mode's cache)
                 'peak_rss_mb': max(r['rss_kb'] for r in rs) / 1024.0,
                 'other_load_pct': max(r['other_load_pct'] for r in rs),
                 'requests': sum(r['requests'] for r in rs),
                 'bad': sum(r['bad'] for r in rs)}
            if name in ('plain', 'gw_plain'):
                ceil[mode] = e
            summary.append(e)
    for e in summary:
        c = ceil.get(e['mode'])
        e['ratio'] = e['rps'] / c['rps'] if c and c['rps'] else 0.0
        e['rss_ratio'] = (e['peak_rss_mb'] / c['peak_rss_mb']
                          if c and c['peak_rss_mb'] else 0.0)

    def get(name, mode):
        for e in summary:
            if e['config'] == name and e['mode'] == mode:
                return e
        return None

    out = []
    out.append('mod_b2c benchmark, %s; %d CPUs (%s); %s; kernel %s' % (
        info['date'], info['nproc'], info['cpu'], info['httpd'], info['kernel']))
    out.append('event MPM %d x %d threads; wrk -t%d -c%d; %d s per measurement, %d '
               'round(s), median of rounds; %d-byte file; RS256; cold: %d distinct tokens'
               % (PROCS, THREADS, WRK_THREADS, CONNECTIONS, seconds, rounds, len(BODY),
                  ntokens))
    out.append('')
    out.append('| config | mode | req/s (min-max) | x ceiling | p50 ms | p99 ms | CPU us/req '
               '| peak RSS MB (x) | other load % | not 200 |')
    out.append('|---|---|---|---|---|---|---|---|---|---|')
    for e in summary:
        out.append('| %s | %s | %.0f (%.0f-%.0f) | %.2f | %.2f | %.2f | %.1f | %.1f (%.2f) '
                   '| %.1f | %d |' % (e['config'], e['mode'], e['rps'], e['rps_min'],
                                      e['rps_max'], e['ratio'], e['p50_ms'], e['p99_ms'],
                                      e['cpu_us_per_req'], e['peak_rss_mb'], e['rss_ratio'],
                                      e['other_load_pct'], e['bad']))
    out.append('')
    out.append('| config | scenario | requests | answered as expected | JWKS fetches '
               '| metadata fetches |')
    out.append('|---|---|---|---|---|---|')
    for f in fetches:
        out.append('| %s | %s | %d | %d | %d | %d |' % (
            f['config'], f['mode'], f['requests'],
            f['ok'] if f['mode'] == 'burst' else f['requests'] - f['ok'],
            f['jwks'], f['metadata']))
    if token_calls:
        out.append('')
        out.append('gw_b2c_client token-endpoint calls per gateway lifetime (%d processes, '
                   'shmcb loaded, token lifetime 3599 s): %s' % (
                       PROCS, ', '.join(map(str, token_calls))))

    # ---- targets (reported; the checks above are what fail the run)
    tg = []

    def target(ok, text):
        tg.append('%s  %s' % ('met   ' if ok else 'MISSED', text))
    for mode, want in (('hot', TARGET_HOT), ('cold', TARGET_COLD)):
        for name in ('b2c_auth', 'b2c_auth_shm'):
            e = get(name, mode)
            if e:
                target(e['ratio'] >= want, '%s %s: %.2f x plain httpd (target >= %.2f)'
                       % (name, mode, e['ratio'], want))
    e = get('gw_b2c_client', 'gateway')
    if e:
        target(e['ratio'] >= TARGET_GW, 'gw_b2c_client: %.2f x plain proxy (target >= %.2f)'
               % (e['ratio'], TARGET_GW))
    for f in fetches:
        if f['config'].startswith('b2c_auth'):
            # without a shared cache every process keeps its own keys: 1 each
            shared = f['config'] == 'b2c_auth_shm'
            target(f['jwks'] <= (1 if shared else PROCS),
                   '%s %s: %d JWKS fetches (target 1%s)' % (
                       f['config'], f['mode'], f['jwks'],
                       '; shared shmcb cache' if shared
                       else ' per process; per-process caches, %d processes' % PROCS))
    if token_calls:
        target(max(token_calls) <= 1, 'gw_b2c_client: %d token-endpoint calls per token '
               'lifetime (target 1; shared shmcb cache)' % max(token_calls))
    for name in ('b2c_auth', 'b2c_auth_shm', 'gw_b2c_client'):
        e = get(name, 'hot') or get(name, 'gateway')
        if e:
            target(e['rss_ratio'] <= TARGET_RSS, '%s peak RSS: %.2f x its ceiling (target <= '
                   '%.1f)' % (name, e['rss_ratio'], TARGET_RSS))
    out.append('')
    out.append('targets:')
    out += ['  ' + x for x in tg]
    out.append('')
    out.append('checks:')
    out += ['  ' + x for x in checks.lines]
    noisy = [e for e in summary if e['other_load_pct'] > 5.0]
    if noisy:
        out.append('')
        out.append('NOTE: other processes used more than 5%% of the machine during %d '
                   'measurement(s); treat those numbers with care.' % len(noisy))
    out.append('total time %.0f s' % (time.monotonic() - t_start))
    text = '\n'.join(out)
    print(text)

    os.makedirs(a.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    fields = ['config', 'mode', 'rounds', 'rps', 'rps_min', 'rps_max', 'ratio', 'p50_ms',
              'p99_ms', 'cpu_us_per_req', 'peak_rss_mb', 'rss_ratio', 'other_load_pct',
              'requests', 'bad']
    for fn, data, flds in (
            ('summary-%s.csv' % stamp, summary, fields),
            ('runs-%s.csv' % stamp, rows,
             ['config', 'mode', 'round', 'rps', 'requests', 'duration_us', 'lat_p50_us',
              'lat_p99_us', 'lat_mean_us', 'lat_max_us', 'cpu_us_per_req', 'server_cpu_s',
              'backend_cpu_s', 'wrk_cpu_s', 'rss_kb', 'other_load_pct', 'machine_busy_pct',
              'softirq_pct',
              'bad', 'threads_stopped']),
            ('fetches-%s.csv' % stamp, fetches,
             ['config', 'mode', 'requests', 'ok', 'jwks', 'metadata', 'rps'])):
        with open(os.path.join(a.out, fn), 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=flds, extrasaction='ignore')
            w.writeheader()
            for row in data:
                w.writerow({k: (round(v, 3) if isinstance(v, float) else v)
                            for k, v in row.items()})
    with open(os.path.join(a.out, 'table-%s.md' % stamp), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(a.out, 'machine-%s.json' % stamp), 'w') as f:
        json.dump(info, f, indent=1)
    log('bench: results in %s (*-%s.*)' % (a.out, stamp))
    print('bench: %d passed, %d failed' % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == '__main__':
    sys.exit(main())
