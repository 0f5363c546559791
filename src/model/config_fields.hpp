// Reading the config JSON of a model file (docs/model-format.md), shared by
// both model kinds (config.cpp, sequence_head.cpp): every error is a
// SEQATTN_ERROR_FORMAT naming the __metadata__ key or the config field by its
// path ("encoder.units", "rnn[0].units").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "model/safetensors.hpp"

namespace seqattn::model::fields {

[[noreturn]] void format_error(const std::string& message);

// The __metadata__ value of `key`; refused when missing.
std::string metadata_value(const st::File& file, const char* key);

// __metadata__ "config" parsed in time linear in its length, with the
// header's rules (no raw NUL, no repeated key) and nesting bounded: a valid
// config nests three levels, a hostile one could nest deep enough to make
// recursive walks over it overflow the stack. Refused unless an object.
nlohmann::json parse_config_text(const st::File& file);

const nlohmann::json& field(const nlohmann::json& object, const char* key,
                            const std::string& path);
const nlohmann::json& get_object(const nlohmann::json& object, const char* key,
                                 const std::string& path);
int32_t get_int(const nlohmann::json& object, const char* key, const std::string& path,
                int64_t lo, int64_t hi);
bool get_bool(const nlohmann::json& object, const char* key, const std::string& path);
std::string get_string(const nlohmann::json& object, const char* key, const std::string& path);

}  // namespace seqattn::model::fields
