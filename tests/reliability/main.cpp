// SPDX-License-Identifier: BSD-3-Clause
// gtest main for the reliability tests: every test runs under the watchdog.
#include "watchdog.hpp"

#include <gtest/gtest.h>

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    umn::reliability::install_watchdog_listener();
    return RUN_ALL_TESTS();
}
