/* SPDX-License-Identifier: Apache-2.0 */
/* The certificate credential of the token client (what MSAL's
 * WithCertificate uses) and the private_key_jwt client assertion it signs
 * (RFC 7523). No httpd headers. */
#ifndef B2C_CLIENT_CERT_H
#define B2C_CLIENT_CERT_H

#include <apr_pools.h>
#include <openssl/evp.h>

/* A certificate credential: what MSAL's WithCertificate uses. */
typedef struct {
    EVP_PKEY *key;        /* RSA private key */
    const char *x5t;      /* base64url SHA-1 of the DER certificate */
    const char *x5t_s256; /* base64url SHA-256 of the DER certificate */
} b2c_client_cert_t;

/* Load a PEM certificate and its PEM private key (RSA, 2048 bits or more;
 * the key must match the certificate; encrypted keys are refused, never
 * prompted for). key_file NULL or "": the key is in cert_file too. The key
 * is freed with p. *err names the file at fault and never prints key
 * material. */
apr_status_t b2c_client_cert_load(apr_pool_t *p, const char *cert_file,
                                  const char *key_file, b2c_client_cert_t **out,
                                  const char **err);

/* The client assertion JWT for token_endpoint: header {alg RS256, typ JWT,
 * x5t, x5t#S256}; claims {aud = token_endpoint, iss = sub = client_id,
 * jti = a fresh random UUID, nbf = iat = now, exp = now + 600}. */
apr_status_t b2c_client_assertion(apr_pool_t *p, const b2c_client_cert_t *cert,
                                  const char *client_id,
                                  const char *token_endpoint, long long now,
                                  const char **assertion, const char **err);

#endif
