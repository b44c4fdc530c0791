# SPDX-License-Identifier: Apache-2.0
"""Runs last (file order): token bytes never reach the shared httpd's logs."""

from conftest import MINTED, assert_no_tokens_in


def test_no_token_bytes_in_logs(srv):
    assert len(MINTED) > 50, 'the suite should have minted many tokens by now'
    assert_no_tokens_in(srv.error_log(), MINTED, 'error log')
    assert_no_tokens_in(srv._read(srv.root + '/logs/access.log'), MINTED, 'access log')


def test_reasons_logged(srv):
    import re
    log = srv.error_log()
    assert re.search(r'\[b2c_auth:info\] .*B2C\d{5}: token rejected', log), log[-2000:]
