/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libumn-fi.so: libfabric loads every lib*-fi.so in FI_PROVIDER_PATH while it
 * initialises and calls its fi_prov_ini. This one provides no provider: it
 * imports umn's monitor (UMN_MONITOR picks which) and returns NULL, so that
 * every domain the unmodified program opens uses umn. Linked -z nodelete:
 * libfabric dlcloses a library that returned no provider, and the monitor's
 * code must stay. A failed import leaves libfabric on its own monitor and
 * says so on stderr (the program asked for umn by setting FI_PROVIDER_PATH).
 * FI_MR_CACHE_MONITOR=disabled keeps libfabric's cache off: no import then.
 */
#include <umn/ofi.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fi_provider;

__attribute__((visibility("default"))) struct fi_provider *fi_prov_ini(void) {
    /* libfabric's own switch for its cache: an import would turn it back on. */
    const char *monitor = getenv("FI_MR_CACHE_MONITOR");
    if (monitor && strcmp(monitor, "disabled") == 0) return NULL;
    int rc = umn_ofi_import(NULL);
    if (rc && rc != -EALREADY)
        fprintf(stderr, "umn: libumn-fi.so: libfabric keeps its own memory monitor: %s\n",
                strerror(-rc));
    return NULL;
}
