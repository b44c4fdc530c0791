/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: client-credentials token requests (b2c_token_client): the
 * form and client authentication, certificates and client assertions
 * (files made at run time in a temporary directory), Entra's answers and
 * errors, Retry-After, backoff and token lifetime arithmetic, authority
 * URLs, and one exchange with a loopback server. */
#include "unit.h"
#include "b2c_client_cert.h"
#include "b2c_token_request.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET    "a+b c&d=e~%"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"
#define ENDPOINT  "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"

/* ---------------------------------------------------------------------
 * helpers
 */

static apr_array_header_t *scopes(const char *first, ...)
{
    apr_array_header_t *a = apr_array_make(ut_pool, 2, sizeof(const char *));
    const char *s;
    va_list ap;

    va_start(ap, first);
    for (s = first; s; s = va_arg(ap, const char *))
        APR_ARRAY_PUSH(a, const char *) = s;
    va_end(ap);
    return a;
}

static b2c_token_request_t secret_request(b2c_client_auth_t auth)
{
    b2c_token_request_t req;

    memset(&req, 0, sizeof(req));
    req.token_endpoint = ENDPOINT;
    req.client_id = CLIENT_ID;
    req.secret = SECRET;
    req.auth = auth;
    req.scopes = scopes("api://x/.default", NULL);
    return req;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower-case hex is not what we emit */
}

/* Value of field name in a form body, decoded; NULL when absent. Fails the
 * test on a malformed encoding or a repeated field. */
static char *form_field(const char *form, const char *name)
{
    size_t nlen = strlen(name);
    const char *f = form;
    char *found = NULL;

    while (*f) {
        const char *end = strchr(f, '&');
        size_t flen = end ? (size_t)(end - f) : strlen(f);
        if (flen > nlen && strncmp(f, name, nlen) == 0 && f[nlen] == '=') {
            char *out = apr_palloc(ut_pool, flen), *o = out;
            const char *v;
            ck_assert_msg(found == NULL, "field %s repeated", name);
            for (v = f + nlen + 1; v < f + flen; v++) {
                if (*v == '+') {
                    *o++ = ' ';
                }
                else if (*v == '%') {
                    ck_assert(v + 2 < f + flen);
                    ck_assert_int_ge(hexval(v[1]), 0);
                    ck_assert_int_ge(hexval(v[2]), 0);
                    *o++ = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    v += 2;
                }
                else {
                    ck_assert_msg(strchr("-._~", *v) || (*v >= '0' && *v <= '9')
                                      || (*v >= 'A' && *v <= 'Z')
                                      || (*v >= 'a' && *v <= 'z'),
                                  "unencoded byte 0x%02x", (unsigned char)*v);
                    *o++ = *v;
                }
            }
            *o = '\0';
            found = out;
        }
        f += flen;
        if (*f == '&')
            f++;
    }
    return found;
}

static json_t *decode_part(const char *part, size_t len)
{
    unsigned char *raw;
    size_t raw_len;
    json_t *j;

    ck_assert_int_eq(b2c_b64url_decode(ut_pool, part, len, &raw, &raw_len),
                     APR_SUCCESS);
    j = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* ---------------------------------------------------------------------
 * certificate files in a temporary directory
 */

static char tmpdir[64];
static char tmpfiles[16][128];
static int ntmpfiles;

static void cert_setup(void)
{
    ut_setup();
    strcpy(tmpdir, "/tmp/b2c-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ntmpfiles = 0;
}

static void cert_teardown(void)
{
    int i;

    for (i = 0; i < ntmpfiles; i++)
        unlink(tmpfiles[i]);
    rmdir(tmpdir);
    ut_teardown();
}

static const char *tmp_path(const char *name)
{
    ck_assert_int_lt(ntmpfiles, 16);
    snprintf(tmpfiles[ntmpfiles], sizeof(tmpfiles[0]), "%s/%s", tmpdir, name);
    return tmpfiles[ntmpfiles++];
}

/* A self-signed certificate for key. */
static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name;

    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4711);
    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), 365, 0, NULL);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"mod_b2c unit test", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    return x;
}

/* Write cert (when not NULL) and key (when not NULL) to one PEM file;
 * passphrase: encrypt the key. */
