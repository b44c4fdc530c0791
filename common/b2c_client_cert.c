/* SPDX-License-Identifier: Apache-2.0 */
/* A certificate credential for the token client, as MSAL's WithCertificate
 * uses it: load the PEM certificate and RSA key, and sign the RFC 7523
 * client assertion with them. Errors name the file at fault, never key
 * material. No logging here. */
#include "b2c_client_cert.h"
#include "b2c_json.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>

#define ASSERTION_LIFETIME 600 /* seconds; MSAL uses 10 minutes */
#define MIN_RSA_BITS       2048

/* ---------------------------------------------------------------------
 * Certificates
 */

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free((EVP_PKEY *)data);
    return APR_SUCCESS;
}

/* PEM password callback: never prompt (a worker has no terminal), so an
 * encrypted key simply fails to load. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

static const char *open_error(apr_pool_t *p, const char *what, const char *file)
{
    char buf[120];
    apr_status_t rv = errno ? APR_FROM_OS_ERROR(errno) : APR_ENOENT;

    return apr_psprintf(p, "cannot open %s file %s: %s", what, file,
                        apr_strerror(rv, buf, sizeof(buf)));
}

/* Fetched and freed here rather than EVP_sha1()'s implicit fetch, which
 * leaves an object behind for the life of the process. */
static const char *digest_b64url(apr_pool_t *p, const char *name,
                                 const unsigned char *der, size_t len)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    int ok = md && EVP_Digest(der, len, out, &n, md, NULL) == 1;

    EVP_MD_free(md);
    return ok ? b2c_b64url_encode(p, out, n) : NULL;
}

