#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end check of the Debian packages against Debian's stock apache2, as
# an operator would use them (run as root on a machine whose stock apache2 is
# stopped; CI runs it after ./dev deb):
#
#   tests/packaging/check_installed.sh [DEB_DIR]    (default build/deb)
#
# 1. apt-get install ./libapache2-mod-b2c-*.deb: the postinst enables both
#    modules (and proxy, proxy_http, socache_shmcb through the .load files).
# 2. A site in sites-available made from the commented examples of the
#    installed mods-available/*.conf (placeholders filled in for the test
#    identity platform, tests/idp/idp.py, on a free loopback port), a2ensite,
#    apache2ctl -t, apache2ctl start on a free loopback port.
# 3. 401 without a token, 200 through the gateway (it injects its token),
#    403 for a client without the role; each module's version line logged.
# 4. Upgrade while httpd runs: a newer build (one more changelog entry, built
#    from DEB_DIR's build tree) installed over the first keeps the edited
#    mods-available/b2c_auth.conf; after the restart the helper does (or asks
#    for, where policy-rc.d forbids it) httpd serves with the new module.
# 5. apt-get purge: no b2c file left in mods-available, mods-enabled or the
#    module directory, and apache2ctl -t passes.
#
# Everything it changes is put back on exit: ports.conf, the site, the
# modules the packages enabled as dependencies; the processes it started
# (the identity platform, httpd) are stopped by PID.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
DEBS=$(cd "${1:-$TOP/build/deb}" && pwd)
PKGS=(libapache2-mod-b2c-auth libapache2-mod-b2c-client)
ETC=/etc/apache2
SITE=b2c-package-check
export DEBIAN_FRONTEND=noninteractive
set +u; . "$ETC/envvars"; set -u   # shellcheck disable=SC1091
PIDFILE=${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}
ERRLOG=${APACHE_LOG_DIR:-/var/log/apache2}/error.log