static const char *write_pem(const char *name, X509 *cert, EVP_PKEY *key,
                             const char *passphrase)
{
    const char *path = tmp_path(name);
    BIO *bio = BIO_new_file(path, "w");

    ck_assert_ptr_nonnull(bio);
    if (cert)
        ck_assert_int_eq(PEM_write_bio_X509(bio, cert), 1);
    if (key)
        ck_assert_int_eq(PEM_write_bio_PrivateKey(
                             bio, key, passphrase ? EVP_aes_256_cbc() : NULL,
                             (unsigned char *)passphrase,
                             passphrase ? (int)strlen(passphrase) : 0, NULL,
                             NULL),
                         1);
    BIO_free(bio);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *digest_of(X509 *x, const EVP_MD *md)
{
    unsigned char *der = NULL, out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int len = i2d_X509(x, &der);

    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(EVP_Digest(der, (size_t)len, out, &n, md, NULL), 1);
    OPENSSL_free(der);
    return b2c_b64url_encode(ut_pool, out, n);
}

static b2c_client_cert_t *load_good_cert(X509 **x_out)
{
    X509 *x = make_cert(tk_rsa2048);
    const char *cf = write_pem("cert.pem", x, NULL, NULL);
    const char *kf = write_pem("key.pem", NULL, tk_rsa2048, NULL);
    b2c_client_cert_t *cert = NULL;
    const char *err = NULL;

    ck_assert_msg(b2c_client_cert_load(ut_pool, cf, kf, &cert, &err)
                      == APR_SUCCESS,
                  "load: %s", err);
    ck_assert_ptr_nonnull(cert);
    if (x_out)
        *x_out = x;
    else
        X509_free(x);
    return cert;
}

/* ---------------------------------------------------------------------
 * the form
 */

START_TEST(form_secret_post)
{
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    const char *form, *basic, *err;

    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    ck_assert_str_eq(form, "grant_type=client_credentials&client_id=" CLIENT_ID
                           "&scope=api%3A%2F%2Fx%2F.default"
                           "&client_secret=a%2Bb+c%26d%3De~%25");
    ck_assert_ptr_null(basic);
    ck_assert_str_eq(form_field(form, "client_secret"), SECRET);
}
END_TEST

START_TEST(form_encodes_every_byte)
{
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    const char *form, *basic, *err;
    char all[256];
    int i;

    for (i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    req.secret = all;
    req.client_id = "id with space/&=+%?#";
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    ck_assert_str_eq(form_field(form, "client_secret"), all);
    ck_assert_str_eq(form_field(form, "client_id"), req.client_id);
    ck_assert_str_eq(form_field(form, "grant_type"), "client_credentials");
    ck_assert_ptr_null(form_field(form, "client_assertion"));
}
END_TEST

START_TEST(form_scopes)
{
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    const char *form, *basic, *err;
    const char *bad[] = { "",         "a b",         "tab\there",
                          "quote\"",  "back\\slash", "caf\xc3\xa9",
                          "new\nline" };
    size_t i;

    req.scopes =
        scopes("https://graph.microsoft.com/.default", "offline_access", NULL);
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(form,
                                 "&scope=https%3A%2F%2Fgraph.microsoft.com%2F"
                                 ".default+offline_access&"));
    ck_assert_str_eq(form_field(form, "scope"),
                     "https://graph.microsoft.com/.default offline_access");

    /* scope is optional in RFC 6749 §4.4.2 */
    req.scopes = NULL;
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    ck_assert_ptr_null(form_field(form, "scope"));
    req.scopes = scopes(NULL);
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    ck_assert_ptr_null(form_field(form, "scope"));

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.scopes = scopes("ok", bad[i], NULL);
        err = NULL;
        ck_assert_msg(
            b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err)
                == APR_EINVAL,
            "accepted scope %zu", i);
        ck_assert_ptr_null(form);
        ck_assert_ptr_nonnull(strstr(err, "scope number 2"));
        ck_assert_ptr_null(strstr(err, SECRET));
    }
}
END_TEST

START_TEST(form_secret_basic)
{
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_BASIC);
    const char *form, *basic, *err;
    unsigned char dec[128];
    int n;

    req.client_id = "id:x";
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    /* RFC 6749 §2.3.1: form-encode both, then "id:secret" in base64 */
    ck_assert_str_eq(basic, "Basic aWQlM0F4OmElMkJiK2MlMjZkJTNEZX4lMjU=");
    n = EVP_DecodeBlock(dec, (const unsigned char *)basic + 6,
                        (int)strlen(basic + 6));
    ck_assert_int_eq(n, 27); /* 26 bytes + one padding zero */
    ck_assert_mem_eq(dec, "id%3Ax:a%2Bb+c%26d%3De~%25", 26);
    ck_assert_str_eq(form, "grant_type=client_credentials&client_id=id%3Ax"
                           "&scope=api%3A%2F%2Fx%2F.default");
    ck_assert_ptr_null(strstr(form, "secret"));
}
END_TEST

START_TEST(form_missing_parts)
{
    b2c_token_request_t req;
    const char *form, *basic, *err;
    int auth;

    for (auth = B2C_CLIENT_AUTH_SECRET_POST;
         auth <= B2C_CLIENT_AUTH_SECRET_BASIC; auth++) {
        req = secret_request((b2c_client_auth_t)auth);
        req.secret = NULL;
        ck_assert_int_eq(
            b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
            APR_EINVAL);
        ck_assert_str_eq(err, "no client secret");
        req.secret = "";
        ck_assert_int_eq(
            b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
            APR_EINVAL);
        ck_assert_ptr_null(form);
        ck_assert_ptr_null(basic);
    }
    req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    req.client_id = NULL;
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_EINVAL);
    ck_assert_str_eq(err, "no client id");
    req.client_id = "";
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_EINVAL);

    req = secret_request(B2C_CLIENT_AUTH_PRIVATE_KEY_JWT); /* no cert */
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, SECRET));

    req = secret_request((b2c_client_auth_t)42);
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_EINVAL);
    ck_assert_ptr_null(form);
}
END_TEST

/* ---------------------------------------------------------------------
 * certificates and assertions
 */

START_TEST(cert_load_ok)
{
    X509 *x;
    b2c_client_cert_t *cert = load_good_cert(&x), *both = NULL;
    const char *combined, *err = NULL;

    ck_assert_str_eq(cert->x5t, digest_of(x, EVP_sha1()));
    ck_assert_str_eq(cert->x5t_s256, digest_of(x, EVP_sha256()));
    ck_assert_uint_eq(strlen(cert->x5t), 27);
    ck_assert_uint_eq(strlen(cert->x5t_s256), 43);
    ck_assert_int_eq(EVP_PKEY_eq(cert->key, tk_rsa2048), 1);

    /* one file with both: key_file NULL or the same file */
    combined = write_pem("both.pem", x, tk_rsa2048, NULL);
    ck_assert_msg(b2c_client_cert_load(ut_pool, combined, NULL, &both, &err)
                      == APR_SUCCESS,
                  "%s", err);
    ck_assert_str_eq(both->x5t, cert->x5t);
    ck_assert_msg(b2c_client_cert_load(ut_pool, combined, combined, &both, &err)
                      == APR_SUCCESS,
                  "%s", err);
    X509_free(x);
}
END_TEST

