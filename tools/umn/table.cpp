// SPDX-License-Identifier: BSD-3-Clause
#include "table.hpp"

#include <algorithm>

namespace umn::cli {

namespace {

// Where to cut a word longer than `width`: after the last '(', '/' or ','
// that keeps the piece within `width` and past its first half, else after
// such a '_', else at `width`.
size_t cut_point(const std::string &word, size_t width) {
    for (const char *marks : {"(/,", "_"}) {
        size_t at = word.find_last_of(marks, width - 1);
        if (at != std::string::npos && at + 1 > width / 2) return at + 1;
    }
    return width;
}

}  // namespace

std::vector<std::string> wrap(const std::string &text, size_t width) {
    width = std::max<size_t>(width, 1);
    std::vector<std::string> lines(1);
    size_t pos = 0;
    while (pos < text.size()) {
        if (text[pos] == ' ') {
            ++pos;
            continue;
        }
        size_t end = std::min(text.find(' ', pos), text.size());
        std::string word = text.substr(pos, end - pos);
        pos = end;
        std::string &last = lines.back();
        if (!last.empty() && last.size() + 1 + word.size() <= width) {
            last += ' ' + word;
            continue;
        }
        if (!last.empty()) lines.emplace_back();
        for (size_t cut; word.size() > width; word.erase(0, cut)) {
            cut = cut_point(word, width);
            lines.back() = word.substr(0, cut);
            lines.emplace_back();
        }
        lines.back() = word;
    }
    return lines;
}

std::string paragraph(const std::string &first, const std::string &text) {
    size_t indent = std::min(first.size(), line_width / 2);
    std::string out;
    for (const std::string &l : wrap(text, line_width - indent))
        out += (out.empty() ? first : std::string(indent, ' ')) + l + "\n";
    return out;
}

table::table(std::vector<column> columns, size_t indent, size_t gap)
    : columns_(std::move(columns)), indent_(indent), gap_(gap) {}

void table::row(std::vector<std::string> cells) {
    cells.resize(columns_.size());
    lines_.push_back({std::move(cells), {}});
}

void table::note(const std::string &text) {
    lines_.push_back({{}, text});
}

// Each column as wide as its widest cell or title, up to its max_width; the
// last column takes what is left of line_width (at least its title).
std::vector<size_t> table::widths() const {
    std::vector<size_t> w(columns_.size());
    size_t used = indent_;
    for (size_t i = 0; i + 1 < columns_.size(); ++i) {
        w[i] = columns_[i].title.size();
        for (const line &l : lines_)
            if (!l.cells.empty()) w[i] = std::max(w[i], l.cells[i].size());
        w[i] = std::min(w[i], columns_[i].max_width);
        used += w[i] + gap_;
    }
    size_t last_min = std::max<size_t>(columns_.back().title.size(), 8);
    w.back() = used + last_min <= line_width ? line_width - used : last_min;
    return w;
}

std::string table::render_row(const std::vector<std::string> &cells,
                              const std::vector<size_t> &widths) const {
    std::vector<std::vector<std::string>> wrapped;
    size_t height = 0;
    for (size_t i = 0; i < cells.size(); ++i) {
        wrapped.push_back(wrap(cells[i], widths[i]));
        height = std::max(height, wrapped.back().size());
    }
    std::string out;
    for (size_t h = 0; h < height; ++h) {
        std::string text(indent_, ' ');
        for (size_t i = 0; i < cells.size(); ++i) {
            std::string cell = h < wrapped[i].size() ? wrapped[i][h] : "";
            if (columns_[i].right)
                cell.insert(0, widths[i] - std::min(widths[i], cell.size()), ' ');
            if (i + 1 < cells.size()) cell.resize(widths[i] + gap_, ' ');
            text += cell;
        }
        text.erase(text.find_last_not_of(' ') + 1);
        out += text + "\n";
    }
    return out;
}

std::string table::render() const {
    std::vector<size_t> w = widths();
    std::string out;
    bool titles = std::any_of(columns_.begin(), columns_.end(),
                              [](const column &c) { return !c.title.empty(); });
    if (titles) {
        std::vector<std::string> t;
        for (const column &c : columns_) t.push_back(c.title);
        out += render_row(t, w);
    }
    std::string note_indent(indent_ + 4, ' ');
    for (const line &l : lines_)
        out += l.cells.empty() ? paragraph(note_indent, l.note) : render_row(l.cells, w);
    return out;
}

}  // namespace umn::cli