say() { printf '==> check_installed: %s\n' "$*"; }
fail() { printf 'check_installed: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (it installs packages)"
httpd_pid() {
  local p; p=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}
if p=$(httpd_pid); then fail "the stock apache2 runs (pid $p); stop it first"; fi
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
    && fail "$p is installed already; apt purge it first"
done
shopt -s nullglob
first=("$DEBS"/libapache2-mod-b2c-*.deb)
[ ${#first[@]} -eq 2 ] || fail "expected the two .deb files of ./dev deb in $DEBS"

WORK=$(mktemp -d /tmp/b2c-package-check.XXXXXX); chmod 755 "$WORK"
cp -p "$ETC/ports.conf" "$WORK/ports.conf.orig"
ls "$ETC/mods-enabled" > "$WORK/mods-enabled.before"
# a2enmod/a2dismod keep state here (enabled_by_maint, disabled_by_admin...)
cp -a /var/lib/apache2 "$WORK/var-lib-apache2"
IDP_PID=

stop_httpd() {
  local p i
  p=$(httpd_pid) || return 0
  kill -TERM "$p"
  for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  fail "httpd (pid $p) did not stop within 10 s"
}

# ports.conf, and the modules the .load files pulled in (proxy, ...), back
# to how they were.
restore_stock() {
  local m
  cp -p "$WORK/ports.conf.orig" "$ETC/ports.conf"
  for m in $(ls "$ETC/mods-enabled" | grep '\.load$' | sed 's/\.load$//'); do
    grep -qx "$m.load" "$WORK/mods-enabled.before" || a2dismod -q -f "$m" >/dev/null
  done
  rm -rf /var/lib/apache2 && cp -a "$WORK/var-lib-apache2" /var/lib/apache2
}

cleanup() {
  local rc=$? m
  set +e
  stop_httpd
  [ -n "$IDP_PID" ] && kill "$IDP_PID" 2>/dev/null && wait "$IDP_PID" 2>/dev/null
  rm -f "$ETC/sites-enabled/$SITE.conf" "$ETC/sites-available/$SITE.conf"
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed' && purge=1
  done
  [ -n "${purge:-}" ] && apt-get purge -y -q "${PKGS[@]}" >/dev/null 2>&1
  stop_httpd                 # a maintainer script may have (re)started it
  restore_stock
  rm -rf "$WORK"
  [ $rc -eq 0 ] || echo "check_installed: FAILED (see above)" >&2
  exit $rc
}
trap cleanup EXIT

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  local i
  for i in $(seq 1 150); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  fail "nothing answers on 127.0.0.1:$1"
}
# status PATH: the HTTP status of GET PATH (stdout), body/headers in $WORK/last
status() {
  curl -s -D "$WORK/last.headers" -o "$WORK/last.body" -w '%{http_code}' \
    --max-time 20 "http://127.0.0.1:$PORT$1"
}
expect() {
  local want=$1 path=$2 got; got=$(status "$path")
  [ "$got" = "$want" ] || {
    tail -n 20 "$ERRLOG" >&2
    fail "GET $path answered $got, expected $want"
  }
  echo "    GET $path -> $got"
}
loaded_lines() { grep -c "B2C01000: mod_b2c_auth .* loaded" "$ERRLOG" || true; }
start_or_reload() {
  if httpd_pid >/dev/null; then apache2ctl graceful; else apache2ctl start; fi
}
wait_loaded() {   # wait until more than $1 startup lines are logged
  local i
  for i in $(seq 1 100); do
    [ "$(loaded_lines)" -gt "$1" ] && return 0
    sleep 0.1
  done
  fail "httpd did not log B2C01000 (module loaded) within 10 s"
}

say "test identity platform on loopback"
NOROLE_ID=0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f NOROLE_SECRET=package-check-no-role
"$PY" "$TOP/tests/idp/idp.py" serve --port 0 --port-file "$WORK/idp.url" \
  --client-without-role "$NOROLE_ID:$NOROLE_SECRET" >/dev/null 2>"$WORK/idp.log" &
IDP_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/idp.url" ] && break; sleep 0.1; done
IDP=$(cat "$WORK/idp.url") || fail "the identity platform did not start"
curl -s -X POST -d '{}' --max-time 5 "$IDP/_control/info" > "$WORK/info.json"
info() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))" "$1" "$WORK/info.json"; }
TID=$(info "d['tenant_id']"); API=$(info "d['api_client_id']"); NAME=$(info "d['b2c_name']")
METADATA=$(info "d['metadata']['v2']")
CLIENT=$(info "[k for k in d['clients'] if k != '$NOROLE_ID'][0]")
info "d['clients']['$CLIENT']" > "$WORK/backend-api.secret"
printf '%s\n' "$NOROLE_SECRET" > "$WORK/no-role.secret"
chmod 600 "$WORK"/*.secret

# Loopback only, on a free port: the stock Listen 80 is not ours to take.
PORT=$(free_port)
printf '# written by tests/packaging/check_installed.sh (restored on exit)\nListen 127.0.0.1:%s\n' \
  "$PORT" > "$ETC/ports.conf"

say "apt-get install ${first[*]##*/}"
apt-get install -y -q "${first[@]}" > "$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log" >&2; fail "apt-get install"; }
for m in b2c_auth b2c_client proxy proxy_http socache_shmcb; do
  [ -e "$ETC/mods-enabled/$m.load" ] || fail "$m is not enabled after the install"
done
a2enmod b2c_auth b2c_client | sed 's/^/    /'   # what an operator types: a no-op now
for f in b2c_auth.load b2c_auth.conf b2c_client.load b2c_client.conf; do
  dpkg-query -W -f='${Conffiles}\n' "${PKGS[@]}" | grep -q "$ETC/mods-available/$f " \
    || fail "$f is not a conffile"
done