static void expect_load_error(const char *cf, const char *kf,
                              const char *needle)
{
    b2c_client_cert_t *cert = (b2c_client_cert_t *)1;
    const char *err = NULL;

    ck_assert_int_eq(b2c_client_cert_load(ut_pool, cf, kf, &cert, &err),
                     APR_EINVAL);
    ck_assert_ptr_null(cert);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s' not in '%s'", needle, err);
    ck_assert_ptr_null(strstr(err, "PRIVATE KEY"));
    ck_assert_ptr_null(strstr(err, "BEGIN"));
}

START_TEST(cert_load_errors)
{
    X509 *good = make_cert(tk_rsa2048), *small = make_cert(tk_rsa1024),
         *ec = make_cert(tk_ec256);
    const char *cert = write_pem("good.pem", good, NULL, NULL);
    const char *key = write_pem("good.key", NULL, tk_rsa2048, NULL);
    const char *other = write_pem("other.key", NULL, tk_rsa2048_other, NULL);
    const char *small_cert = write_pem("small.pem", small, NULL, NULL);
    const char *small_key = write_pem("small.key", NULL, tk_rsa1024, NULL);
    const char *ec_cert = write_pem("ec.pem", ec, NULL, NULL);
    const char *ec_key = write_pem("ec.key", NULL, tk_ec256, NULL);
    const char *enc_key = write_pem("enc.key", NULL, tk_rsa2048, "passphrase");
    const char *garbage =
        write_text("garbage.pem", "-----BEGIN CERTIFICATE-----\n"
                                  "bm90IGEgY2VydA==\n"
                                  "-----END CERTIFICATE-----\n");
    const char *empty = write_text("empty.pem", "");
    const char *missing = apr_pstrcat(ut_pool, tmpdir, "/missing.pem", NULL);

    expect_load_error(missing, key, "missing.pem");
    expect_load_error(missing, key, "cannot open certificate file");
    expect_load_error(cert, missing, "cannot open private key file");
    expect_load_error(garbage, key, "garbage.pem holds no PEM certificate");
    expect_load_error(empty, key, "empty.pem holds no PEM certificate");
    expect_load_error(cert, garbage, "garbage.pem holds no PEM private key");
    expect_load_error(cert, cert, "good.pem holds no PEM private key");
    expect_load_error(key, key, "good.key holds no PEM certificate");
    expect_load_error(cert, other, "does not match");
    expect_load_error(small_cert, small_key, "1024 bits");
    expect_load_error(cert, small_key, "1024 bits");
    expect_load_error(ec_cert, ec_key, "not an RSA key");
    expect_load_error(cert, enc_key, "enc.key holds no PEM private key");
    expect_load_error(NULL, key, "no certificate file");
    expect_load_error("", key, "no certificate file");
    X509_free(good);
    X509_free(small);
    X509_free(ec);
}
END_TEST

/* Split an assertion, check its header and signature, return its claims. */
static json_t *check_assertion(const char *jwt, const b2c_client_cert_t *cert)
{
    const char *dot1 = strchr(jwt, '.'), *dot2;
    json_t *header, *claims;
    unsigned char *sig;
    size_t sig_len;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();

    ck_assert_ptr_nonnull(dot1);
    dot2 = strchr(dot1 + 1, '.');
    ck_assert_ptr_nonnull(dot2);
    ck_assert_ptr_null(strchr(dot2 + 1, '.'));

    header = decode_part(jwt, (size_t)(dot1 - jwt));
    ck_assert_uint_eq(json_object_size(header), 4);
    ck_assert_str_eq(json_string_value(json_object_get(header, "alg")),
                     "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(header, "typ")), "JWT");
    ck_assert_str_eq(json_string_value(json_object_get(header, "x5t")),
                     cert->x5t);
    ck_assert_str_eq(json_string_value(json_object_get(header, "x5t#S256")),
                     cert->x5t_s256);
    json_decref(header);

    ck_assert_int_eq(
        b2c_b64url_decode(ut_pool, dot2 + 1, strlen(dot2 + 1), &sig, &sig_len),
        APR_SUCCESS);
    ck_assert_uint_eq(sig_len, 256);
    ck_assert_int_eq(
        EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, tk_rsa2048), 1);
    ck_assert_int_eq(EVP_DigestVerify(mctx, sig, sig_len,
                                      (const unsigned char *)jwt,
                                      (size_t)(dot2 - jwt)),
                     1);
    EVP_MD_CTX_free(mctx);

    claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    return claims;
}

