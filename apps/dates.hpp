// Dates written the ways people write them, for `seqattn demo`: the ten input
// formats the default model was trained on, and the ISO 8601 form it outputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cli {

struct Date {
  int year, month, day;  // 1900..2099, 1..12, 1..days in month
};

inline constexpr int kDateFormats = 10;

// format in [0, kDateFormats): "21 November 2026", "21 Nov 2026", "November 21, 2026",
// "Nov 21, 2026", "Nov 21 2026", "21/11/2026", "2026-11-21",
// "Saturday, 21 November 2026", "Saturday, November 21, 2026", "21.11.2026".
std::string format_date(const Date& date, int format);
std::string iso_date(const Date& date);  // "2026-11-21"

struct DateExample {
  std::string input, expected;
};

// `count` dates from a fixed seed, every format in turn, random letter case for
// the formats with words.
std::vector<DateExample> random_dates(size_t count, uint32_t seed);

}  // namespace cli
