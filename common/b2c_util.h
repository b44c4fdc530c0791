/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the core: base64url, constant-time compare, hashing.
 * APR + OpenSSL only; no httpd headers. */
#ifndef B2C_UTIL_H
#define B2C_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>
#include <stddef.h>

/* Strict base64url (RFC 7515 §2): alphabet [A-Za-z0-9_-], no padding, no
 * whitespace; a length of 1 mod 4 or non-zero trailing bits is an error.
 * The output is NUL-terminated for convenience (not counted in *outlen).
 * Returns APR_SUCCESS or APR_EINVAL. */
apr_status_t b2c_b64url_decode(apr_pool_t *p, const char *in, size_t inlen,
                               unsigned char **out, size_t *outlen);

/* base64url without padding, NUL-terminated. */
char *b2c_b64url_encode(apr_pool_t *p, const unsigned char *in, size_t inlen);

/* Lower-case hex of n bytes, NUL-terminated. */
char *b2c_hex_encode(apr_pool_t *p, const unsigned char *in, size_t n);

/* The sane range of a time in seconds since the epoch, for every time read
 * from a token or a cache entry before any arithmetic on it: 9999-12-31
 * 23:59:59Z. Its microseconds (apr_time_t) and sums of two such times stay
 * far inside 64 bits, so no conversion or addition can overflow. */
#define B2C_TIME_MAX 253402300799LL

/* t clamped to [-B2C_TIME_MAX, B2C_TIME_MAX]. */
long long b2c_time_clamp(long long t);

/* SHA-256 of data into out[32]. */
void b2c_sha256(const void *data, size_t len, unsigned char out[32]);

/* Locks m within timeout_ms (polled: APR's thread mutex is not a timed
 * one), so that no request waits for another thread's fetch longer than
 * the fetch timeout: 1 when locked, 0 when the time ran out. */
int b2c_mutex_lock_within(apr_thread_mutex_t *m, long timeout_ms);

/* A deep copy of an array of strings into p (NULL for NULL). */
apr_array_header_t *b2c_strings_copy(apr_pool_t *p,
                                     const apr_array_header_t *a);

#endif
