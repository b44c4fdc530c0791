/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing with an operator key ring: AES-256-GCM over bytes that leave
 * httpd's memory (redis/memcache entries, state files on disk), bound to
 * the name they are stored under. Pure: APR + OpenSSL, no httpd headers.
 *
 * Blob (binary; socache providers and files store bytes with a length):
 *   version (1 byte, 0x01) | key id (8) | nonce (12, random) |
 *   ciphertext (as long as the plaintext) | GCM tag (16)
 * The AAD is version | key id | context, so the context (the cache key, the
 * state file's identity) is authenticated but never stored: a blob copied
 * or replayed under another context does not open.
 *
 * Guaranteed: a blob opens only when it was sealed by a key of the ring
 * under the same context, unaltered and whole (GCM's tag, checked in
 * constant time by OpenSSL); any other bytes give a distinct status, never
 * a crash, never partial plaintext. Plaintext is confidential.
 *
 * NOT guaranteed (the caller's job):
 * - Freshness: an old blob sealed under the same context opens again (a
 *   cache server can serve yesterday's entry). Put a time or generation in
 *   the plaintext and check it; refuse what is older than what you have.
 * - The meaning of the plaintext: parse it strictly (b2c_state_entry.h).
 * - Nonces are random: rotate a key well before 2^32 seals (NIST SP
 *   800-38D); at 1,000 seals a second that is over four months.
 * - Rings and keys are read-only after creation: share them between
 *   threads freely, but build them at configuration time. */
#ifndef B2C_SEAL_H
#define B2C_SEAL_H

#include <apr_pools.h>
#include <stddef.h>

#define B2C_SEAL_VERSION    1
#define B2C_SEAL_KEY_ID_LEN 8
#define B2C_SEAL_OVERHEAD   (1 + B2C_SEAL_KEY_ID_LEN + 12 + 16)
#define B2C_SEAL_MIN_SECRET 32 /* bytes of key file content */
#define B2C_SEAL_MAX_SECRET 4096
#define B2C_SEAL_MAX_OLD    4 /* old keys accepted for opening */
#define B2C_SEAL_MAX_PLAIN  (64 * 1024 * 1024)

typedef struct b2c_seal_key b2c_seal_key_t;
typedef struct b2c_seal_ring b2c_seal_ring_t;

typedef enum {
    B2C_SEAL_OK = 0,
    B2C_SEAL_MALFORMED,   /* empty, truncated or too short */
    B2C_SEAL_BAD_VERSION, /* another format version */
    B2C_SEAL_UNKNOWN_KEY, /* sealed by a key not in the ring */
    B2C_SEAL_FORGED,      /* tag mismatch: altered, other context/key */
    B2C_SEAL_ERROR        /* OpenSSL failed (out of memory) */
} b2c_seal_status_t;

/* A short constant text for log lines ("authentication failed", ...). */
const char *b2c_seal_status_text(b2c_seal_status_t st);

/* A key from a file holding at least B2C_SEAL_MIN_SECRET bytes (after one
 * trailing "\n" or "\r\n" is dropped), at most B2C_SEAL_MAX_SECRET; e.g.
 * `openssl rand -base64 32 > FILE` (the text itself is the secret: the
 * same file gives the same key on every server). The AES key and the key
 * id come from HKDF-SHA256 over the content with two fixed labels; the
 * file's bytes are wiped from memory once used. *err names the file and
 * what is wrong, never its content. *warn (may be NULL) is set to a
 * sentence when the file is readable or writable by group or others,
 * else NULL; the caller logs it. */
apr_status_t b2c_seal_key_load(apr_pool_t *p, const char *path,
                               b2c_seal_key_t **key, const char **err,
                               const char **warn);

/* The same derivation from bytes in memory (tests; a secret generated at
 * startup). APR_EINVAL when len is outside the bounds above. */
apr_status_t b2c_seal_key_from_bytes(apr_pool_t *p, const void *secret,
                                     size_t len, b2c_seal_key_t **key);

/* A key from B2C_SEAL_MIN_SECRET fresh random bytes (never written out). */
apr_status_t b2c_seal_key_generate(apr_pool_t *p, b2c_seal_key_t **key);

/* Lower-case hex of the key id (16 digits): not secret, for log lines
 * that say which key sealed or should have. */
const char *b2c_seal_key_id_hex(apr_pool_t *p, const b2c_seal_key_t *key);

/* A ring that seals with current and opens with current or an old key.
 * The ring refers to the keys: allocate them from p or a longer pool. */
b2c_seal_ring_t *b2c_seal_ring_make(apr_pool_t *p,
                                    const b2c_seal_key_t *current);

/* Accept old for opening. APR_EINVAL when B2C_SEAL_MAX_OLD are there
 * already or a key with the same id is in the ring. */
apr_status_t b2c_seal_ring_add_old(b2c_seal_ring_t *ring,
                                   const b2c_seal_key_t *old);

/* Convenience for a directive's arguments: paths[0] seals, the others are
 * old keys. *err as for b2c_seal_key_load (or says which paths repeat a
 * key); *warn the first warning, if any. */
apr_status_t b2c_seal_ring_load(apr_pool_t *p, const char *const *paths,
                                int npaths, b2c_seal_ring_t **ring,
                                const char **err, const char **warn);

/* Seal len bytes under context (a NUL-terminated string, may be "") into
 * a blob of len + B2C_SEAL_OVERHEAD bytes from p. APR_EINVAL when len is
 * over B2C_SEAL_MAX_PLAIN; APR_EGENERAL when OpenSSL fails. */
apr_status_t b2c_seal(const b2c_seal_ring_t *ring, apr_pool_t *p,
                      const char *context, const void *plain, size_t len,
                      unsigned char **out, size_t *outlen);

/* Open a blob sealed under context. On B2C_SEAL_OK *plain (from p, with a
 * NUL after the *plainlen bytes for convenience; the plaintext itself may
 * hold NULs) is set; otherwise *plain and *plainlen are untouched. */
b2c_seal_status_t b2c_seal_open(const b2c_seal_ring_t *ring, apr_pool_t *p,
                                const char *context, const void *blob,
                                size_t len, char **plain, size_t *plainlen);

#endif
