// The pieces of tokenisation the model's source encoding is built from
// (src/model/vocab.cpp); Model::encode_source and Model::decode_target are
// defined there too.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/config.hpp"

namespace seqattn::model {

// Where one source token lies in the text: bytes [offset, offset + length).
struct Span {
  size_t offset, length;
};

// The source tokens of `text` in order, as `tokenization` splits it: one per
// UTF-8 code point (a byte that does not start a well-formed sequence is a
// token of its own), or the runs between ASCII whitespace. The one splitter
// behind Model::encode_source and seqattn_model_source_spans, so token i of
// one is span i of the other. Lower-casing changes no byte offset.
std::vector<Span> source_spans(const std::string& text, Tokenization tokenization);

}  // namespace seqattn::model
