/* OAuth 2.0 client-credentials token requests (RFC 6749 §4.4) as MSAL's
 * AcquireTokenForClient makes them: the form, the three ways to
 * authenticate the client, the answer and its errors, and the retry and
 * expiry arithmetic. Errors name what is wrong, never a secret, key or
 * token byte: they end up in error logs. No logging here. */
#include "b2c_token_client.h"
#include "b2c_json.h"
#include "b2c_util.h"

#include <apr_date.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>
#include <strings.h>

#define CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ASSERTION_LIFETIME 600      /* seconds; MSAL uses 10 minutes */
#define MIN_RSA_BITS 2048
#define ONE_DAY 86400LL
#define MAX_EXPIRES_IN 31536000LL   /* a year: anything longer is nonsense */
#define MAX_ERROR_TEXT 300

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
    (void)buf; (void)size; (void)rwflag; (void)u;
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
                                  const char *key_file,
                                  b2c_client_cert_t **out, const char **err)
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
        *err = apr_psprintf(p, "%s holds no PEM private key (encrypted keys "
                            "are not supported)", key_file);
        goto fail;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        *err = apr_psprintf(p, "the key in %s is not an RSA key", key_file);
        goto fail;
    }
    if ((bits = EVP_PKEY_get_bits(key)) < MIN_RSA_BITS) {
        *err = apr_psprintf(p, "the RSA key in %s has %d bits, at least %d "
                            "are required", key_file, bits, MIN_RSA_BITS);
        goto fail;
    }
    if (X509_check_private_key(x509, key) != 1) {
        *err = apr_psprintf(p, "the key in %s does not match the certificate "
                            "in %s", key_file, cert_file);
        goto fail;
    }
    if ((der_len = i2d_X509(x509, &der)) <= 0 ||
        (x5t = digest_b64url(p, "SHA1", der, (size_t)der_len)) == NULL ||
        (x5t_s256 = digest_b64url(p, "SHA256", der, (size_t)der_len)) == NULL) {
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
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                        b[10], b[11], b[12], b[13], b[14], b[15]);
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
    if (cert == NULL || cert->key == NULL || cert->x5t == NULL ||
        cert->x5t_s256 == NULL) {
        *err = "no client certificate";
        return APR_EINVAL;
    }
    if (client_id == NULL || *client_id == '\0' || token_endpoint == NULL ||
        *token_endpoint == '\0') {
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
    claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud",
                       token_endpoint, "iss", client_id, "sub", client_id, "jti",
                       jti, "nbf", (json_int_t)now, "iat", (json_int_t)now,
                       "exp", (json_int_t)(now + ASSERTION_LIFETIME));
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
    ok = EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, cert->key) == 1 &&
         EVP_DigestSign(mctx, sig, &sig_len, (const unsigned char *)input,
                        strlen(input)) == 1;
    EVP_MD_CTX_free(mctx);
    if (!ok) {
        ERR_clear_error();
        *err = "signing the client assertion failed";
        return APR_EGENERAL;
    }
    *assertion = apr_pstrcat(p, input, ".", b2c_b64url_encode(p, sig, sig_len), NULL);
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------
 * The request
 */

/* application/x-www-form-urlencoded (RFC 6749 Appendix B): unreserved
 * characters as they are, space as '+', every other byte as %XX. */
static char *form_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        }
        else if (c == ' ') {
            *o++ = '+';
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

/* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), RFC 6749 §3.3 */
static int scope_token_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

static char *standard_base64(apr_pool_t *p, const char *s)
{
    size_t len = strlen(s);
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);

    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    return out;
}

