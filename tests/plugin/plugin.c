/* SPDX-License-Identifier: BSD-3-Clause */
/* A plugin that uses libumn, for the dlclose test (tests/dlclose_test.cpp):
 * it is dlopen'ed, opens a hooks notifier (which patches libc), and is
 * unloaded. */
#include <umn/umn.h>

#include <stdlib.h>

static umn_notifier *kept;
static char buffer[1 << 16];

/* Opens a hooks notifier with one registration; closes it again when
 * `close_it`. Returns 0 or a negative errno. */
int umn_test_plugin_use(int close_it) {
    int rc = umn_notifier_open(&kept, UMN_MONITOR_HOOKS);
    if (rc) return rc;
    rc = umn_register(kept, buffer, sizeof buffer, 1);
    if (close_it) {
        umn_notifier_close(kept);
        kept = NULL;
    }
    return rc;
}
