/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * umn/ofi.h: umn as libfabric's memory monitor.
 *
 * libfabric's registration cache (verbs, efa) asks a memory monitor whether a
 * cached registration still maps the memory it was made for. umn_ofi_import()
 * gives libfabric umn's monitor through libfabric's import interface
 * (fi_import, rdma/fi_ext.h), in place of its own memhooks or userfaultfd
 * monitor, for every domain opened afterwards:
 *
 *   struct umn_ofi_params p = { sizeof p, UMN_MONITOR_KERNEL, 0 };
 *   umn_ofi_import(&p);          before fi_domain(); once per process
 *   fi_getinfo(...); fi_fabric(...); fi_domain(...); ... fi_mr_reg(...)
 *
 * A program that cannot be changed gets the same from the libfabric plugin
 * that umn installs: FI_PROVIDER_PATH=$(dir of libumn-fi.so) ./program (see
 * umn_ofi_plugin_dir()); UMN_MONITOR picks the monitor there.
 *
 * libumn resolves libfabric with dlopen at the first call, so -lumn adds no
 * dependency on libfabric and this header needs none of its headers.
 * Functions return 0 or a negative errno, as everywhere in umn.
 */
#ifndef UMN_OFI_H
#define UMN_OFI_H

#include <umn/umn.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umn_ofi_params {
    size_t struct_size;       /* sizeof(struct umn_ofi_params) */
    enum umn_monitor monitor; /* AUTO by default (UMN_MONITOR overrides AUTO) */
    size_t max_subscriptions; /* live umn registrations kept for libfabric;
                                 0 = 16384. Beyond it the oldest is dropped and
                                 libfabric told to forget that range. */
};

/*
 * Imports umn's monitor into libfabric (process wide, for the rest of the
 * process's life). -EBUSY: libfabric already has an imported monitor, or a
 * domain with a registration cache is open (import before fi_domain);
 * -EALREADY: umn's monitor is imported already; -ENOTSUP: libfabric cannot be
 * loaded, or libumn was built without libfabric's headers; -EINVAL: a
 * struct_size this library cannot read; else the error of umn_notifier_open.
 */
int umn_ofi_import(const struct umn_ofi_params *p /* NULL = defaults */);

/* What the imported monitor did (all zero and -ENOENT before an import). */
struct umn_ofi_stats {
    enum umn_monitor monitor;    /* the umn monitor in use */
    uint64_t subscribes;         /* subscribe calls from libfabric */
    uint64_t subscribe_failures; /* subscribes answered with an error */
    uint64_t unsubscribes;       /* unsubscribe calls (libfabric >= 2.1 only) */
    uint64_t slow_checks;        /* valid calls made while an invalidation was
                                    not yet delivered (the others cost one load) */
    uint64_t invalid_answers;    /* valid calls answered false */
    uint64_t invalidations;      /* ranges umn invalidated */
    uint64_t evictions;          /* registrations dropped at max_subscriptions */
    uint64_t notifies;           /* notify calls made into libfabric */
    uint64_t live;               /* umn registrations held now */
};
int umn_ofi_get_stats(struct umn_ofi_stats *out);

/*
 * The libfabric version libumn was built against, as FI_VERSION(major, minor)
 * ((major << 16) | minor), or 0 when it was built without libfabric.
 */
uint32_t umn_ofi_built_for(void);

/*
 * The directory that holds the plugin (libumn-fi.so) once umn is installed:
 * FI_PROVIDER_PATH=<this> makes libfabric load it. The plugin exists there
 * only when libumn was built with libfabric's headers.
 */
const char *umn_ofi_plugin_dir(void);
#define UMN_OFI_PLUGIN_NAME "libumn-fi.so"

#ifdef __cplusplus
}
#endif

#endif /* UMN_OFI_H */
