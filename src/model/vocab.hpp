// The pieces of tokenisation the model's source encoding is built from
// (src/model/vocab.cpp); Model::encode_source and Model::decode_target are
// defined there too.
#pragma once

#include <cstddef>
#include <string>

namespace seqattn::model {

bool is_ascii_space(char c);

// Length of the UTF-8 sequence starting at s[i], or 1 for a byte that does not
// start a well-formed one (it then becomes a token of its own, most likely unk).
size_t utf8_length(const std::string& s, size_t i);

}  // namespace seqattn::model
