// SPDX-License-Identifier: BSD-3-Clause
// Text output of the umn tools: word wrapping and tables that fit a terminal
// of `line_width` columns (cells wrap inside their column; a note under a row
// wraps across the whole width).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace umn::cli {

inline constexpr size_t line_width = 100;

// `text` broken at spaces into lines of at most `width` characters; a word
// longer than `width` is cut, after a '(', '/', ',' (else '_') where there is one.
// Never empty: "" gives one empty line.
std::vector<std::string> wrap(const std::string &text, size_t width);

// `text` wrapped to `line_width`, the first line after `first`, the others
// indented by `first.size()` spaces; ends with a newline.
std::string paragraph(const std::string &first, const std::string &text);

class table {
  public:
    struct column {
        std::string title;   // "" for every column: no title line
        size_t max_width;    // the widest this column gets; the last column takes the rest
        bool right = false;  // right-aligned (numbers)
    };
    // Rows start after `indent` spaces; columns are `gap` spaces apart.
    table(std::vector<column> columns, size_t indent = 0, size_t gap = 1);

    void row(std::vector<std::string> cells);
    // A line under the last row, indented by `indent` + 4, wrapped.
    void note(const std::string &text);
    std::string render() const;

  private:
    struct line {
        std::vector<std::string> cells;  // empty: a note
        std::string note;
    };
    std::vector<size_t> widths() const;
    std::string render_row(const std::vector<std::string> &cells,
                           const std::vector<size_t> &widths) const;

    std::vector<column> columns_;
    size_t indent_;
    size_t gap_;
    std::vector<line> lines_;
};

}  // namespace umn::cli