apr_status_t b2c_token_request_form(apr_pool_t *p, const b2c_token_request_t *req,
                                    long long now, const char **form,
                                    const char **basic, const char **err)
{
    char *f;

    *form = NULL;
    *basic = NULL;
    *err = NULL;
    if (req->client_id == NULL || *req->client_id == '\0') {
        *err = "no client id";
        return APR_EINVAL;
    }
    f = apr_pstrcat(p, "grant_type=client_credentials&client_id=",
                    form_encode(p, req->client_id), NULL);

    if (req->scopes && req->scopes->nelts > 0) {
        const char *const *sc = (const char *const *)req->scopes->elts;
        char *joined = NULL;
        int i;
        for (i = 0; i < req->scopes->nelts; i++) {
            if (!scope_token_ok(sc[i])) {
                *err = apr_psprintf(p, "scope number %d is empty or holds a "
                                    "blank, quote, backslash or non-ASCII "
                                    "character", i + 1);
                return APR_EINVAL;
            }
            joined = joined ? apr_pstrcat(p, joined, " ", sc[i], NULL)
                            : apr_pstrdup(p, sc[i]);
        }
        f = apr_pstrcat(p, f, "&scope=", form_encode(p, joined), NULL);
    }

    switch (req->auth) {
    case B2C_AUTH_SECRET_POST:
    case B2C_AUTH_SECRET_BASIC:
        if (req->secret == NULL || *req->secret == '\0') {
            *err = "no client secret";
            return APR_EINVAL;
        }
        if (req->auth == B2C_AUTH_SECRET_POST) {
            f = apr_pstrcat(p, f, "&client_secret=", form_encode(p, req->secret),
                            NULL);
        }
        else {
            /* RFC 6749 §2.3.1: both parts form-encoded before base64 */
            const char *pair = apr_pstrcat(p, form_encode(p, req->client_id), ":",
                                           form_encode(p, req->secret), NULL);
            *basic = apr_pstrcat(p, "Basic ", standard_base64(p, pair), NULL);
        }
        break;
    case B2C_AUTH_PRIVATE_KEY_JWT: {
        const char *assertion;
        apr_status_t rv = b2c_client_assertion(p, req->cert, req->client_id,
                                               req->token_endpoint, now,
                                               &assertion, err);
        if (rv != APR_SUCCESS) {
            *basic = NULL;
            return rv;
        }
        /* the JWT is all base64url and dots: nothing to encode */
        f = apr_pstrcat(p, f, "&client_assertion_type=",
                        form_encode(p, CLIENT_ASSERTION_TYPE),
                        "&client_assertion=", assertion, NULL);
        break;
    }
    default:
        *err = "unknown client authentication method";
        return APR_EINVAL;
    }
    *form = f;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------
 * The answer
 */

/* First line of s, control characters, '"' and '\' as spaces, at most
 * MAX_ERROR_TEXT bytes (cut on a UTF-8 boundary), trailing blanks dropped;
 * NULL when nothing is left. Safe to log and to put in a header. */
static const char *sanitise(apr_pool_t *p, const char *s)
{
    size_t n, i;
    char *out;

    if (s == NULL)
        return NULL;
    n = strcspn(s, "\r\n");
    if (n > MAX_ERROR_TEXT) {
        n = MAX_ERROR_TEXT;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* s[n] continues a character: cut before it starts */
    }
    out = apr_pstrndup(p, s, n);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            out[i] = ' ';
    }
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
    return n ? out : NULL;
}

/* "AADSTS" and its digits from error_codes[0] or the description. */
static const char *aadsts_code(apr_pool_t *p, const json_t *body, const char *desc)
{
    json_t *codes = json_object_get(body, "error_codes");
    const char *at;

    if (json_is_array(codes) && json_array_size(codes) > 0) {
        json_t *first = json_array_get(codes, 0);
        if (json_is_integer(first) && json_integer_value(first) > 0 &&
            json_integer_value(first) < 10000000000LL)
            return apr_psprintf(p, "AADSTS%" APR_INT64_T_FMT,
                                (apr_int64_t)json_integer_value(first));
    }
    for (at = desc; at && (at = strstr(at, "AADSTS")) != NULL; at += 6) {
        size_t digits = strspn(at + 6, "0123456789");
        if (digits > 0 && digits <= 10)
            return apr_pstrndup(p, at, 6 + digits);
    }
    return NULL;
}

/* expires_in: a positive JSON integer or a string of digits (Entra v1);
 * 0 when absent or invalid. */
static long long expires_in_value(const json_t *v)
{
    long long n = 0;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    }
    else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (*s == '\0' || s[strspn(s, "0123456789")] != '\0')
            return 0;
        for (; *s; s++) {
            n = n * 10 + (*s - '0');
            if (n > MAX_EXPIRES_IN)
                return 0;
        }
    }
    return n > 0 && n <= MAX_EXPIRES_IN ? n : 0;
}

/* Printable ASCII, no space: it goes into "Authorization: Bearer ...". */
static int header_safe(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    }
    return 1;
}

static void set_failure(b2c_token_result_t *res, b2c_token_outcome_t outcome,
                        const char *error, const char *description)
{
    res->outcome = outcome;
    res->access_token = NULL;
    res->expires_in = 0;
    res->error = error;
    res->error_description = description;
}

