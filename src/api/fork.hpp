// SPDX-License-Identifier: BSD-3-Clause
// Which process a notifier or cache belongs to (fork.cpp states how a child
// is noticed, after fork() and after a raw clone).
#pragma once

#include <cstdint>

struct umn_notifier;

namespace umn {

// Installs the fork handlers, once; called before any process-wide monitor
// state is made, so that every child resets it. 0, or the error that keeps
// notifiers from opening (-ENOSYS: no MADV_WIPEONFORK).
int install_fork_handlers();

// A counter bumped in every child; an object from an older epoch belongs to
// an ancestor.
uint64_t fork_epoch();

// fork.cpp's list of open notifiers, whose generations it retires in a child.
int registry_add(umn_notifier *n);  // 0, or -ENOSYS without MADV_WIPEONFORK
void registry_remove(umn_notifier *n);

}  // namespace umn
