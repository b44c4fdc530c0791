/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the core: strict base64url and SHA-256.
 * Tokens and keys arrive as base64url; being strict here means one byte
 * string has exactly one encoding, so nothing downstream can be fooled by
 * padding, whitespace or alternative alphabets. */
#include "b2c_util.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of each byte as a base64url character, or -1 for anything else
 * ('=' and '+' and '/' included: the alphabet is RFC 4648 §5 and padding
 * is not used). A table: tokens are decoded on every new token. */
/* clang-format off: one row per 16 byte values */
static const signed char b64url_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, 52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1,
    63, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1,
};
/* clang-format on */

static int b64url_value(unsigned char c)
{
    return b64url_values[c];
}

apr_status_t b2c_b64url_decode(apr_pool_t *p, const char *in, size_t inlen,
                               unsigned char **out, size_t *outlen)
{
    size_t full, rest, i, o = 0;
    unsigned char *buf;

    *out = NULL;
    *outlen = 0;
    if (in == NULL && inlen > 0)
        return APR_EINVAL;
    full = inlen / 4;
    rest = inlen % 4;
    if (rest == 1) /* 6 bits cannot make a byte */
        return APR_EINVAL;
    buf = apr_palloc(p, full * 3 + (rest ? rest - 1 : 0) + 1);

    for (i = 0; i + 4 <= inlen; i += 4) {
        int a = b64url_value((unsigned char)in[i]);
        int b = b64url_value((unsigned char)in[i + 1]);
        int c = b64url_value((unsigned char)in[i + 2]);
        int d = b64url_value((unsigned char)in[i + 3]);
        if ((a | b | c | d) < 0)
            return APR_EINVAL;
        buf[o++] = (unsigned char)((a << 2) | (b >> 4));
        buf[o++] = (unsigned char)(((b & 0x0f) << 4) | (c >> 2));
        buf[o++] = (unsigned char)(((c & 0x03) << 6) | d);
    }
    if (rest >= 2) {
        int a = b64url_value((unsigned char)in[i]);
        int b = b64url_value((unsigned char)in[i + 1]);
        int c = rest == 3 ? b64url_value((unsigned char)in[i + 2]) : 0;
        if ((a | b | c) < 0)
            return APR_EINVAL;
        buf[o++] = (unsigned char)((a << 2) | (b >> 4));
        if (rest == 2) {
            if (b & 0x0f) /* non-canonical: unused bits must be zero */
                return APR_EINVAL;
        }
        else {
            buf[o++] = (unsigned char)(((b & 0x0f) << 4) | (c >> 2));
            if (c & 0x03)
                return APR_EINVAL;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return APR_SUCCESS;
}

char *b2c_b64url_encode(apr_pool_t *p, const unsigned char *in, size_t inlen)
{
    size_t i, o = 0;
    char *buf = apr_palloc(p, (inlen / 3) * 4 + 4 + 1);

    for (i = 0; i + 3 <= inlen; i += 3) {
        unsigned v =
            ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];
        buf[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        buf[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        buf[o++] = b64url_alphabet[(v >> 6) & 0x3f];
        buf[o++] = b64url_alphabet[v & 0x3f];
    }
    if (inlen - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        buf[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        buf[o++] = b64url_alphabet[(v >> 12) & 0x3f];
    }
    else if (inlen - i == 2) {
        unsigned v = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8);
        buf[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        buf[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        buf[o++] = b64url_alphabet[(v >> 6) & 0x3f];
    }
    buf[o] = '\0';
    return buf;
}

/* Fetched once: OpenSSL 3 looks EVP_sha256() up on every use otherwise.
 * Kept for the life of the process (a digest method holds no resources). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void b2c_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;

    pthread_once(&sha256_once, fetch_sha256);
    /* EVP_Digest can only fail on allocation failure; leave zeros then so
     * callers never read uninitialised memory. */
    if (EVP_Digest(data, len, out, &n, sha256_md ? sha256_md : EVP_sha256(),
                   NULL)
        != 1)
        memset(out, 0, 32);
}

char *b2c_hex_encode(apr_pool_t *p, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = apr_palloc(p, 2 * n + 1);
    size_t i;

    for (i = 0; i < n; i++) {
        s[2 * i] = digits[in[i] >> 4];
        s[2 * i + 1] = digits[in[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

long long b2c_time_clamp(long long t)
{
    if (t > B2C_TIME_MAX)
        return B2C_TIME_MAX;
    return t < -B2C_TIME_MAX ? -B2C_TIME_MAX : t;
}

int b2c_mutex_lock_within(apr_thread_mutex_t *m, long timeout_ms)
{
    apr_time_t until = apr_time_now() + apr_time_from_msec(timeout_ms);

    while (apr_thread_mutex_trylock(m) != APR_SUCCESS) {
        if (apr_time_now() >= until)
            return 0;
        apr_sleep(apr_time_from_msec(5));
    }
    return 1;
}

apr_array_header_t *b2c_strings_copy(apr_pool_t *p, const apr_array_header_t *a)
{
    apr_array_header_t *c;
    int i;

    if (!a)
        return NULL;
    c = apr_array_make(p, a->nelts, sizeof(const char *));
    for (i = 0; i < a->nelts; i++)
        APR_ARRAY_PUSH(c, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(a, i, const char *));
    return c;
}