apr_status_t b2c_client_cert_load(apr_pool_t *p, const char *cert_file,
                                  const char *key_file, b2c_client_cert_t **out,
                                  const char **err)
{
    BIO *bio;
    X509 *x509 = NULL;
    EVP_PKEY *key = NULL;
    unsigned char *der = NULL;
    int der_len, bits;
    const char *x5t = NULL, *x5t_s256 = NULL;
    b2c_client_cert_t *cert;

    *out = NULL;
    *err = NULL;
    if (cert_file == NULL || *cert_file == '\0') {
        *err = "no certificate file given";
        return APR_EINVAL;
    }
    if (key_file == NULL || *key_file == '\0')
        key_file = cert_file; /* one PEM file holding both */

    errno = 0;
    if ((bio = BIO_new_file(cert_file, "r")) == NULL) {
        *err = open_error(p, "certificate", cert_file);
        goto fail;
    }
    x509 = PEM_read_bio_X509(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (x509 == NULL) {
        *err = apr_psprintf(p, "%s holds no PEM certificate", cert_file);
        goto fail;
    }

    errno = 0;
    if ((bio = BIO_new_file(key_file, "r")) == NULL) {
        *err = open_error(p, "private key", key_file);
        goto fail;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (key == NULL) {
        *err = apr_psprintf(p,
                            "%s holds no PEM private key (encrypted keys "
                            "are not supported)",
                            key_file);
        goto fail;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        *err = apr_psprintf(p, "the key in %s is not an RSA key", key_file);
        goto fail;
    }
    if ((bits = EVP_PKEY_get_bits(key)) < MIN_RSA_BITS) {
        *err = apr_psprintf(p,
                            "the RSA key in %s has %d bits, at least %d "
                            "are required",
                            key_file, bits, MIN_RSA_BITS);
        goto fail;
    }
    if (X509_check_private_key(x509, key) != 1) {
        *err = apr_psprintf(p,
                            "the key in %s does not match the certificate "
                            "in %s",
                            key_file, cert_file);
        goto fail;
    }
    if ((der_len = i2d_X509(x509, &der)) <= 0
        || (x5t = digest_b64url(p, "SHA1", der, (size_t)der_len)) == NULL
        || (x5t_s256 = digest_b64url(p, "SHA256", der, (size_t)der_len))
               == NULL) {
        *err = apr_psprintf(p, "cannot hash the certificate in %s", cert_file);
        goto fail;
    }
    OPENSSL_free(der);
    X509_free(x509);
    ERR_clear_error();

    cert = apr_pcalloc(p, sizeof(*cert));
    cert->key = key;
    cert->x5t = x5t;
    cert->x5t_s256 = x5t_s256;
    apr_pool_cleanup_register(p, key, pkey_cleanup, apr_pool_cleanup_null);
    *out = cert;
    return APR_SUCCESS;

fail:
    OPENSSL_free(der);
    X509_free(x509);
    EVP_PKEY_free(key);
    ERR_clear_error(); /* leave no failures for other code to find */
    return APR_EINVAL;
}

/* ---------------------------------------------------------------------
 * Client assertion (RFC 7523 §2.2, RFC 7521 §5.2)
 */

static const char *b64url_json(apr_pool_t *p, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    const char *enc;

    if (s == NULL)
        return NULL;
    enc = b2c_b64url_encode(p, (const unsigned char *)s, strlen(s));
    free(s);
    return enc;
}

/* A random (version 4) UUID, RFC 9562 §5.4. */
static const char *random_uuid(apr_pool_t *p)
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1)
        return NULL;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return apr_psprintf(p,
                        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                        "%02x%02x%02x%02x%02x%02x",
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
                        b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

apr_status_t b2c_client_assertion(apr_pool_t *p, const b2c_client_cert_t *cert,
                                  const char *client_id,
                                  const char *token_endpoint, long long now,
                                  const char **assertion, const char **err)
{
    json_t *header, *claims;
    const char *h64, *c64, *jti, *input;
    EVP_MD_CTX *mctx;
    unsigned char *sig;
    size_t sig_len = 0;
    int ok;

    *assertion = NULL;
    *err = NULL;
    if (cert == NULL || cert->key == NULL || cert->x5t == NULL
        || cert->x5t_s256 == NULL) {
        *err = "no client certificate";
        return APR_EINVAL;
    }
    if (client_id == NULL || *client_id == '\0' || token_endpoint == NULL
        || *token_endpoint == '\0') {
        *err = "client assertion needs a client id and a token endpoint";
        return APR_EINVAL;
    }
    if ((jti = random_uuid(p)) == NULL) {
        ERR_clear_error();
        *err = "no random bytes for the assertion id";
        return APR_EGENERAL;
    }

    header = json_pack("{s:s, s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT",
                       "x5t", cert->x5t, "x5t#S256", cert->x5t_s256);
    claims = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", token_endpoint, "iss",
        client_id, "sub", client_id, "jti", jti, "nbf", (json_int_t)now, "iat",
        (json_int_t)now, "exp", (json_int_t)(now + ASSERTION_LIFETIME));
    /* json_pack fails on invalid UTF-8 in the client id or endpoint */
    h64 = header ? b64url_json(p, header) : NULL;
    c64 = claims ? b64url_json(p, claims) : NULL;
    json_decref(header);
    json_decref(claims);
    if (h64 == NULL || c64 == NULL) {
        *err = "cannot encode the client assertion (client id or token "
               "endpoint not valid UTF-8?)";
        return APR_EINVAL;
    }
    input = apr_pstrcat(p, h64, ".", c64, NULL);

    if ((mctx = EVP_MD_CTX_new()) == NULL) {
        *err = "out of memory signing the client assertion";
        return APR_ENOMEM;
    }
    sig = apr_palloc(p, (apr_size_t)EVP_PKEY_get_size(cert->key));
    sig_len = (size_t)EVP_PKEY_get_size(cert->key);
    /* RSA defaults to PKCS #1 v1.5 padding: RS256 (RFC 7518 §3.3) */
    ok = EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, cert->key) == 1
         && EVP_DigestSign(mctx, sig, &sig_len, (const unsigned char *)input,
                           strlen(input))
                == 1;
    EVP_MD_CTX_free(mctx);
    if (!ok) {
        ERR_clear_error();
        *err = "signing the client assertion failed";
        return APR_EGENERAL;
    }
    *assertion =
        apr_pstrcat(p, input, ".", b2c_b64url_encode(p, sig, sig_len), NULL);
    return APR_SUCCESS;
}
