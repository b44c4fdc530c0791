/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing with an operator key ring (see b2c_seal.h). */
#include "b2c_seal.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_LEN   12
#define TAG_LEN     16
#define HEADER_LEN  (1 + B2C_SEAL_KEY_ID_LEN)
#define MAX_CONTEXT (1024 * 1024)

/* Fixed labels: a new format or algorithm gets new labels (and version). */
#define HKDF_SALT "mod_b2c seal"
#define INFO_AES  "mod_b2c seal v1 aes-256-gcm key"
#define INFO_ID   "mod_b2c seal v1 key id"

struct b2c_seal_key {
    unsigned char aes[32];
    unsigned char id[B2C_SEAL_KEY_ID_LEN];
};

struct b2c_seal_ring {
    const b2c_seal_key_t *current;
    const b2c_seal_key_t *old[B2C_SEAL_MAX_OLD];
    int nold;
    EVP_CIPHER *cipher; /* fetched once; shared read-only by threads */
};

const char *b2c_seal_status_text(b2c_seal_status_t st)
{
    switch (st) {
    case B2C_SEAL_OK:
        return "ok";
    case B2C_SEAL_MALFORMED:
        return "truncated or malformed";
    case B2C_SEAL_BAD_VERSION:
        return "unknown format version";
    case B2C_SEAL_UNKNOWN_KEY:
        return "sealed with a key not configured";
    case B2C_SEAL_FORGED:
        return "authentication failed";
    default:
        return "crypto library error";
    }
}

static apr_status_t wipe_key(void *key)
{
    OPENSSL_cleanse(key, sizeof(b2c_seal_key_t));
    return APR_SUCCESS;
}

static int hkdf(const void *secret, size_t len, const char *info,
                unsigned char *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *)secret, len);
    params[2] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, (void *)HKDF_SALT, strlen(HKDF_SALT));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  (void *)info, strlen(info));
    params[4] = OSSL_PARAM_construct_end();
    ok = kctx && EVP_KDF_derive(kctx, out, outlen, params) == 1;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok;
}

apr_status_t b2c_seal_key_from_bytes(apr_pool_t *p, const void *secret,
                                     size_t len, b2c_seal_key_t **key)
{
    b2c_seal_key_t *k;

    if (!secret || len < B2C_SEAL_MIN_SECRET || len > B2C_SEAL_MAX_SECRET)
        return APR_EINVAL;
    k = apr_palloc(p, sizeof(*k));
    apr_pool_cleanup_register(p, k, wipe_key, apr_pool_cleanup_null);
    if (!hkdf(secret, len, INFO_AES, k->aes, sizeof(k->aes))
        || !hkdf(secret, len, INFO_ID, k->id, sizeof(k->id)))
        return APR_EGENERAL;
    *key = k;
    return APR_SUCCESS;
}

apr_status_t b2c_seal_key_generate(apr_pool_t *p, b2c_seal_key_t **key)
{
    unsigned char secret[B2C_SEAL_MIN_SECRET];
    apr_status_t rv;

    if (RAND_bytes(secret, sizeof(secret)) != 1)
        return APR_EGENERAL;
    rv = b2c_seal_key_from_bytes(p, secret, sizeof(secret), key);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rv;
}

