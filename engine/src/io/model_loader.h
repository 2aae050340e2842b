// Loads a model directory (model.json + model.safetensors) into a validated
// ModelImpl. Every defect is a skein::Error naming the file, node and field.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "graph/model_impl.h"

namespace skein {

/// The newest model.json format_version this engine reads.
inline constexpr int kModelFormatVersion = 1;

std::unique_ptr<ModelImpl> load_model(const std::string& dir);

/// Validates an already-parsed model.json against already-opened weights.
/// `json_path` is used in messages. Separate from load_model for tests and fuzzing.
std::unique_ptr<ModelImpl> build_model(const nlohmann::json& doc, const std::string& json_path,
                                       SafetensorsFile weights);

}  // namespace skein