say "site $SITE from the examples in the shipped .conf files"
# The commented examples, uncommented; placeholders filled in; every one of
# them must be gone, so a change to the examples cannot slip past this check.
fill() {
  sed -e "s|https://login.microsoftonline.com/TENANT-ID/v2.0/.well-known/openid-configuration|$METADATA|" \
      -e "s|https://login.microsoftonline.com/TENANT-ID/oauth2/v2.0/token|$IDP/$TID/oauth2/v2.0/token|" \
      -e "s|TENANT-ID|$TID|g; s|API-CLIENT-ID|$API|g; s|CLIENT-ID|$CLIENT|g" \
      -e "s|https://contoso.onmicrosoft.com/|https://$NAME.onmicrosoft.com/|" \
      -e "s|/etc/apache2/b2c/backend-api.secret|$WORK/backend-api.secret|" \
      -e "s|http://127.0.0.1:5000/testdata|http://127.0.0.1:$PORT/backend/testdata|g" \
      -e "s|http://backend.internal/api/|http://127.0.0.1:$PORT/|"
}
AUTH_EX=$(sed -n '/^ *#<Location \/testdata>/,/^ *#<\/Location>/p' "$ETC/mods-available/b2c_auth.conf" \
  | sed 's/^ *#//' | fill)
CLIENT_EX=$(sed -n '/^# *<B2CClient backend-api>/,/^# *<\/B2CClient>/p' "$ETC/mods-available/b2c_client.conf" \
  | sed 's/^#//' | fill)
GW_EX=$(sed -n '/^# *<Location \/api\/>/,/^# *<\/Location>/p' "$ETC/mods-available/b2c_client.conf" \
  | sed 's/^#//' | fill)
for ex in "$AUTH_EX" "$CLIENT_EX" "$GW_EX"; do
  [ -n "$ex" ] || fail "an example block is missing from the shipped .conf files"
  if grep -E 'TENANT-ID|CLIENT-ID|backend\.internal|:5000' <<<"$ex"; then
    fail "placeholder left in the example above (the check's fill() needs updating)"
  fi
done
mkdir -p "$WORK/htdocs/backend"
printf 'Operation authorized\n' > "$WORK/htdocs/backend/testdata"
chmod -R a+rX "$WORK/htdocs"
{
  echo "# written by tests/packaging/check_installed.sh"
  echo "$CLIENT_EX"
  sed -e "s|<B2CClient backend-api>|<B2CClient no-role>|" \
      -e "s|B2CClientId .*|B2CClientId $NOROLE_ID|" \
      -e "s|$WORK/backend-api.secret|$WORK/no-role.secret|" <<<"$CLIENT_EX"
  cat <<CONF
<VirtualHost 127.0.0.1:$PORT>
    ServerName 127.0.0.1
    DocumentRoot $WORK/htdocs
    <Directory $WORK/htdocs>
        Require all granted
    </Directory>
    LogLevel warn b2c_auth:info b2c_client:info
    # the API: mod_b2c_auth in front of a backend (here a static file)
$AUTH_EX
    # the gateway: mod_b2c_client adds its token to what it proxies
$GW_EX
    <Location /no-role/>
        ProxyPass http://127.0.0.1:$PORT/
        B2CClientToken no-role
    </Location>
</VirtualHost>
CONF
} > "$ETC/sites-available/$SITE.conf"
a2ensite -q "$SITE"
apache2ctl -t 2>&1 | tail -n 3
before=$(loaded_lines)
say "apache2ctl start on 127.0.0.1:$PORT"
start_or_reload
wait_port "$PORT"
wait_loaded "$before"
version=$(dpkg-query -W -f='${Version}' libapache2-mod-b2c-auth)
grep -q "B2C01000: mod_b2c_auth ${version%-*} loaded" "$ERRLOG" || fail "no B2C01000 for ${version%-*}"
grep -q "B2C02000: mod_b2c_client ${version%-*} loaded" "$ERRLOG" || fail "no B2C02000 for ${version%-*}"

check_requests() {
  expect 401 /testdata
  grep -qi '^WWW-Authenticate: Bearer realm="testdata-api"' "$WORK/last.headers" \
    || fail "401 without a Bearer challenge"
  expect 200 /api/testdata
  grep -q 'Operation authorized' "$WORK/last.body" || fail "200 without the backend's body"
  expect 403 /no-role/testdata
  grep -qi 'insufficient_scope' "$WORK/last.headers" || fail "403 without insufficient_scope"
}
say "requests (API, gateway, client without the role)"
check_requests
tokens=$(curl -s -X POST -d '{}' --max-time 5 "$IDP/_control/counters")
"$PY" -c 'import json,sys; assert json.loads(sys.argv[1]).get("token", 0) >= 1, sys.argv[1]' "$tokens" \
  || fail "the identity platform issued no token: $tokens"

