// SPDX-License-Identifier: BSD-3-Clause
#include "core/checked_mutex.hpp"

#if UMN_DEBUG_LOCKS
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace umn {

// write(2) and abort(): also from a hooked call or a signal handler.
void lock_not_held(const char *lock, const char *function) {
    const char *parts[] = {"umn: ", function, " runs without holding ", lock,
                           ", which its caller must hold\n"};
    for (const char *p : parts) {
        ssize_t n = write(STDERR_FILENO, p, strlen(p));
        (void)n;
    }
    abort();
}

}  // namespace umn
#endif
