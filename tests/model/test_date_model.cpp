// The default model, models/date_model.safetensors, through the C API: fixed
// dates in every input format with their answers written out here, and the
// held-out set of tests/fixtures/date_heldout.tsv (never seen in training),
// which must come out >= 99% exactly right: on the fast CPU path, on the
// reference and on CUDA (skipped without a GPU). Skips, naming the file, while
// the model or the held-out set is absent.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "model_test_util.hpp"

namespace {

using namespace model_test;

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// Greedy translations of `texts` in one batch, tokenised by the model.
std::vector<std::string> translate(seqattn_handle h, seqattn_model m,
                                   const std::vector<std::string>& texts) {
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  EXPECT_EQ(seqattn_model_get_info(m, &info), SEQATTN_OK) << last_error();
  std::vector<std::vector<int32_t>> ids;
  int32_t ts = 1;
  for (const std::string& t : texts) {
    int32_t n = 0;
    EXPECT_EQ(seqattn_model_encode_source(m, t.c_str(), nullptr, 0, &n), SEQATTN_OK);
    std::vector<int32_t> row(size_t(n) + 1);
    EXPECT_EQ(seqattn_model_encode_source(m, t.c_str(), row.data(), n + 1, &n), SEQATTN_OK);
    row.resize(size_t(n));
    ts = std::max(ts, n);
    ids.push_back(row);
  }
  const auto batch = int32_t(texts.size());
  const int32_t steps = info.max_target_len;
  std::vector<int32_t> src(size_t(batch) * size_t(ts), info.source_pad), lengths;
  for (size_t b = 0; b < ids.size(); ++b) {
    std::copy(ids[b].begin(), ids[b].end(), src.begin() + long(b * size_t(ts)));
    lengths.push_back(int32_t(ids[b].size()));
  }
  std::vector<int32_t> out(size_t(batch) * size_t(steps));  // [B, steps]
  std::vector<int32_t> out_len(static_cast<size_t>(batch));
  EXPECT_EQ(seqattn_model_translate(h, m, batch, ts, src.data(), lengths.data(), steps, out.data(),
                                    out_len.data(), nullptr),
            SEQATTN_OK)
      << last_error();
  std::vector<std::string> result;
  for (size_t b = 0; b < texts.size(); ++b) {
    char text[256];
    size_t n = 0;
    EXPECT_EQ(seqattn_model_decode_target(m, out.data() + b * size_t(steps), out_len[b], text,
                                          sizeof text, &n),
              SEQATTN_OK)
        << last_error();
    result.emplace_back(text, n);
  }
  return result;
}

class DateModel : public ::testing::TestWithParam<seqattn_device> {
 protected:
  void SetUp() override {
    if (!exists(SEQATTN_DATE_MODEL))
      GTEST_SKIP() << "the default model " SEQATTN_DATE_MODEL " is missing";
    if (!device_available(GetParam()))
      GTEST_SKIP() << "no CUDA device (seqattn_cuda_device_count() == 0)";
    handle_ = std::make_unique<HandleOwner>(GetParam());
    ASSERT_EQ(handle_->status, SEQATTN_OK) << last_error();
    ASSERT_EQ(seqattn_model_load(handle_->h, SEQATTN_DATE_MODEL, &model_.m), SEQATTN_OK)
        << last_error();
  }
  void TearDown() override {
    seqattn_model_destroy(model_.m);
    model_.m = nullptr;
  }
  std::unique_ptr<HandleOwner> handle_;
  ModelOwner model_;
};

TEST_P(DateModel, FixedDates) {
  // Every input format of the issue, several letter cases, both ends of the years.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"21 November 2026", "2026-11-21"},
      {"21 Nov 2026", "2026-11-21"},
      {"November 21, 2026", "2026-11-21"},
      {"Nov 21, 2026", "2026-11-21"},
      {"Nov 21 2026", "2026-11-21"},
      {"21/11/2026", "2026-11-21"},
      {"2026-11-21", "2026-11-21"},
      {"Saturday, 21 November 2026", "2026-11-21"},
      {"Saturday, November 21, 2026", "2026-11-21"},
      {"21.11.2026", "2026-11-21"},
      {"SATURDAY, NOVEMBER 21, 2026", "2026-11-21"},
      {"1 jan 1900", "1900-01-01"},
      {"december 31, 2099", "2099-12-31"},
      {"Tuesday, 29 February 2000", "2000-02-29"},
      {"4 JULY 1976", "1976-07-04"},
      {"20.07.1969", "1969-07-20"},
  };
  std::vector<std::string> inputs;
  for (const auto& c : cases) inputs.push_back(c.first);
  const std::vector<std::string> got = translate(handle_->h, model_.m, inputs);
  ASSERT_EQ(got.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(got[i], cases[i].second) << "input \"" << cases[i].first << "\"";
}

TEST_P(DateModel, HeldOutAtLeast99Percent) {
  const std::string path = SEQATTN_FIXTURES_DIR "/date_heldout.tsv";
  std::ifstream f(path);
  if (!f) GTEST_SKIP() << "the held-out set " << path << " is missing";
  std::vector<std::string> inputs, expected;
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << "no TAB in line: " << line;
    inputs.push_back(line.substr(0, tab));
    expected.push_back(line.substr(tab + 1));
  }
  ASSERT_GE(inputs.size(), 100u) << path << " holds too few examples to measure 99%";
  std::vector<std::string> got;
  for (size_t first = 0; first < inputs.size(); first += 500) {  // batches of 500
    const std::vector<std::string> chunk(
        inputs.begin() + long(first), inputs.begin() + long(std::min(inputs.size(), first + 500)));
    const std::vector<std::string> out = translate(handle_->h, model_.m, chunk);
    got.insert(got.end(), out.begin(), out.end());
  }
  size_t correct = 0, shown = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (got[i] == expected[i]) {
      ++correct;
    } else if (shown++ < 10) {  // up to 1% may miss; list the first few
      std::printf("miss: \"%s\" -> \"%s\", expected \"%s\"\n", inputs[i].c_str(), got[i].c_str(),
                  expected[i].c_str());
    }
  }
  const double accuracy = double(correct) / double(inputs.size());
  RecordProperty("heldout_accuracy", std::to_string(accuracy));
  std::printf("held-out exact match: %zu of %zu (%.2f%%)\n", correct, inputs.size(),
              100.0 * accuracy);
  EXPECT_GE(accuracy, 0.99) << correct << " of " << inputs.size() << " exactly right";
}

INSTANTIATE_TEST_SUITE_P(Devices, DateModel, ::testing::ValuesIn(all_devices()),
                         [](const auto& p) { return device_name(p.param); });

}  // namespace