static int is_uuid_v4(const char *s)
{
    int i;

    if (strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        }
        else if (!strchr("0123456789abcdef", s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

START_TEST(assertion_structure)
{
    b2c_client_cert_t *cert = load_good_cert(NULL);
    const char *a1, *a2, *err;
    json_t *c1, *c2;

    ck_assert_msg(b2c_client_assertion(ut_pool, cert, CLIENT_ID, ENDPOINT,
                                       UT_NOW, &a1, &err)
                      == APR_SUCCESS,
                  "%s", err);
    ck_assert_int_eq(b2c_client_assertion(ut_pool, cert, CLIENT_ID, ENDPOINT,
                                          UT_NOW, &a2, &err),
                     APR_SUCCESS);
    c1 = check_assertion(a1, cert);
    c2 = check_assertion(a2, cert);
    ck_assert_uint_eq(json_object_size(c1), 7);
    ck_assert_str_eq(json_string_value(json_object_get(c1, "aud")), ENDPOINT);
    ck_assert_str_eq(json_string_value(json_object_get(c1, "iss")), CLIENT_ID);
    ck_assert_str_eq(json_string_value(json_object_get(c1, "sub")), CLIENT_ID);
    ck_assert_int_eq(json_integer_value(json_object_get(c1, "iat")), UT_NOW);
    ck_assert_int_eq(json_integer_value(json_object_get(c1, "nbf")), UT_NOW);
    ck_assert_int_eq(json_integer_value(json_object_get(c1, "exp"))
                         - json_integer_value(json_object_get(c1, "nbf")),
                     600);
    ck_assert(is_uuid_v4(json_string_value(json_object_get(c1, "jti"))));
    ck_assert(is_uuid_v4(json_string_value(json_object_get(c2, "jti"))));
    ck_assert_str_ne(json_string_value(json_object_get(c1, "jti")),
                     json_string_value(json_object_get(c2, "jti")));
    json_decref(c1);
    json_decref(c2);

    ck_assert_int_eq(b2c_client_assertion(ut_pool, NULL, CLIENT_ID, ENDPOINT,
                                          UT_NOW, &a1, &err),
                     APR_EINVAL);
    ck_assert_ptr_null(a1);
    ck_assert_int_eq(
        b2c_client_assertion(ut_pool, cert, "", ENDPOINT, UT_NOW, &a1, &err),
        APR_EINVAL);
    ck_assert_int_eq(
        b2c_client_assertion(ut_pool, cert, CLIENT_ID, NULL, UT_NOW, &a1, &err),
        APR_EINVAL);
    ck_assert_int_eq(b2c_client_assertion(ut_pool, cert,
                                          "bad\xff"
                                          "utf8",
                                          ENDPOINT, UT_NOW, &a1, &err),
                     APR_EINVAL);
}
END_TEST

START_TEST(form_private_key_jwt)
{
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_PRIVATE_KEY_JWT);
    const char *form, *basic, *err;
    json_t *claims;

    req.secret = NULL;
    req.cert = load_good_cert(NULL);
    ck_assert_msg(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err)
            == APR_SUCCESS,
        "%s", err);
    ck_assert_ptr_null(basic);
    ck_assert_ptr_nonnull(
        strstr(form, "&client_assertion_type=urn%3Aietf%3Aparams%3A"
                     "oauth%3Aclient-assertion-type%3Ajwt-bearer&"));
    ck_assert_str_eq(form_field(form, "client_id"), CLIENT_ID);
    ck_assert_str_eq(form_field(form, "scope"), "api://x/.default");
    ck_assert_ptr_null(form_field(form, "client_secret"));
    claims = check_assertion(form_field(form, "client_assertion"), req.cert);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "aud")),
                     ENDPOINT);
    json_decref(claims);

    req.token_endpoint = NULL; /* the assertion needs its audience */
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_EINVAL);
}
END_TEST

/* ---------------------------------------------------------------------
 * answers
 */

static void parse(long status, const char *body, const char *retry_after,
                  b2c_token_result_t *res)
{
    memset(res, 0x5a, sizeof(*res)); /* parse must set every member */
    b2c_token_response_parse(ut_pool, status, body, body ? strlen(body) : 0,
                             retry_after, res);
}

#define TOKEN "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln"

START_TEST(answer_success_v2)
{
    b2c_token_result_t res;

    parse(200,
          "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":"
          "3599,"
          "\"access_token\":\"" TOKEN "\"}",
          NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_OK);
    ck_assert_str_eq(res.access_token, TOKEN);
    ck_assert_int_eq(res.expires_in, 3599);
    ck_assert_ptr_null(res.error);
    ck_assert_ptr_null(res.error_code);
    ck_assert_ptr_null(res.error_description);
    ck_assert_int_eq(res.retry_after, -1);

    parse(200,
          "{\"token_type\":\"bearer\",\"expires_in\":1,\"access_token\":\"x\"}",
          NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_OK);
    ck_assert_int_eq(res.expires_in, 1);
    ck_assert_str_eq(res.access_token, "x");

    parse(200,
          "{\"token_type\":\"BEARER\",\"expires_in\":31536000,"
          "\"access_token\":\"~!#$%&'()*+,-./:;<=>?@[]^_`{|}\"}",
          NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_OK);
    ck_assert_int_eq(res.expires_in, 31536000);
}
END_TEST

START_TEST(answer_success_v1_strings)
{
    b2c_token_result_t res;

    parse(
        200,
        "{\"token_type\":\"Bearer\",\"expires_in\":\"3599\",\"ext_expires_in\":"
        "\"3599\",\"expires_on\":\"1700003599\",\"not_before\":\"1699999700\","
        "\"resource\":\"https://graph.microsoft.com\",\"access_token\":\"" TOKEN
        "\"}",
        NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_OK);
    ck_assert_str_eq(res.access_token, TOKEN);
    ck_assert_int_eq(res.expires_in, 3599);

    /* 201 is a success too */
    parse(201,
          "{\"token_type\":\"Bearer\",\"expires_in\":\"0060\",\"access_token\":"
          "\"t\"}",
          NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_OK);
    ck_assert_int_eq(res.expires_in, 60);
}
END_TEST

