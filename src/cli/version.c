/* version.c - `carbon version`. */
#include "cli/cli.h"

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int cli_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: carbon version\n\nPrints the version of carbon and of the libraries it "
               "runs on.\n");
        return 0;
    }
    printf("carbon %s\n", CARBON_VERSION);
    printf("libmicrohttpd %s, jansson %s, sqlite %s, %s\n", MHD_get_version(), JANSSON_VERSION,
           sqlite3_libversion(), OPENSSL_VERSION_TEXT);
    return 0;
}