static void parse_success(apr_pool_t *p, long status, const json_t *body,
                          const char *json_err, b2c_token_result_t *res)
{
    const char *token, *type;
    long long expires_in;

    if (body == NULL) {
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    apr_psprintf(p, "HTTP %ld answer is not a JSON object: %s",
                                 status, json_err));
        return;
    }
    token = b2c_json_string(body, "access_token");
    type = b2c_json_string(body, "token_type");
    if (token == NULL || *token == '\0') {
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    "answer has no access_token string");
        return;
    }
    if (!header_safe(token)) {
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    "access_token holds blanks, control or non-ASCII characters");
        return;
    }
    if (type == NULL) {
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    "answer has no token_type string");
        return;
    }
    if (strcasecmp(type, "Bearer") != 0) {
        const char *t = sanitise(p, apr_pstrndup(p, type, 40));
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    apr_psprintf(p, "token_type '%s' is not Bearer", t ? t : ""));
        return;
    }
    if (json_object_get(body, "expires_in") == NULL) {
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    "answer has no expires_in");
        return;
    }
    if ((expires_in = expires_in_value(json_object_get(body, "expires_in"))) == 0) {
        set_failure(res, B2C_TOKEN_RETRYABLE, "invalid_response",
                    apr_psprintf(p, "expires_in is not a number of seconds "
                                 "from 1 to %" APR_INT64_T_FMT,
                                 (apr_int64_t)MAX_EXPIRES_IN));
        return;
    }
    res->outcome = B2C_TOKEN_OK;
    res->access_token = apr_pstrdup(p, token);
    res->expires_in = expires_in;
}

void b2c_token_response_parse(apr_pool_t *p, long status, const char *body,
                              size_t len, const char *retry_after,
                              b2c_token_result_t *res)
{
    json_t *doc = NULL;
    const char *json_err = "empty answer", *error, *desc, *raw_desc;

    memset(res, 0, sizeof(*res));
    res->retry_after = b2c_retry_after_seconds(
        retry_after, (long long)apr_time_sec(apr_time_now()));

    if (status <= 0) {
        set_failure(res, B2C_TOKEN_RETRYABLE, "unreachable",
                    "no answer from the token endpoint");
        return;
    }
    if (body && len > 0 &&
        b2c_json_parse_object(p, body, len, &doc, &json_err) != APR_SUCCESS)
        doc = NULL;

    if (status >= 200 && status < 300) {
        parse_success(p, status, doc, json_err, res);
        return;
    }

    /* an error answer: keep what the body says about it */
    raw_desc = b2c_json_string(doc, "error_description");
    error = sanitise(p, b2c_json_string(doc, "error"));
    desc = sanitise(p, raw_desc);
    res->error_code = doc ? aadsts_code(p, doc, raw_desc) : NULL;
    if (error == NULL) {
        error = apr_psprintf(p, "http_%ld", status);
        if (desc == NULL)
            desc = apr_psprintf(p, "token endpoint answered HTTP %ld without "
                                "an OAuth error", status);
    }

    if (status == 429 || status == 408 || status >= 500 || status < 200 ||
        strcmp(error, "temporarily_unavailable") == 0 ||
        strcmp(error, "server_error") == 0)
        set_failure(res, B2C_TOKEN_RETRYABLE, error, desc);
    else /* 3xx (redirects are not followed) and 4xx: the config is wrong */
        set_failure(res, B2C_TOKEN_REFUSED, error, desc);
}

/* ---------------------------------------------------------------------
 * Timing
 */

long long b2c_retry_after_seconds(const char *value, long long now)
{
    size_t n;
    long long secs = 0;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;

    if (strspn(value, "0123456789") >= n) { /* delay-seconds */
        size_t i;
        for (i = 0; i < n; i++) {
            secs = secs * 10 + (value[i] - '0');
            if (secs > ONE_DAY)
                return ONE_DAY;
        }
        return secs;
    }
    else {
        char date[64]; /* IMF-fixdate is 29 characters */
        apr_time_t when;
        if (n >= sizeof(date))
            return -1;
        memcpy(date, value, n);
        date[n] = '\0';
        if ((when = apr_date_parse_http(date)) == APR_DATE_BAD)
            return -1;
        secs = (long long)apr_time_sec(when) - now;
        return secs < 0 ? 0 : secs > ONE_DAY ? ONE_DAY : secs;
    }
}

