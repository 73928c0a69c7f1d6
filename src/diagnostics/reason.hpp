// SPDX-License-Identifier: BSD-3-Clause
// Why the last failing umn call in this thread failed (umn_last_error()).
//
// A failure site records a reason with fail(); the C API function that
// returns the failure calls finish(), which records a generic reason if
// nothing on the way did. The reason lives in a fixed thread-local buffer:
// recording one never allocates, and nothing is written on success.
#pragma once

#include <cstddef>

namespace umn {

// Records a reason for the failure `rc` (a negative errno) and returns rc.
int fail(int rc, const char *format, ...) __attribute__((format(printf, 2, 3)));

// A mark that changes whenever a reason is recorded in this thread.
unsigned reason_mark();

// At a C API boundary: for rc < 0 with no reason recorded since `mark`,
// records "<call>: <umn_strerror(rc)>". Returns rc.
long finish(long rc, unsigned mark, const char *call);

// The current reason, "" if none was recorded in this thread.
const char *last_reason();

// Formats a byte count as "8 MiB", "1.5 GiB", "4096 bytes" into buf.
const char *format_bytes(size_t bytes, char *buf, size_t size);

}  // namespace umn
