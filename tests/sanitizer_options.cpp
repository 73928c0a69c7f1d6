// SPDX-License-Identifier: BSD-3-Clause
// Sanitizer defaults for the test binary. The fork tests open a notifier in
// the child of a threaded process, which starts the monitor thread there; TSan
// allows threads after a multi-threaded fork only with die_after_fork=0.
#if defined(__SANITIZE_THREAD__)
extern "C" const char *__tsan_default_options() {
    return "die_after_fork=0:halt_on_error=1:second_deadlock_stack=1";
}
#endif
