#include "dates.hpp"

#include <cctype>
#include <cstdio>

namespace cli {
namespace {

const char* const kMonths[] = {"January",   "February", "March",    "April",
                               "May",       "June",     "July",     "August",
                               "September", "October",  "November", "December"};
const char* const kWeekdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// 0 = Sunday (Sakamoto's method).
int weekday(const Date& d) {
  static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  const int y = d.month < 3 ? d.year - 1 : d.year;
  return (y + y / 4 - y / 100 + y / 400 + t[d.month - 1] + d.day) % 7;
}

std::string printf_string(const char* fmt, int a, int b, int c) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace

std::string iso_date(const Date& d) {
  return printf_string("%04d-%02d-%02d", d.year, d.month, d.day);
}

std::string format_date(const Date& d, int format) {
  const std::string month = kMonths[d.month - 1], mon = month.substr(0, 3);
  const std::string day = std::to_string(d.day), year = std::to_string(d.year);
  const std::string wday = kWeekdays[weekday(d)];
  switch (format) {
    case 0:
      return day + " " + month + " " + year;
    case 1:
      return day + " " + mon + " " + year;
    case 2:
      return month + " " + day + ", " + year;
    case 3:
      return mon + " " + day + ", " + year;
    case 4:
      return mon + " " + day + " " + year;
    case 5:
      return printf_string("%02d/%02d/%04d", d.day, d.month, d.year);
    case 6:
      return iso_date(d);
    case 7:
      return wday + ", " + day + " " + month + " " + year;
    case 8:
      return wday + ", " + month + " " + day + ", " + year;
    default:
      return printf_string("%02d.%02d.%04d", d.day, d.month, d.year);
  }
}

std::vector<DateExample> random_dates(size_t count, uint32_t seed) {
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  const auto next = [&state](uint32_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t((state >> 33) % n);
  };
  std::vector<DateExample> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Date d{};
    d.year = 1900 + int(next(200));
    d.month = 1 + int(next(12));
    d.day = 1 + int(next(uint32_t(days_in_month(d.year, d.month))));
    std::string text = format_date(d, int(i % kDateFormats));
    const uint32_t letter_case = next(3);  // as written, lower, upper
    for (char& ch : text)
      ch = letter_case == 1   ? char(std::tolower(static_cast<unsigned char>(ch)))
           : letter_case == 2 ? char(std::toupper(static_cast<unsigned char>(ch)))
                              : ch;
    out.push_back({text, iso_date(d)});
  }
  return out;
}

}  // namespace cli
