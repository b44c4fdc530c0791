/* SPDX-License-Identifier: Apache-2.0 */
/* The one definition of our error-log ids: "B2C" + five digits, searchable
 * like httpd's AHnnnnn. 01nnn are mod_b2c_auth's, 02nnn mod_b2c_client's;
 * each id has one call site and a line in its module's doc
 * (tests/docs/test_log_ids.py checks both). A pure macro: no httpd. */
#ifndef B2C_LOGNO_H
#define B2C_LOGNO_H

#define B2CLOGNO(n) "B2C" #n ": "

#endif
