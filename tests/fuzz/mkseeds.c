/* SPDX-License-Identifier: Apache-2.0 */
/* Writes the token seeds of corpus/validate and corpus/jwt_parse (and one
 * header of corpus/bearer, and the sealed blobs of corpus/seal): real-shaped tokens signed by the fixed keys of
 * fuzz_keys.h, and the usual attacks. Only needed when the keys or these
 * cases change:
 *   tests/fuzz/run.sh 0 && tests/fuzz/build/mkseeds tests/fuzz/corpus
 * (run.sh builds mkseeds next to the targets). */
#include "fuzz_keys.h"
#include "fuzz_seal_keys.h"
#include "b2c_seal.h"
#include "b2c_util.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static apr_pool_t *pool;
static const char *outdir;

static void put(const char *dir, const char *name, const char *data, size_t len)
{
    const char *path = apr_pstrcat(pool, outdir, "/", dir, "/", name, NULL);
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* A token seed goes to both token targets. */
static void token(const char *name, const char *tok)
{
    put("validate", name, tok, strlen(tok));
    put("jwt_parse", name, tok, strlen(tok));
}

static const char *b64(const char *s)
{
    return b2c_b64url_encode(pool, (const unsigned char *)s, strlen(s));
}

static const char *sign(const char *header, const char *claims)
{
    char *t = fz_sign(pool, header, strlen(header), claims, strlen(claims));

    if (t == NULL) {
        fprintf(stderr, "signing failed\n");
        exit(1);
    }
    return t;
}

#define ISS_ENTRA "https://login.microsoftonline.com/" FZ_TID "/v2.0"
#define HDR_RSA   "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"" FZ_KID_RSA "\"}"

/* Claims of an Entra ID v2.0 access token for a web API: iat and nbf five
 * minutes before FZ_NOW (nbf: unless given), the given exp and aud (JSON),
 * extra members (",\"name\":value") appended. */
static const char *entra_claims_nbf(long long nbf, long long exp,
                                    const char *aud, const char *extra)
{
    return apr_psprintf(
        pool,
        "{\"aud\":%s,\"iss\":\"" ISS_ENTRA "\",\"iat\":%" APR_INT64_T_FMT
        ",\"nbf\":%" APR_INT64_T_FMT ",\"exp\":%" APR_INT64_T_FMT ","
        "\"aio\":\"E2NgYJj+lPrnZ7Xr5n1nXf8vYwA=\",\"azp\":\"" FZ_AUD_ID "\","
        "\"azpacr\":\"1\",\"name\":\"Ada Lovelace\","
        "\"oid\":\"a1b2c3d4-0000-4000-8000-000000000001\","
        "\"preferred_username\":\"ada@contoso.onmicrosoft.com\","
        "\"rh\":\"0.AQEAv4j5cvGGr0GRqy180BHbR-kNpW4CZX5Js4t0y8GVh0YBAAA.\","
        "\"roles\":[\"Admin\",\"Reader\"],\"scp\":\"access_as_user User.Read\","
        "\"sub\":\"aZ6tWXq3PJ9m1UeBQn3fvYkzZrUxWOhb4sM2hXyIzV0\","
        "\"tid\":\"" FZ_TID
        "\",\"uti\":\"kPJ2m4t0OEm7pP8GxY1pAA\",\"ver\":\"2.0\"%s}",
        aud, (apr_int64_t)(FZ_NOW - 300), (apr_int64_t)nbf, (apr_int64_t)exp,
        extra ? extra : "");
}

static const char *entra_claims(long long exp, const char *aud,
                                const char *extra)
{
    return entra_claims_nbf(FZ_NOW - 300, exp, aud, extra);
}

/* corpus/seal: blobs sealed by the target's current and old keys under its
 * context (opened: the decrypt path), plus plaintext and payload modes. */
static void seal_seeds(void)
{
    static const char *const plain[] = {
        "",
        "b2c1 "
        "keys\n1699999990\nhttps://login.example/m\nhttps://iss/"
        "v2.0\n{\"keys\":[]}",
        "b2c1 ctoken\n1699999900\n3600\neyJ0.eyJ1.c2ln"
    };
    const char *secrets[2] = { FZ_SEAL_SECRET, FZ_SEAL_OLD };
    unsigned char *blob;
    size_t len, i, k;

    for (k = 0; k < 2; k++) {
        b2c_seal_key_t *key;
        b2c_seal_ring_t *ring;
        if (b2c_seal_key_from_bytes(pool, secrets[k], strlen(secrets[k]), &key))
            exit(1);
        ring = b2c_seal_ring_make(pool, key);
        for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
            if (b2c_seal(ring, pool, FZ_SEAL_CONTEXT, plain[i],
                         strlen(plain[i]), &blob, &len))
                exit(1);
            put("seal",
                apr_psprintf(pool, "blob-%s-%d", k ? "old" : "cur", (int)i),
                (const char *)blob, len);
        }
    }
    put("seal", "plain-keys", "Sb2c1 keys\n5\nu\ni\n{}", 19);
    put("seal", "payload-keys",
        "Kb2c1 keys\n1699999990\nhttps://a/m\nhttps://iss\n{}", 48);
    put("seal", "payload-ctoken",
        "Tb2c1 ctoken\n1699999900\n3600\neyJ0.eyJ1.c2ln", 43);
    put("seal", "garbage-version", "\002abcdefgh", 9);
}

