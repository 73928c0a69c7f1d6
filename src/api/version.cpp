// SPDX-License-Identifier: BSD-3-Clause
// umn_version(): the project version CMake compiled in (src/CMakeLists.txt).
#include <umn/umn.h>

extern "C" const char *umn_version(void) {
    return UMN_PROJECT_VERSION;
}