say "upgrade while httpd runs, with an edited b2c_auth.conf"
sed -i 's/^    #B2CAuthTokenCacheEntries 10000$/    B2CAuthTokenCacheEntries 5000/' "$ETC/mods-available/b2c_auth.conf"
grep -q '^    B2CAuthTokenCacheEntries 5000$' "$ETC/mods-available/b2c_auth.conf" \
  || fail "could not edit b2c_auth.conf (the commented default moved?)"
src=("$DEBS"/libapache2-mod-b2c-*/debian/changelog)
[ ${#src[@]} -eq 1 ] || fail "no build tree in $DEBS (./dev deb leaves one)"
tree=$(dirname "$(dirname "${src[0]}")")
mkdir "$WORK/newer"
cp -a "$tree" "$WORK/newer/"
newtree=$WORK/newer/$(basename "$tree")
newversion="$(dpkg-parsechangelog -l "$newtree/debian/changelog" -S Version)+check1"
{
  printf 'libapache2-mod-b2c (%s) unstable; urgency=medium\n\n' "$newversion"
  printf '  * Rebuild by tests/packaging/check_installed.sh (upgrade check).\n\n'
  printf ' -- mod_b2c developers <dev@mod-b2c.invalid>  %s\n\n' "$(date -R)"
  cat "$newtree/debian/changelog"
} > "$WORK/changelog" && mv "$WORK/changelog" "$newtree/debian/changelog"
# -nc: the tree is built already; only the binary packages are made again.
(cd "$newtree" && dpkg-buildpackage -us -uc -b -nc) > "$WORK/newer.log" 2>&1 \
  || { tail -n 30 "$WORK/newer.log" >&2; fail "building $newversion"; }
before=$(loaded_lines)
apt-get install -y -q "$WORK/newer"/libapache2-mod-b2c-*.deb > "$WORK/upgrade.log" 2>&1 \
  || { cat "$WORK/upgrade.log" >&2; fail "apt-get install (upgrade)"; }
[ "$(dpkg-query -W -f='${Version}' libapache2-mod-b2c-auth)" = "$newversion" ] \
  || fail "libapache2-mod-b2c-auth is not at $newversion"
grep -q '^    B2CAuthTokenCacheEntries 5000$' "$ETC/mods-available/b2c_auth.conf" \
  || fail "the upgrade lost the edit in b2c_auth.conf"
leftovers=("$ETC/mods-available"/b2c_*.dpkg-*)
[ ${#leftovers[@]} -eq 0 ] || fail "the upgrade left ${leftovers[*]}"
if [ "$(loaded_lines)" -gt "$before" ]; then
  echo "    the maintainer script restarted apache2 (invoke-rc.d)"
else
  # policy-rc.d (containers) forbids it: do the restart it asked for.
  grep -i 'policy-rc.d denied' "$WORK/upgrade.log" | head -n 1 | sed 's/^/    /'
  echo "    restarting as the maintainer script asked: apache2ctl restart"
  apache2ctl restart
fi
wait_loaded "$before"
wait_port "$PORT"
check_requests

say "apt-get purge"
stop_httpd
a2dissite -q "$SITE"
rm -f "$ETC/sites-available/$SITE.conf"
apt-get purge -y -q "${PKGS[@]}" > "$WORK/purge.log" 2>&1 \
  || { cat "$WORK/purge.log" >&2; fail "apt-get purge"; }
stop_httpd                   # the postrm's restart may have started it
left=$(ls "$ETC/mods-available" "$ETC/mods-enabled" /usr/lib/apache2/modules | grep -i b2c || true)
[ -z "$left" ] || fail "left after purge: $left"
apache2ctl -t 2>&1 | tail -n 1
restore_stock
ls "$ETC/mods-enabled" | cmp -s - "$WORK/mods-enabled.before" \
  || fail "mods-enabled differs from before the check"
apache2ctl -t 2>&1 | tail -n 1
say "OK: install, enable, 200/401/403, upgrade keeping the edited .conf, purge"