START_TEST(answer_bad_success)
{
    static const struct {
        const char *body;
        const char *why;
    } cases[] = {
        { "{\"token_type\":\"pop\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN "\"}",
          "token_type 'pop' is not Bearer" },
        { "{\"token_type\":\"Bearer2\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN "\"}",
          "not Bearer" },
        { "{\"expires_in\":3599,\"access_token\":\"" TOKEN "\"}",
          "no token_type" },
        { "{\"token_type\":1,\"expires_in\":3599,\"access_token\":\"" TOKEN
          "\"}",
          "no token_type" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN " x\"}",
          "access_token holds blanks" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN "\\r\\nX-Injected: 1\"}",
          "access_token holds blanks" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN "\\u00e9\"}",
          "access_token holds blanks" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"\"}",
          "no access_token" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":42}",
          "no access_token" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
          "no access_token" },
        { "{\"token_type\":\"Bearer\",\"access_token\":\"" TOKEN "\"}",
          "no expires_in" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":-3599,\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":31536001,\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":9223372036854775807,"
          "\"access_token\":\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":"
          "\"99999999999999999999999\","
          "\"access_token\":\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":\"12abc\",\"access_"
          "token\":\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":\"\",\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":\"-5\",\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":\" "
          "5\",\"access_token\":\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":\"0\",\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599.5,\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":true,\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":null,\"access_token\":"
          "\"" TOKEN "\"}",
          "expires_in is not" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN "\",\"access_token\":\"other\"}",
          "duplicate JSON member" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN,
          "invalid JSON" },
        { "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
          "\"" TOKEN "\"} {}",
          "trailing data" },
        { "[\"" TOKEN "\"]", "not an object" },
        { "<html>" TOKEN "</html>", "invalid JSON" },
        { "", "empty answer" },
    };
    b2c_token_result_t res;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse(200, cases[i].body, NULL, &res);
        ck_assert_msg(res.outcome == B2C_FETCH_RETRYABLE, "case %zu accepted",
                      i);
        ck_assert_ptr_null(res.access_token);
        ck_assert_int_eq(res.expires_in, 0);
        ck_assert_str_eq(res.error, "invalid_response");
        ck_assert_ptr_null(res.error_code);
        ck_assert_msg(strstr(res.error_description, cases[i].why) != NULL,
                      "case %zu: '%s' lacks '%s'", i, res.error_description,
                      cases[i].why);
        ck_assert_msg(strstr(res.error_description, "eyJ") == NULL,
                      "case %zu: token in '%s'", i, res.error_description);
    }
    parse(200, NULL, NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "invalid_response");
}
END_TEST

#define INVALID_CLIENT_BODY                                                    \
    "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "    \
    "Invalid "                                                                 \
    "client secret provided. Ensure the secret being sent in the request is "  \
    "the "                                                                     \
    "client secret value, not the client secret ID, for a secret added to "    \
    "app "                                                                     \
    "'00000000-1111-2222-3333-444444444444'.\\r\\nTrace ID: "                  \
    "0e6d7f37-8f0a-4b5a-9d1c-2b3c4d5e6f70\\r\\nCorrelation ID: "               \
    "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809\\r\\nTimestamp: 2024-01-01 "         \
    "00:00:00Z\","                                                             \
    "\"error_codes\":[7000215],\"timestamp\":\"2024-01-01 "                    \
    "00:00:00Z\",\"trace_id\":"                                                \
    "\"0e6d7f37-8f0a-4b5a-9d1c-2b3c4d5e6f70\",\"correlation_id\":"             \
    "\"1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809\",\"error_uri\":"                  \
    "\"https://login.microsoftonline.com/error?code=7000215\"}"

