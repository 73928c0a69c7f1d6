/* SPDX-License-Identifier: BSD-3-Clause */
/* Prints umn_version() and fails when the library in use is not the version
 * of the headers it was built with (install_test.sh compares the output with
 * `pkg-config --modversion umn`). */
#include <umn/umn.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    char headers[64];
    snprintf(headers, sizeof headers, "%d.%d.%d", UMN_VERSION_MAJOR, UMN_VERSION_MINOR,
             UMN_VERSION_PATCH);
    const char *library = umn_version();
    printf("%s\n", library);
    if (strcmp(library, headers) != 0) {
        fprintf(stderr, "FAIL: library %s, headers %s\n", library, headers);
        return 1;
    }
    return 0;
}
