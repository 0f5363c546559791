#include "attention_map.hpp"

#include <algorithm>

namespace cli {
namespace {

// Terminal columns of a UTF-8 string, counting one per code point (the labels
// are letters, digits and punctuation).
size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string visible(const std::string& label) { return label == " " ? "\u2423" : label; }

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string pad_right(const std::string& s, size_t w) {
  return s + std::string(w - std::min(w, width(s)), ' ');
}
std::string pad_left(const std::string& s, size_t w) {
  return std::string(w - std::min(w, width(s)), ' ') + s;
}

// Thresholds chosen so that a weight that matters shows: a uniform spread over
// 20 positions (0.05 each) is still visible, a confident one (> 0.75) is solid.
const char* shade(float w) {
  if (w >= 0.75f) return "\u2588";  // █
  if (w >= 0.5f) return "\u2593";   // ▓
  if (w >= 0.25f) return "\u2592";  // ▒
  if (w >= 0.05f) return "\u2591";  // ░
  return " ";
}

}  // namespace

std::string attention_map(const std::vector<std::string>& row_labels,
                          const std::vector<std::string>& col_labels, const float* weights,
                          size_t stride) {
  std::vector<size_t> cw(col_labels.size());
  size_t inner = 0;
  for (size_t j = 0; j < col_labels.size(); ++j) {
    cw[j] = std::max<size_t>(2, width(visible(col_labels[j])) + 1);
    inner += cw[j];
  }
  size_t lw = 6;  // "output"
  for (const std::string& r : row_labels) lw = std::max(lw, width(visible(r)));

  std::string out = std::string(lw + 3, ' ');
  for (size_t j = 0; j < col_labels.size(); ++j) out += pad_right(visible(col_labels[j]), cw[j]);
  out += " \u2190 input\n";
  out += std::string(lw + 1, ' ') + "\u250C" + repeat("\u2500", inner + 2) + "\u2510\n";
  for (size_t i = 0; i < row_labels.size(); ++i) {
    out += pad_left(visible(row_labels[i]), lw) + " \u2502 ";
    for (size_t j = 0; j < col_labels.size(); ++j)
      out += repeat(shade(weights[i * stride + j]), cw[j]);
    out += " \u2502\n";
  }
  out += std::string(lw + 1, ' ') + "\u2514" + repeat("\u2500", inner + 2) + "\u2518\n";
  out += std::string(lw - 1, ' ') + "\u2191 output    \u2591 \u2265 0.05  \u2592 \u2265 0.25  " +
         "\u2593 \u2265 0.50  \u2588 \u2265 0.75\n";
  return out;
}

}  // namespace cli
