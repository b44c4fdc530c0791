/* SPDX-License-Identifier: Apache-2.0 */
/* The two kinds of last-good state, as b2c_cache_entry bytes (one entry
 * format for the shared cache and the state files): the keys of one
 * metadata URL ("keys": fetched, URL, issuer, JWKS) and a client's token
 * ("ctoken": obtained, lifetime, token). The bytes are the same as
 * key_store.c and client_tokens.c write today. Pure: no httpd headers.
 *
 * Unpacking is strict: times are decimal (b2c_cache_parse_int) in sane
 * ranges, text fields non-empty without control characters.
 * NOT checked here (the caller's job): that the JWKS parses and holds
 * usable keys (b2c_jwks_parse), that the issuer is the one the
 * configuration expects, that the keys are within B2CAuthMaxStale, and
 * that a token is still usable with the refresh margin. */
#ifndef B2C_STATE_ENTRY_H
#define B2C_STATE_ENTRY_H

#include <apr_pools.h>
#include <stddef.h>

/* How far in the future a time written by another server may lie. */
#define B2C_STATE_CLOCK_SLACK  60
#define B2C_STATE_MAX_LIFETIME (366LL * 24 * 3600)

typedef struct {
    long long fetched; /* seconds since the epoch */
    const char *url;   /* the metadata URL */
    const char *issuer;
    const char *jwks; /* the JWKS document as fetched */
} b2c_keys_entry_t;

typedef struct {
    long long obtained; /* seconds since the epoch */
    long long lifetime; /* seconds, 1 .. B2C_STATE_MAX_LIFETIME */
    const char *token;
} b2c_ctoken_entry_t;

/* APR_EINVAL when a field would not unpack again (see below). */
apr_status_t b2c_keys_entry_pack(apr_pool_t *p, const b2c_keys_entry_t *e,
                                 char **out, size_t *outlen);

/* A "keys" entry: fetched in 1 .. now + B2C_STATE_CLOCK_SLACK; url equal
 * to expect_url (unless NULL); url and issuer non-empty, printable ASCII;
 * jwks non-empty. *why: a short constant reason on APR_EINVAL. */
apr_status_t b2c_keys_entry_unpack(apr_pool_t *p, const char *buf, size_t len,
                                   long long now, const char *expect_url,
                                   b2c_keys_entry_t *e, const char **why);

apr_status_t b2c_ctoken_entry_pack(apr_pool_t *p, const b2c_ctoken_entry_t *e,
                                   char **out, size_t *outlen);

/* A "ctoken" entry: obtained in 1 .. now + B2C_STATE_CLOCK_SLACK, lifetime
 * in 1 .. B2C_STATE_MAX_LIFETIME, not expired at now (obtained + lifetime
 * > now), token non-empty printable ASCII without spaces. */
apr_status_t b2c_ctoken_entry_unpack(apr_pool_t *p, const char *buf, size_t len,
                                     long long now, b2c_ctoken_entry_t *e,
                                     const char **why);

#endif
