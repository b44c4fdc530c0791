/* SPDX-License-Identifier: Apache-2.0 */
/* Shared declarations for the Check unit tests of common/: one suite per
 * test_*.c, plus run-time key generation and token signing (keys.c) so no
 * test needs the network, fixed key files or the wall clock. */
#ifndef B2C_UNIT_H
#define B2C_UNIT_H

#include <apr_pools.h>
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "b2c_jwks.h"

#ifndef TESTDATA_DIR
#define TESTDATA_DIR "tests/data"
#endif

/* A fixed "now" for every test: 2023-11-14T22:13:20Z. */
#define UT_NOW 1700000000LL

Suite *util_suite(void);
Suite *jwks_suite(void);
Suite *jwt_suite(void);
Suite *validate_suite(void);
Suite *claims_suite(void);
Suite *discovery_suite(void);
Suite *token_client_suite(void);
Suite *bearer_suite(void);
Suite *token_cache_suite(void);
Suite *url_suite(void);
Suite *authority_backoff_suite(void);
Suite *single_flight_suite(void);
Suite *key_policy_suite(void);
Suite *seal_suite(void);
Suite *state_file_suite(void);
Suite *stopping_suite(void); /* run last: raises a process-wide flag */

/* Per-test pool, created by ut_setup and destroyed by ut_teardown (add both
 * with tcase_add_checked_fixture). */
extern apr_pool_t *ut_pool;
void ut_setup(void);
void ut_teardown(void);

/* Keys generated once per run by tk_init() (before forking). */
extern EVP_PKEY *tk_rsa2048, *tk_rsa2048_other, *tk_rsa1024;
extern EVP_PKEY *tk_ec256, *tk_ec384, *tk_ec521;
void tk_init(void);
void tk_cleanup(void);

/* The public half of key as a JWK object (a new reference): n/e or
 * crv/x/y, plus the optional members when not NULL. */
json_t *tk_jwk(EVP_PKEY *key, const char *kid, const char *alg, const char *use,
               const char *issuer);

/* {"keys":[...]} from a NULL-terminated list of JWK objects (references
 * are stolen), serialised into p. */
char *tk_jwks_doc(apr_pool_t *p, json_t *first, ...);

/* Parse a JWKS built like tk_jwks_doc; fails the test on error. */
b2c_jwks_t *tk_jwks(apr_pool_t *p, json_t *first, ...);

/* Compact JWS: base64url(header).base64url(claims).sig, signed with key by
 * alg ("RS256" ... "ES512"; ES signatures in JOSE r||s form). */
char *tk_sign(apr_pool_t *p, EVP_PKEY *key, const char *alg, const char *header,
              const char *claims);

/* HS256 with an arbitrary secret: to prove HMAC tokens are refused. */
char *tk_sign_hs256(apr_pool_t *p, const unsigned char *secret, size_t len,
                    const char *header, const char *claims);

/* Assemble a token from raw parts (signature bytes given). */
char *tk_compact(apr_pool_t *p, const char *header, const char *claims,
                 const unsigned char *sig, size_t sig_len);

/* Serialise a JSON value (reference stolen) compactly into p. */
char *tk_json(apr_pool_t *p, json_t *v);

/* Read TESTDATA_DIR/relpath into p (NUL-terminated); fails the test on error. */
char *tk_read_data(apr_pool_t *p, const char *relpath, size_t *len);

#endif