int main(int argc, char **argv)
{
    const char *aud = "\"" FZ_AUD "\"", *valid, *c, *h, *s;
    char *t;
    unsigned char mac[32];
    unsigned int maclen = 0;
    size_t n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    apr_initialize();
    apr_pool_create(&pool, NULL);
    fz_keys_init();

    /* accepted tokens, one per key */
    valid = sign(HDR_RSA, entra_claims(FZ_NOW + 3600, aud, NULL));
    token("valid-rs256-entra-v2", valid);
    token(
        "valid-ps256-b2c",
        sign("{\"alg\":\"PS256\",\"kid\":\"" FZ_KID_RSA_PS
             "\",\"typ\":\"at+jwt\"}",
             "{\"iss\":\"" FZ_ISS_B2C
             "\",\"exp\":1700003600,\"nbf\":1699999700,"
             "\"aud\":\"" FZ_AUD_ID
             "\",\"sub\":\"5c1f2d3e-0000-4000-8000-00000000b2c0\","
             "\"emails\":[\"ada@example.com\"],\"tfp\":\"B2C_1_signupsignin\","
             "\"scp\":\"demo.read\",\"azp\":\"" FZ_AUD_ID "\",\"ver\":\"1.0\","
             "\"iat\":1699999700}"));
    token("valid-es256-aud-array",
          sign("{\"alg\":\"ES256\",\"kid\":\"" FZ_KID_EC
               "\",\"typ\":\"application/JWT\"}",
               "{\"iss\":\"" FZ_ISS_B2C
               "\",\"aud\":[\"https://other\",\"" FZ_AUD "\"],"
               "\"exp\":1700000100.0,\"sub\":\"x\",\"roles\":[\"Reader\",42,"
               "true,null]}"));

    /* signed, then refused for their claims */
    token("expired",
          sign(HDR_RSA, entra_claims(FZ_NOW - FZ_SKEW - 1, aud, NULL)));
    token("nbf-future",
          sign(HDR_RSA, entra_claims_nbf(FZ_NOW + FZ_SKEW + 1, FZ_NOW + 3600,
                                         aud, NULL)));
    token("wrong-aud",
          sign(HDR_RSA,
               entra_claims(FZ_NOW + 3600,
                            "\"00000003-0000-0000-c000-000000000000\"", NULL)));
    token(
        "v1-issuer",
        sign(HDR_RSA,
             "{\"aud\":\"" FZ_AUD "\",\"iss\":\"https://sts.windows.net/" FZ_TID
             "/\",\"iat\":1699999700,\"nbf\":1699999700,\"exp\":1700003600,"
             "\"appid\":\"" FZ_AUD_ID "\",\"appidacr\":\"1\",\"tid\":\"" FZ_TID
             "\",\"ver\":\"1.0\",\"roles\":[\"Admin\"]}"));
    token("tid-smuggling",
          sign(HDR_RSA,
               "{\"aud\":\"" FZ_AUD
               "\",\"iss\":\"https://login.microsoftonline.com/"
               "evil/x/v2.0\",\"tid\":\"evil/x\",\"exp\":1700003600}"));
    token("exp-string",
          sign(HDR_RSA, "{\"aud\":\"" FZ_AUD "\",\"iss\":\"" ISS_ENTRA
                        "\",\"tid\":\"" FZ_TID "\",\"exp\":\"1700003600\"}"));
    token("exp-missing",
          sign(HDR_RSA, "{\"aud\":\"" FZ_AUD "\",\"iss\":\"" ISS_ENTRA
                        "\",\"tid\":\"" FZ_TID "\"}"));

    /* refused for their header or signature */
    c = entra_claims(FZ_NOW + 3600, aud, NULL);
    token("alg-none",
          apr_pstrcat(pool, b64("{\"alg\":\"none\",\"typ\":\"JWT\"}"), ".",
                      b64(c), ".", NULL));
    token("alg-none-sig",
          apr_pstrcat(pool, b64("{\"alg\":\"none\",\"kid\":\"fz-rsa\"}"), ".",
                      b64(c), ".AAAA", NULL));
    /* HS256 with the public key set as the secret: the classic confusion */
    h = b64("{\"alg\":\"HS256\",\"kid\":\"" FZ_KID_RSA "\",\"typ\":\"JWT\"}");
    s = apr_pstrcat(pool, h, ".", b64(c), NULL);
    HMAC(EVP_sha256(), fz_jwks_json(), (int)strlen(fz_jwks_json()),
         (const unsigned char *)s, strlen(s), mac, &maclen);
    token(
        "hs256-public-key-secret",
        apr_pstrcat(pool, s, ".", b2c_b64url_encode(pool, mac, maclen), NULL));
    token("crit", sign("{\"alg\":\"RS256\",\"kid\":\"" FZ_KID_RSA
                       "\",\"crit\":[\"exp\"],"
                       "\"exp\":1700003600}",
                       c));
    token(
        "nonce-graph",
        sign(
            "{\"typ\":\"JWT\",\"nonce\":\"Zm9vYmFyYmF6cXV4\",\"alg\":\"RS256\","
            "\"x5t\":\"L1KfKFI_jnXbwWc22xZxw1sUHH0\",\"kid\":\"" FZ_KID_RSA
            "\"}",
            c));
    token("typ-jose", sign("{\"alg\":\"RS256\",\"kid\":\"" FZ_KID_RSA
                           "\",\"typ\":\"JOSE\"}",
                           c));
    token("kid-unknown", sign("{\"alg\":\"RS256\",\"kid\":\"nokey\"}", c));
    token("kid-missing", sign("{\"alg\":\"RS256\"}", c));
    token("kid-not-string", sign("{\"alg\":\"RS256\",\"kid\":7}", c));
    token("alg-key-mismatch",
          sign("{\"alg\":\"ES256\",\"kid\":\"" FZ_KID_RSA "\"}", c));
    token("ps-key-as-rs",
          sign("{\"alg\":\"RS256\",\"kid\":\"" FZ_KID_RSA_PS "\"}", c));
    token("dup-claims",
          sign(HDR_RSA, "{\"aud\":\"x\",\"aud\":\"" FZ_AUD "\",\"exp\":1}"));
    /* CVE-2022-21449: r = s = 0 */
    token("es256-zero-sig",
          apr_pstrcat(pool,
                      b64("{\"alg\":\"ES256\",\"kid\":\"" FZ_KID_EC "\"}"), ".",
                      b64(c),
                      ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                      "AAAAAAAAAAAAAAAAA"
                      "AAAAAAAAAAAAAAAA",
                      NULL));
    t = apr_pstrdup(pool, valid);
    n = strlen(t);
    t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';
    token("sig-tampered", t);

    /* shapes */
    s = strrchr(valid, '.');
    token("two-segments", apr_pstrndup(pool, valid, (apr_size_t)(s - valid)));
    token("four-segments", apr_pstrcat(pool, valid, ".e30", NULL));
    token("padded-b64", apr_pstrcat(pool, valid, "==", NULL));
    {
        /* a valid token just under B2C_JWT_MAX_BYTES, and one over it */
        char *pad = apr_palloc(pool, 11201);
        memset(pad, 'x', 11200);
        pad[11200] = '\0';
        token("huge-valid",
              sign(HDR_RSA,
                   entra_claims(FZ_NOW + 3600, aud,
                                apr_psprintf(pool, ",\"pad\":\"%s\"", pad))));
        pad = apr_palloc(pool, 11501);
        memset(pad, 'x', 11500);
        pad[11500] = '\0';
        token("huge-too-large",
              sign(HDR_RSA,
                   entra_claims(FZ_NOW + 3600, aud,
                                apr_psprintf(pool, ",\"pad\":\"%s\"", pad))));
    }

    /* the bearer header with a real token */
    t = apr_pstrcat(pool, "Bearer ", valid, NULL);
    put("bearer", "bearer-real-token", t, strlen(t));

    seal_seeds();
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}