START_TEST(answer_invalid_client)
{
    b2c_token_result_t res;

    parse(401, INVALID_CLIENT_BODY, NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_ptr_null(res.access_token);
    ck_assert_str_eq(res.error, "invalid_client");
    ck_assert_str_eq(res.error_code, "AADSTS7000215");
    ck_assert_str_eq(
        res.error_description,
        "AADSTS7000215: Invalid client secret provided. Ensure the secret "
        "being sent in the request is the client secret value, not the "
        "client secret ID, for a secret added to app "
        "'00000000-1111-2222-3333-444444444444'.");
    ck_assert_int_eq(res.retry_after, -1);
}
END_TEST

START_TEST(answer_invalid_scope)
{
    b2c_token_result_t res;

    /* no error_codes: the code comes from the description */
    parse(
        400,
        "{\"error\":\"invalid_scope\",\"error_description\":\"AADSTS70011: The "
        "provided request must include a 'scope' input parameter. The provided "
        "value for the input parameter 'scope' is not valid. The scope "
        "api://x/read is not valid.\\r\\nTrace ID: abc\"}",
        NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_str_eq(res.error, "invalid_scope");
    ck_assert_str_eq(res.error_code, "AADSTS70011");
    ck_assert_ptr_null(strstr(res.error_description, "Trace"));

    parse(400,
          "{\"error\":\"invalid_request\",\"error_description\":\"see AADSTS "
          "then AADSTS90014: missing\",\"error_codes\":[\"x\"]}",
          NULL, &res);
    ck_assert_str_eq(res.error_code, "AADSTS90014");
    parse(
        403,
        "{\"error\":\"unauthorized_client\",\"error_description\":\"AADSTS\"}",
        NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_ptr_null(res.error_code);
    parse(400, "{\"error\":\"invalid_grant\",\"error_codes\":[]}", NULL, &res);
    ck_assert_ptr_null(res.error_code);
    ck_assert_ptr_null(res.error_description);
    ck_assert_str_eq(res.error, "invalid_grant");
}
END_TEST

START_TEST(answer_retryable)
{
    b2c_token_result_t res;

    parse(429,
          "{\"error\":\"temporarily_unavailable\",\"error_description\":"
          "\"AADSTS50196: throttled\",\"error_codes\":[50196]}",
          "30", &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "temporarily_unavailable");
    ck_assert_str_eq(res.error_code, "AADSTS50196");
    ck_assert_str_eq(res.error_description, "AADSTS50196: throttled");
    ck_assert_int_eq(res.retry_after, 30);

    parse(429, "", "5", &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "http_429");
    ck_assert_int_eq(res.retry_after, 5);

    parse(503, "<html><body><h1>Service Unavailable</h1>\r\n</body></html>",
          NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "http_503");
    ck_assert_ptr_null(res.error_code);
    ck_assert_ptr_nonnull(strstr(res.error_description, "HTTP 503"));
    ck_assert_int_eq(res.retry_after, -1);

    parse(500,
          "{\"error\":\"server_error\",\"error_description\":\"AADSTS90033: "
          "A transient error has occurred.\"}",
          "junk", &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error_code, "AADSTS90033");
    ck_assert_int_eq(res.retry_after, -1);

    parse(0, NULL, NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "unreachable");
    ck_assert_ptr_nonnull(res.error_description);

    parse(408, "", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    parse(400, "{\"error\":\"temporarily_unavailable\"}", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    parse(100, "", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
}
END_TEST

START_TEST(answer_refused_other)
{
    b2c_token_result_t res;

    parse(404, "<html>Not Found</html>", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_str_eq(res.error, "http_404");
    parse(401, "", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_str_eq(res.error, "http_401");
    parse(302, "", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    /* an error body that is not JSON we accept (duplicates) */
    parse(400, "{\"error\":\"a\",\"error\":\"b\"}", NULL, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_str_eq(res.error, "http_400");
}
END_TEST

START_TEST(answer_sanitised)
{
    b2c_token_result_t res;
    char body[1200], *d;
    size_t i;

    parse(400,
          "{\"error\":\"bad\\u0001\\\"err\\\\or\\u007f\",\"error_description\":"
          "\"tab\\there \\\"q\\\" back\\\\slash\\nsecond line\"}",
          NULL, &res);
    ck_assert_str_eq(res.error, "bad  err or");
    ck_assert_str_eq(res.error_description, "tab here  q  back slash");

    parse(400, "{\"error\":\"\\r\\nX: y\",\"error_description\":\"   \"}", NULL,
          &res);
    ck_assert_str_eq(res.error, "http_400"); /* nothing left of it */
    ck_assert_ptr_nonnull(res.error_description);

    /* 299 ASCII bytes then 'é' (2 bytes): cut before the 'é' */
    strcpy(body, "{\"error\":\"x\",\"error_description\":\"");
    d = body + strlen(body);
    for (i = 0; i < 299; i++)
        *d++ = 'a';
    strcpy(d, "\xc3\xa9");
    d += 2;
    for (i = 0; i < 500; i++)
        *d++ = 'b';
    strcpy(d, "\"}");
    parse(400, body, NULL, &res);
    ck_assert_uint_eq(strlen(res.error_description), 299);

    d = body + strlen("{\"error\":\"x\",\"error_description\":\"");
    memset(d, 'c', 800);
    strcpy(d + 800, "\"}");
    parse(400, body, NULL, &res);
    ck_assert_uint_eq(strlen(res.error_description), 300);
}
END_TEST

/* ---------------------------------------------------------------------
 * one exchange with a loopback server
 */

typedef struct {
    int listener;
    const char *answer;  /* the whole HTTP response */
    char request[16384]; /* what the client sent */
} fake_server_t;

static void *serve_once(void *baton)
{
    fake_server_t *s = baton;
    int c = accept(s->listener, NULL, NULL);
    size_t got = 0;

    if (c < 0)
        return NULL;
    for (;;) { /* headers, then Content-Length bytes of body */
        ssize_t n = recv(c, s->request + got, sizeof(s->request) - 1 - got, 0);
        const char *end, *cl;
        if (n <= 0)
            break;
        got += (size_t)n;
        s->request[got] = '\0';
        if ((end = strstr(s->request, "\r\n\r\n")) != NULL
            && (cl = strcasestr(s->request, "Content-Length:")) != NULL
            && got >= (size_t)(end + 4 - s->request)
                          + strtoul(cl + 15, NULL, 10))
            break;
    }
    if (send(c, s->answer, strlen(s->answer), 0) < 0)
        perror("send");
    close(c);
    return NULL;
}

static int start_server(fake_server_t *s, pthread_t *thread)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->listener, 0);
    ck_assert_int_eq(bind(s->listener, (struct sockaddr *)&addr, sizeof(addr)),
                     0);
    ck_assert_int_eq(listen(s->listener, 1), 0);
    ck_assert_int_eq(getsockname(s->listener, (struct sockaddr *)&addr, &alen),
                     0);
    ck_assert_int_eq(pthread_create(thread, NULL, serve_once, s), 0);
    return ntohs(addr.sin_port);
}

static const char *http_answer(const char *status_line, const char *headers,
                               const char *body)
{
    return apr_psprintf(ut_pool,
                        "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                        "%sContent-Length: %" APR_SIZE_T_FMT
                        "\r\nConnection: close\r\n\r\n%s",
                        status_line, headers, strlen(body), body);
}

static const b2c_http_options_t fetch_opts = { 5000, 2000, 65536, NULL };

START_TEST(fetch_basic_exchange)
{
    static fake_server_t server;
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_BASIC);
    b2c_token_result_t res;
    pthread_t thread;
    const char *body;
    int port;

    memset(&server, 0, sizeof(server));
    server.answer =
        http_answer("503 Service Unavailable",
                    "Retry-After: Tue, 14 Nov 2023 22:15:00 GMT\r\n",
                    "{\"error\":\"temporarily_unavailable\",\"error_"
                    "description\":\"busy\"}");
    port = start_server(&server, &thread);
    req.token_endpoint =
        apr_psprintf(ut_pool, "http://127.0.0.1:%d/t/oauth2/v2.0/token", port);
    b2c_token_fetch(ut_pool, &req, &fetch_opts, UT_NOW, &res);
    pthread_join(thread, NULL);
    close(server.listener);

    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "temporarily_unavailable");
    ck_assert_str_eq(res.error_description, "busy");
    ck_assert_int_eq(res.retry_after, 100); /* against the caller's clock */

    ck_assert_ptr_nonnull(
        strstr(server.request, "POST /t/oauth2/v2.0/token HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(server.request, "\r\nAuthorization: Basic "));
    ck_assert_ptr_nonnull(strcasestr(server.request,
                                     "\r\nContent-Type: "
                                     "application/x-www-form-urlencoded"));
    body = strstr(server.request, "\r\n\r\n") + 4;
    ck_assert_str_eq(body, "grant_type=client_credentials&client_id=" CLIENT_ID
                           "&scope=api%3A%2F%2Fx%2F.default");
}
END_TEST

START_TEST(fetch_success)
{
    static fake_server_t server;
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    b2c_token_result_t res;
    pthread_t thread;
    int port;

    memset(&server, 0, sizeof(server));
    server.answer = http_answer("200 OK", "",
                                "{\"token_type\":\"Bearer\",\"expires_in\":"
                                "3599,\"access_token\":\"t\"}");
    port = start_server(&server, &thread);
    req.token_endpoint =
        apr_psprintf(ut_pool, "http://127.0.0.1:%d/token", port);
    b2c_token_fetch(ut_pool, &req, &fetch_opts, UT_NOW, &res);
    pthread_join(thread, NULL);
    close(server.listener);

    ck_assert_msg(res.outcome == B2C_FETCH_OK, "%s: %s", res.error,
                  res.error_description);
    ck_assert_str_eq(res.access_token, "t");
    ck_assert_int_eq(res.expires_in, 3599);
    ck_assert_ptr_null(strstr(server.request, "Authorization:"));
    ck_assert_ptr_nonnull(
        strstr(server.request, "&client_secret=a%2Bb+c%26d%3De~%25"));
}
END_TEST

/* An upper-case scheme passes the configuration check (b2c_url), so the
 * fetch must take it too, as libcurl does. */
START_TEST(fetch_upper_case_scheme)
{
    static fake_server_t server;
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    b2c_token_result_t res;
    pthread_t thread;
    int port;

    memset(&server, 0, sizeof(server));
    server.answer = http_answer(
        "200 OK", "",
        "{\"token_type\":\"Bearer\",\"expires_in\":60,\"access_token\":\"u\"}");
    port = start_server(&server, &thread);
    req.token_endpoint =
        apr_psprintf(ut_pool, "HTTP://127.0.0.1:%d/token", port);
    b2c_token_fetch(ut_pool, &req, &fetch_opts, UT_NOW, &res);
    pthread_join(thread, NULL);
    close(server.listener);

    ck_assert_msg(res.outcome == B2C_FETCH_OK, "%s: %s", res.error,
                  res.error_description);
    ck_assert_str_eq(res.access_token, "u");
}
END_TEST

START_TEST(fetch_failures)
{
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_POST);
    b2c_token_result_t res;
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    int fd;

    /* a loopback port nobody listens on: bound, never listened to */
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &alen), 0);
    req.token_endpoint = apr_psprintf(ut_pool, "http://127.0.0.1:%d/token",
                                      ntohs(addr.sin_port));
    b2c_token_fetch(ut_pool, &req, &fetch_opts, UT_NOW, &res);
    close(fd);
    ck_assert_int_eq(res.outcome, B2C_FETCH_RETRYABLE);
    ck_assert_str_eq(res.error, "unreachable");
    ck_assert_ptr_nonnull(res.error_description);
    ck_assert_ptr_null(strstr(res.error_description, "a+b"));
    ck_assert_int_eq(res.retry_after, -1);

    req.token_endpoint = "ftp://host/token";
    b2c_token_fetch(ut_pool, &req, &fetch_opts, UT_NOW, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_str_eq(res.error, "invalid_request");

    req.token_endpoint = ENDPOINT;
    req.secret = NULL;
    b2c_token_fetch(ut_pool, &req, &fetch_opts, UT_NOW, &res);
    ck_assert_int_eq(res.outcome, B2C_FETCH_REFUSED);
    ck_assert_str_eq(res.error, "invalid_request");
    ck_assert_str_eq(res.error_description, "no client secret");
}
END_TEST

/* ---------------------------------------------------------------------
 * withholding an echoed secret (issue 11 finding 6)
 */

#define ECHO_SECRET "Qz9-echo-secret"

static int withheld(long status, const char *body, const char *client_id)
{
    b2c_token_result_t res;
    int r;

    parse(status, body, NULL, &res);
    r = b2c_token_result_withhold_secret(ut_pool, &res, body, strlen(body),
                                         client_id, ECHO_SECRET);
    if (r) {
        ck_assert_str_eq(res.error, "withheld");
        ck_assert_ptr_null(res.error_code);
        ck_assert_ptr_null(strstr(res.error_description, "echo"));
    }
    return r;
}

START_TEST(withhold_json_escaped)
{
    /* every character \u-escaped: no raw byte of the secret in the body */
    char body[512] = "{\"error\":\"invalid_client\",\"error_description\":\"";
    const char *c;

    for (c = ECHO_SECRET; *c; c++)
        sprintf(body + strlen(body), "\\u%04x", (unsigned char)*c);
    strcat(body, "\"}");
    ck_assert_ptr_null(strstr(body, "echo"));
    ck_assert_int_eq(withheld(401, body, "cid"), 1);
    /* in another member, and escaped in the error itself */
    ck_assert_int_eq(
        withheld(400, "{\"error\":\"\\u0051z9-echo-secret\"}", "cid"), 1);
    ck_assert_int_eq(withheld(500,
                              "{\"error\":\"server_error\",\"x\":"
                              "[\"Qz9-\\u0065cho-secret\"]}",
                              "cid"),
                     1);
}
END_TEST

START_TEST(withhold_straddles_the_cut)
{
    char body[1024], pad[296];
    b2c_token_result_t res;

    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"error\":\"invalid_client\","
             "\"error_description\":\"%s%s\"}",
             pad, ECHO_SECRET);
    parse(401, body, NULL, &res);
    /* the cut kept a prefix of the secret only: the whole is in the body */
    ck_assert_ptr_null(strstr(res.error_description, ECHO_SECRET));
    ck_assert_ptr_nonnull(strstr(res.error_description, "Qz9"));
    ck_assert_int_eq(withheld(401, body, "cid"), 1);
    /* the same after the raw body is gone (what the client module logs):
     * the prefix alone is not the secret, so nothing to compare against;
     * the fetch compares before that */
}
END_TEST

START_TEST(withhold_basic_echo)
{
    /* Basic base64(form(id) ":" form(secret)), as the request sent it */
    b2c_token_request_t req = secret_request(B2C_CLIENT_AUTH_SECRET_BASIC);
    const char *form, *basic, *err;
    char body[512];
    b2c_token_result_t res;

    req.client_id = "id:x";
    req.secret = ECHO_SECRET;
    ck_assert_int_eq(
        b2c_token_request_form(ut_pool, &req, UT_NOW, &form, &basic, &err),
        APR_SUCCESS);
    snprintf(body, sizeof(body),
             "{\"error\":\"invalid_client\","
             "\"error_description\":\"bad header Authorization: %s\"}",
             basic);
    ck_assert_int_eq(withheld(401, body, "id:x"), 1);
    /* the base64 of the unencoded pair too */
    snprintf(body, sizeof(body),
             "{\"error\":\"invalid_client\","
             "\"error_description\":\"%s\"}",
             "aWQ6eDpRejktZWNoby1zZWNyZXQ=");
    ck_assert_int_eq(withheld(401, body, "id:x"), 1);
    /* no raw body (the client module's log line): the result's own text */
    parse(401,
          "{\"error\":\"invalid_client\",\"error_description\":"
          "\"aWQ6eDpRejktZWNoby1zZWNyZXQ=\"}",
          NULL, &res);
    ck_assert_int_eq(b2c_token_result_withhold_secret(ut_pool, &res, NULL, 0,
                                                      "id:x", ECHO_SECRET),
                     1);
}
END_TEST

START_TEST(withhold_controls)
{
    b2c_token_result_t res;
    const char *ok =
        "{\"access_token\":\"" TOKEN "\",\"token_type\":\"Bearer\","
        "\"expires_in\":3599}";

    ck_assert_int_eq(withheld(401,
                              "{\"error\":\"invalid_client\","
                              "\"error_description\":\"AADSTS7000215: bad"
                              " secret\"}",
                              "cid"),
                     0);
    ck_assert_int_eq(withheld(500, "not json Qz9-echo", "cid"), 0);
    ck_assert_int_eq(withheld(500, "not json " ECHO_SECRET, "cid"), 1);
    /* a success is never touched */
    parse(200, ok, NULL, &res);
    ck_assert_int_eq(b2c_token_result_withhold_secret(ut_pool, &res, ok,
                                                      strlen(ok), "cid", TOKEN),
                     0);
    ck_assert_str_eq(res.access_token, TOKEN);
}
END_TEST

Suite *token_client_suite(void)
{
    Suite *s = suite_create("token_client");
    TCase *form = tcase_create("form");
    TCase *cert = tcase_create("cert");
    TCase *answer = tcase_create("answer");
    TCase *fetch = tcase_create("fetch");

    tcase_add_checked_fixture(form, ut_setup, ut_teardown);
    tcase_add_test(form, form_secret_post);
    tcase_add_test(form, form_encodes_every_byte);
    tcase_add_test(form, form_scopes);
    tcase_add_test(form, form_secret_basic);
    tcase_add_test(form, form_missing_parts);
    suite_add_tcase(s, form);

    tcase_add_checked_fixture(cert, cert_setup, cert_teardown);
    tcase_add_test(cert, cert_load_ok);
    tcase_add_test(cert, cert_load_errors);
    tcase_add_test(cert, assertion_structure);
    tcase_add_test(cert, form_private_key_jwt);
    suite_add_tcase(s, cert);

    tcase_add_checked_fixture(answer, ut_setup, ut_teardown);
    tcase_add_test(answer, answer_success_v2);
    tcase_add_test(answer, answer_success_v1_strings);
    tcase_add_test(answer, answer_bad_success);
    tcase_add_test(answer, answer_invalid_client);
    tcase_add_test(answer, answer_invalid_scope);
    tcase_add_test(answer, answer_retryable);
    tcase_add_test(answer, answer_refused_other);
    tcase_add_test(answer, answer_sanitised);
    tcase_add_test(answer, withhold_json_escaped);
    tcase_add_test(answer, withhold_straddles_the_cut);
    tcase_add_test(answer, withhold_basic_echo);
    tcase_add_test(answer, withhold_controls);
    suite_add_tcase(s, answer);

    tcase_add_checked_fixture(fetch, ut_setup, ut_teardown);
    tcase_add_test(fetch, fetch_basic_exchange);
    tcase_add_test(fetch, fetch_success);
    tcase_add_test(fetch, fetch_upper_case_scheme);
    tcase_add_test(fetch, fetch_failures);
    suite_add_tcase(s, fetch);
    return s;
}