/* Reads the whole of fd (at most max bytes) into buf; -1 on error. */
static ssize_t read_all(int fd, unsigned char *buf, size_t max)
{
    size_t got = 0;

    while (got < max) {
        ssize_t n = read(fd, buf + got, max - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

apr_status_t b2c_seal_key_load(apr_pool_t *p, const char *path,
                               b2c_seal_key_t **key, const char **err,
                               const char **warn)
{
    /* one byte more than allowed, to see a file that grew past the limit */
    unsigned char buf[B2C_SEAL_MAX_SECRET + 1];
    struct stat st;
    ssize_t n;
    int fd, e;
    apr_status_t rv;

    if (warn)
        *warn = NULL;
    /* O_NONBLOCK: a FIFO put in its place must not hang the startup */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        e = errno;
        *err =
            apr_psprintf(p, "cannot open key file '%s': %s", path, strerror(e));
        return APR_FROM_OS_ERROR(e);
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *err = apr_psprintf(p, "key file '%s' is not a regular file", path);
        return APR_EINVAL;
    }
    if (warn && (st.st_mode & 077))
        *warn = apr_psprintf(p,
                             "key file '%s' is readable or writable by "
                             "group or others: make it mode 0600",
                             path);
    n = read_all(fd, buf, sizeof(buf));
    e = errno;
    close(fd);
    if (n < 0) {
        *err =
            apr_psprintf(p, "cannot read key file '%s': %s", path, strerror(e));
        return APR_FROM_OS_ERROR(e);
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    if (n == 0)
        *err = apr_psprintf(p, "key file '%s' is empty", path);
    else if (n < B2C_SEAL_MIN_SECRET)
        *err = apr_psprintf(p,
                            "key file '%s' holds %d bytes, at least %d "
                            "are needed (make one with: openssl rand "
                            "-base64 32)",
                            path, (int)n, B2C_SEAL_MIN_SECRET);
    else if (n > B2C_SEAL_MAX_SECRET)
        *err = apr_psprintf(p,
                            "key file '%s' is larger than %d bytes: not "
                            "a key file?",
                            path, B2C_SEAL_MAX_SECRET);
    if (n < B2C_SEAL_MIN_SECRET || n > B2C_SEAL_MAX_SECRET) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return APR_EINVAL;
    }
    rv = b2c_seal_key_from_bytes(p, buf, (size_t)n, key);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rv != APR_SUCCESS)
        *err = apr_psprintf(p, "key file '%s': key derivation failed", path);
    return rv;
}

const char *b2c_seal_key_id_hex(apr_pool_t *p, const b2c_seal_key_t *key)
{
    return b2c_hex_encode(p, key->id, sizeof(key->id));
}

static apr_status_t free_cipher(void *cipher)
{
    EVP_CIPHER_free(cipher);
    return APR_SUCCESS;
}

b2c_seal_ring_t *b2c_seal_ring_make(apr_pool_t *p,
                                    const b2c_seal_key_t *current)
{
    b2c_seal_ring_t *ring = apr_pcalloc(p, sizeof(*ring));

    ring->current = current;
    ring->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (ring->cipher)
        apr_pool_cleanup_register(p, ring->cipher, free_cipher,
                                  apr_pool_cleanup_null);
    return ring;
}

static const b2c_seal_key_t *find_key(const b2c_seal_ring_t *ring,
                                      const unsigned char *id)
{
    int i;

    if (!memcmp(ring->current->id, id, B2C_SEAL_KEY_ID_LEN))
        return ring->current;
    for (i = 0; i < ring->nold; i++)
        if (!memcmp(ring->old[i]->id, id, B2C_SEAL_KEY_ID_LEN))
            return ring->old[i];
    return NULL;
}

apr_status_t b2c_seal_ring_add_old(b2c_seal_ring_t *ring,
                                   const b2c_seal_key_t *old)
{
    if (ring->nold >= B2C_SEAL_MAX_OLD || find_key(ring, old->id))
        return APR_EINVAL;
    ring->old[ring->nold++] = old;
    return APR_SUCCESS;
}

apr_status_t b2c_seal_ring_load(apr_pool_t *p, const char *const *paths,
                                int npaths, b2c_seal_ring_t **ring,
                                const char **err, const char **warn)
{
    b2c_seal_ring_t *r = NULL;
    const char *w;
    apr_status_t rv;
    int i;

    *warn = NULL;
    if (npaths < 1 || npaths > 1 + B2C_SEAL_MAX_OLD) {
        *err = apr_psprintf(p,
                            "one current key file and at most %d old "
                            "ones are needed",
                            B2C_SEAL_MAX_OLD);
        return APR_EINVAL;
    }
    for (i = 0; i < npaths; i++) {
        b2c_seal_key_t *k;

        rv = b2c_seal_key_load(p, paths[i], &k, err, &w);
        if (rv != APR_SUCCESS)
            return rv;
        if (w && !*warn)
            *warn = w;
        if (!r)
            r = b2c_seal_ring_make(p, k);
        else if (b2c_seal_ring_add_old(r, k) != APR_SUCCESS) {
            *err = apr_psprintf(p,
                                "key file '%s' holds the same key as an "
                                "earlier one",
                                paths[i]);
            return APR_EINVAL;
        }
    }
    if (!r->cipher) {
        *err = "AES-256-GCM is not available from OpenSSL";
        return APR_EGENERAL;
    }
    *ring = r;
    return APR_SUCCESS;
}

/* The AAD: the blob's header, then the context. */
static int aad_update(EVP_CIPHER_CTX *ctx, int enc, const void *data,
                      size_t len)
{
    int n;

    if (len == 0)
        return 1;
    return enc ? EVP_EncryptUpdate(ctx, NULL, &n, data, (int)len) == 1
               : EVP_DecryptUpdate(ctx, NULL, &n, data, (int)len) == 1;
}

static int add_aad(EVP_CIPHER_CTX *ctx, int enc, const unsigned char *hdr,
                   const char *context)
{
    return aad_update(ctx, enc, hdr, HEADER_LEN)
           && aad_update(ctx, enc, context, strlen(context));
}

apr_status_t b2c_seal(const b2c_seal_ring_t *ring, apr_pool_t *p,
                      const char *context, const void *plain, size_t len,
                      unsigned char **out, size_t *outlen)
{
    const b2c_seal_key_t *k = ring->current;
    unsigned char *buf, *nonce, *ct;
    EVP_CIPHER_CTX *ctx;
    int n = 0, m = 0, ok;

    if (len > B2C_SEAL_MAX_PLAIN || strlen(context) > MAX_CONTEXT
        || !ring->cipher)
        return APR_EINVAL;
    buf = apr_palloc(p, len + B2C_SEAL_OVERHEAD);
    buf[0] = B2C_SEAL_VERSION;
    memcpy(buf + 1, k->id, B2C_SEAL_KEY_ID_LEN);
    nonce = buf + HEADER_LEN;
    ct = nonce + NONCE_LEN;
    if (RAND_bytes(nonce, NONCE_LEN) != 1)
        return APR_EGENERAL;
    if (!(ctx = EVP_CIPHER_CTX_new()))
        return APR_EGENERAL;
    ok = EVP_EncryptInit_ex2(ctx, ring->cipher, k->aes, nonce, NULL) == 1
         && add_aad(ctx, 1, buf, context)
         && (len == 0 || EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) == 1)
         && EVP_EncryptFinal_ex(ctx, ct + n, &m) == 1 && (size_t)(n + m) == len
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, ct + len)
                == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return APR_EGENERAL;
    *out = buf;
    *outlen = len + B2C_SEAL_OVERHEAD;
    return APR_SUCCESS;
}