long long b2c_backoff_seconds(int failures, long long base, long long cap,
                              long long retry_after, double rnd)
{
    long long delay = 0, exp, half;
    int i;

    if (cap > ONE_DAY)
        cap = ONE_DAY;
    if (base > cap)
        base = cap;
    if (failures >= 1 && base > 0) {
        exp = base;
        for (i = 1; i < failures && exp < cap; i++)
            exp *= 2; /* exp <= cap <= ONE_DAY before doubling: no overflow */
        if (exp > cap)
            exp = cap;
        if (!(rnd >= 0.0)) /* NaN too */
            rnd = 0.0;
        if (rnd >= 1.0)
            rnd = 0.999999;
        half = exp / 2;
        delay = (exp - half) + (long long)floor(rnd * (double)(half + 1));
    }
    if (retry_after > delay) /* the server knows best, even beyond cap */
        delay = retry_after;
    return delay > ONE_DAY ? ONE_DAY : delay;
}

static long long add_saturating(long long a, long long b)
{
    if (b > 0 && a > LLONG_MAX - b)
        return LLONG_MAX;
    return a + b;
}

long long b2c_token_refresh_at(long long obtained, long long lifetime)
{
    long long at;

    if (lifetime <= 0)
        return obtained;
    at = lifetime - lifetime / 5; /* 80%, rounded up */
    if (lifetime - at < 30)
        at = lifetime - 30;
    if (at < lifetime / 2)
        at = lifetime / 2;
    return add_saturating(obtained, at);
}

long long b2c_token_usable_until(long long obtained, long long lifetime)
{
    long long margin;

    if (lifetime <= 0)
        return obtained;
    margin = lifetime / 10 < 5 ? lifetime / 10 : 5;
    return add_saturating(obtained, lifetime - margin);
}

/* ---------------------------------------------------------------------
 * One attempt
 */

/* Does the raw answer quote the secret, as is or form-encoded? Checked
 * before any sanitising or cutting, which could disguise an echo. */
static int quotes_secret(apr_pool_t *p, const b2c_http_response_t *resp,
                         const char *secret)
{
    const char *forms[3];
    json_t *js;
    char *quoted;
    int i, n = 0;

    if (!secret || strlen(secret) < 4 || !resp->body)
        return 0;
    forms[n++] = secret;
    forms[n++] = form_encode(p, secret);
    /* as a JSON string body would carry it: "\"" for '"', "\\" for '\' */
    if ((js = json_string(secret))) {
        if ((quoted = json_dumps(js, JSON_ENCODE_ANY))) {
            if (strlen(quoted) > 2)
                forms[n++] = apr_pstrndup(p, quoted + 1, strlen(quoted) - 2);
            free(quoted);
        }
        json_decref(js);
    }
    for (i = 0; i < n; i++)
        if (memmem(resp->body, resp->body_len, forms[i], strlen(forms[i])))
            return 1;
    return 0;
}

void b2c_token_fetch(apr_pool_t *p, const b2c_token_request_t *req,
                     const b2c_http_options_t *opts, long long now,
                     b2c_token_result_t *res)
{
    const char *form, *basic, *err;
    apr_table_t *headers = NULL;
    b2c_http_response_t resp;

    memset(res, 0, sizeof(*res));
    res->retry_after = -1;
    if (req->token_endpoint == NULL ||
        (strncasecmp(req->token_endpoint, "https://", 8) != 0 &&
         strncasecmp(req->token_endpoint, "http://", 7) != 0)) {
        set_failure(res, B2C_TOKEN_REFUSED, "invalid_request",
                    "the token endpoint is not an http or https URL");
        return;
    }
    if (b2c_token_request_form(p, req, now, &form, &basic, &err) != APR_SUCCESS) {
        set_failure(res, B2C_TOKEN_REFUSED, "invalid_request", err);
        return;
    }
    if (basic) {
        headers = apr_table_make(p, 1);
        apr_table_setn(headers, "Authorization", basic);
    }
    if (b2c_http_post_form(p, req->token_endpoint, headers, form, opts, &resp,
                           &err) != APR_SUCCESS) {
        const char *d = sanitise(p, err);
        set_failure(res, B2C_TOKEN_RETRYABLE, "unreachable",
                    d ? d : "no answer from the token endpoint");
        return;
    }
    b2c_token_response_parse(p, resp.status, resp.body, resp.body_len,
                             resp.retry_after, res);
    if (res->outcome != B2C_TOKEN_OK && quotes_secret(p, &resp, req->secret)) {
        res->error = "withheld";
        res->error_code = NULL;
        res->error_description = "(error text withheld: it quoted the client "
                                 "secret)";
    }
    /* measure an HTTP-date Retry-After against the caller's clock */
    res->retry_after = b2c_retry_after_seconds(resp.retry_after, now);
}

