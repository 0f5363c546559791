// Attention weights drawn in the terminal: one row per output token, one column
// per input token, each cell shaded ░ ▒ ▓ █ by its weight.
#pragma once

#include <string>
#include <vector>

namespace cli {

// weights: [rows, cols] with row stride `stride` (>= cols). Labels are UTF-8; a
// space is drawn as ␣ so that it can be seen.
std::string attention_map(const std::vector<std::string>& row_labels,
                          const std::vector<std::string>& col_labels, const float* weights,
                          size_t stride);

}  // namespace cli
