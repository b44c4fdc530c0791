# SPDX-License-Identifier: Apache-2.0
"""The version both modules report: a startup line in the error log (always),
and a component of httpd's version string (Server header, server-status) only
when B2CAuthServerTokens / B2CClientServerTokens say On. The version comes
from AC_INIT in configure.ac, the one place it is written."""

import os
import re

import pytest

from conftest import REPO

CLIENT_MODULE = os.path.join(os.environ.get('B2C_MODULE_DIR', REPO), 'mod_b2c_client.so')


def version():
    with open(os.path.join(REPO, 'configure.ac')) as f:
        m = re.search(r'^AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]', f.read(), re.M)
    return m.group(1)


def both_modules(make_httpd, extra=''):
    # The startup line is a notice, which httpd logs whatever the LogLevel.
    return make_httpd(loglevel='emerg', server_extra='LoadModule b2c_client_module %s\n%s'
                      % (CLIENT_MODULE, extra))


def test_version_logged_at_startup(make_httpd):
    h = both_modules(make_httpd).start()
    log = h.error_log()
    v = version()
    assert len(re.findall(r'B2C01000: mod_b2c_auth %s loaded' % re.escape(v), log)) == 1, log
    assert len(re.findall(r'B2C02000: mod_b2c_client %s loaded' % re.escape(v), log)) == 1, log


def test_no_version_component_by_default(make_httpd):
    h = both_modules(make_httpd, 'ServerTokens Full').start()
    server = h.get('/testdata').headers.get('Server')
    assert server.startswith('Apache/'), server
    assert 'mod_b2c' not in server


def test_version_component_when_asked(make_httpd):
    h = both_modules(make_httpd, 'ServerTokens Full\nB2CAuthServerTokens On\n'
                     'B2CClientServerTokens On').start()
    server = h.get('/testdata').headers.get('Server')
    v = version()
    assert server.split().count('mod_b2c_auth/%s' % v) == 1, server
    assert server.split().count('mod_b2c_client/%s' % v) == 1, server


@pytest.mark.parametrize('directive', ['B2CAuthServerTokens', 'B2CClientServerTokens'])
def test_server_tokens_is_server_config_only(make_httpd, directive):
    h = both_modules(make_httpd, '<VirtualHost 127.0.0.1:1>\n    %s On\n</VirtualHost>'
                     % directive)
    rc, out = h.check()
    assert rc != 0 and directive in out, out