/* ---------------------------------------------------------------------
 * Authorities
 */

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncmp(s + len - n, suffix, n) == 0;
}

#define DISCOVERY_SUFFIX "/.well-known/openid-configuration"

const char *b2c_authority_token_endpoint(apr_pool_t *p, const char *authority,
                                         const char **err)
{
    const char *rest, *path, *seg;
    size_t len, plen, hlen;
    int oauth2_v2;

    *err = NULL;
    if (authority == NULL || *authority == '\0') {
        *err = "no authority URL";
        return NULL;
    }
    if (strncasecmp(authority, "https://", 8) == 0)
        rest = authority + 8;
    else if (strncasecmp(authority, "http://", 7) == 0)
        rest = authority + 7;
    else {
        *err = "the authority is not an http or https URL";
        return NULL;
    }
    len = strlen(authority);
    while (len > (size_t)(rest - authority) && authority[len - 1] == '/')
        len--;

    /* host[:port] */
    hlen = strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789-._:[]");
    path = rest + hlen;
    if (hlen == 0 || (path < authority + len && *path != '/')) {
        *err = "the authority URL has no valid host (user info, query and "
               "fragment are not allowed)";
        return NULL;
    }
    plen = (size_t)(authority + len - path);
    if (plen == 0) {
        *err = "the authority URL has no tenant path";
        return NULL;
    }
    /* path: RFC 3986 pchars except '@' (user info) and '%' plus '/';
     * '?' and '#' (query, fragment) and anything else are refused */
    if (strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-._~!$&'()*+,;=:/") < plen) {
        *err = "the authority URL's path holds characters not allowed there "
               "(user info, query and fragment are not allowed)";
        return NULL;
    }
    if (ends_with(path, plen, DISCOVERY_SUFFIX))
        return NULL; /* a discovery document: the caller fetches it */
    oauth2_v2 = ends_with(path, plen, "/oauth2/v2.0");

    /* each segment non-empty, no dot segments, and no oauth2, v2.0 or
     * .well-known except in the suffixes we know: a token endpoint or a v1
     * authority must not turn into ".../token/oauth2/v2.0/token" */
    for (seg = path; seg < path + plen;) {
        const char *next = memchr(seg + 1, '/', (size_t)(path + plen - seg - 1));
        size_t slen = (size_t)((next ? next : path + plen) - seg - 1);
        const char *name = seg + 1;
        int last = next == NULL;
        int before_last = !last && memchr(next + 1, '/',
                                          (size_t)(path + plen - next - 1)) == NULL;

        if (slen == 0 || (slen == 1 && name[0] == '.') ||
            (slen == 2 && name[0] == '.' && name[1] == '.')) {
            *err = "the authority URL has an empty or dot path segment";
            return NULL;
        }
        if ((slen == 6 && strncmp(name, "oauth2", 6) == 0 &&
             !(before_last && oauth2_v2)) ||
            (slen == 4 && strncmp(name, "v2.0", 4) == 0 && !last) ||
            (slen == 11 && strncmp(name, ".well-known", 11) == 0)) {
            *err = "the authority URL is neither an authority (https://host/"
                   "TENANT[/v2.0]), nor .../oauth2/v2.0, nor a discovery URL";
            return NULL;
        }
        seg = next ? next : path + plen;
    }
    if (oauth2_v2) {
        if (plen == strlen("/oauth2/v2.0")) {
            *err = "the authority URL has no tenant before /oauth2/v2.0";
            return NULL;
        }
        return apr_pstrcat(p, apr_pstrndup(p, authority, len), "/token", NULL);
    }
    if (ends_with(path, plen, "/v2.0")) {
        if (plen == strlen("/v2.0")) {
            *err = "the authority URL has no tenant before /v2.0";
            return NULL;
        }
        len -= strlen("/v2.0");
    }
    return apr_pstrcat(p, apr_pstrndup(p, authority, len), "/oauth2/v2.0/token",
                       NULL);
}