b2c_seal_status_t b2c_seal_open(const b2c_seal_ring_t *ring, apr_pool_t *p,
                                const char *context, const void *blob,
                                size_t len, char **plain, size_t *plainlen)
{
    const unsigned char *b = blob, *nonce, *ct;
    const b2c_seal_key_t *k;
    unsigned char *buf;
    size_t clen;
    EVP_CIPHER_CTX *ctx;
    int n = 0, m = 0, init, ok;

    if (!blob || len == 0)
        return B2C_SEAL_MALFORMED;
    if (b[0] != B2C_SEAL_VERSION)
        return B2C_SEAL_BAD_VERSION;
    if (len < B2C_SEAL_OVERHEAD || len - B2C_SEAL_OVERHEAD > B2C_SEAL_MAX_PLAIN)
        return B2C_SEAL_MALFORMED;
    if (!(k = find_key(ring, b + 1)))
        return B2C_SEAL_UNKNOWN_KEY;
    if (!ring->cipher || strlen(context) > MAX_CONTEXT)
        return B2C_SEAL_ERROR;
    nonce = b + HEADER_LEN;
    ct = nonce + NONCE_LEN;
    clen = len - B2C_SEAL_OVERHEAD;
    buf = apr_palloc(p, clen + 1);
    if (!(ctx = EVP_CIPHER_CTX_new()))
        return B2C_SEAL_ERROR;
    init = EVP_DecryptInit_ex2(ctx, ring->cipher, k->aes, nonce, NULL) == 1
           && add_aad(ctx, 0, b, context)
           && (clen == 0 || EVP_DecryptUpdate(ctx, buf, &n, ct, (int)clen) == 1)
           && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
                                  (void *)(ct + clen))
                  == 1;
    ok = init && EVP_DecryptFinal_ex(ctx, buf + n, &m) == 1
         && (size_t)(n + m) == clen;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        /* never leave unauthenticated plaintext lying in the pool */
        OPENSSL_cleanse(buf, clen + 1);
        return init ? B2C_SEAL_FORGED : B2C_SEAL_ERROR;
    }
    buf[clen] = '\0';
    *plain = (char *)buf;
    *plainlen = clen;
    return B2C_SEAL_OK;
}
