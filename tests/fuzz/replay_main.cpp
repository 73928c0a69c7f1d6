// SPDX-License-Identifier: BSD-3-Clause
// Runs fuzz inputs without libFuzzer (any compiler): each argument is a file
// or a directory of files, fed to LLVMFuzzerTestOneInput in turn. The seed
// corpus runs this way in every build; clang builds get the real fuzzer.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

void run_file(const std::filesystem::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                               std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
}

}  // namespace

int main(int argc, char **argv) {
    size_t runs = 0;
    for (int i = 1; i < argc; ++i) {
        std::filesystem::path arg(argv[i]);
        if (std::filesystem::is_directory(arg)) {
            for (const auto &e : std::filesystem::directory_iterator(arg))
                if (e.is_regular_file()) run_file(e.path()), ++runs;
        } else {
            run_file(arg), ++runs;
        }
    }
    std::printf("replayed %zu inputs\n", runs);
    return runs ? 0 : 1;
}
