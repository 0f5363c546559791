// Tokenisation of docs/model-format.md: source text to ids (UTF-8 code points
// or whitespace-separated words), target ids back to text.
#include "model/vocab.hpp"

#include "model/model.hpp"

namespace seqattn::model {

namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Length of the UTF-8 sequence starting at s[i], or 1 for a byte that does not
// start a well-formed one (it then becomes a token of its own, most likely unk).
size_t utf8_length(const std::string& s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t n = lead < 0x80           ? 1
                   : (lead >> 5) == 0x6  ? 2
                   : (lead >> 4) == 0xE  ? 3
                   : (lead >> 3) == 0x1E ? 4
                                         : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 1;
  return n;
}

}  // namespace

std::vector<Span> source_spans(const std::string& s, Tokenization tokenization) {
  std::vector<Span> spans;
  if (tokenization == Tokenization::kChars) {
    for (size_t i = 0; i < s.size();) {
      const size_t n = utf8_length(s, i);
      spans.push_back({i, n});
      i += n;
    }
  } else {
    for (size_t i = 0; i < s.size();) {
      while (i < s.size() && is_ascii_space(s[i])) ++i;
      size_t j = i;
      while (j < s.size() && !is_ascii_space(s[j])) ++j;
      if (j > i) spans.push_back({i, j - i});
      i = j;
    }
  }
  return spans;
}

std::vector<int32_t> Model::encode_source(const std::string& text) const {
  std::string s = text;
  if (config_.lowercase_source)
    for (char& ch : s)
      if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');

  std::vector<int32_t> ids;
  for (const Span& span : source_spans(s, config_.tokenization)) {
    const auto it = source_index_.find(s.substr(span.offset, span.length));
    ids.push_back(it == source_index_.end() ? config_.source_unk : it->second);
  }
  return ids;
}

std::string Model::decode_target(const int32_t* ids, size_t count) const {
  std::string text;
  bool first = true;
  for (size_t i = 0; i < count; ++i) {
    const int32_t id = ids[i];
    if (id == config_.target_pad || id == config_.target_start || id == config_.target_end)
      continue;
    if (config_.tokenization == Tokenization::kWords && !first) text += ' ';
    text += config_.target_vocab[size_t(id)];
    first = false;
  }
  return text;
}

}  // namespace seqattn::model
