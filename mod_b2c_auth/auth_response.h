/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 6750 answers: the WWW-Authenticate challenge for each outcome, and
 * turning httpd's 401 for an authorization failure into a 403. */
#ifndef B2C_AUTH_RESPONSE_H
#define B2C_AUTH_RESPONSE_H

#include "mod_b2c_auth.h"

/* note_auth_failure hook: writes the challenge for AuthType Bearer. */
int b2c_auth_note_failure(request_rec *r, const char *auth_type);

/* insert_error_filter hook + the filter it inserts. */
void b2c_auth_insert_error_filter(request_rec *r);
void b2c_auth_register_response_filter(void);

/* Sets the challenge for a 400 invalid_request answer directly. */
void b2c_auth_set_challenge(request_rec *r, const char *error,
                            const char *description);

#endif
