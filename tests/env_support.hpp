// SPDX-License-Identifier: BSD-3-Clause
// Setting a UMN_* variable for one test: the options table is read again.
#pragma once

#include "config/options.hpp"

#include <cstdlib>
#include <optional>
#include <string>

namespace umn::test {

// Sets (or unsets, for nullptr) a variable and re-reads the options; restores
// both at scope exit.
class scoped_env {
  public:
    scoped_env(const char *name, const char *value) : name_(name) {
        if (const char *old = std::getenv(name)) old_ = old;
        value ? setenv(name, value, 1) : unsetenv(name);
        reload_options_for_test();
    }
    ~scoped_env() {
        old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_);
        reload_options_for_test();
    }
    scoped_env(const scoped_env &) = delete;
    scoped_env &operator=(const scoped_env &) = delete;

  private:
    const char *name_;
    std::optional<std::string> old_;
};

}  // namespace umn::test
