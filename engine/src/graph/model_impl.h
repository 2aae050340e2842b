// What a loaded Model holds: validated config and graph, and the mapped weights
// the graph points into.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "graph/tokenizer.h"
#include "io/safetensors.h"
#include "skein/model.h"

namespace skein {

struct ModelImpl {
  explicit ModelImpl(SafetensorsFile file) : weights(std::move(file)) {}

  std::string path;
  std::string name;
  ModelConfig config;
  std::vector<std::string> labels;  // empty or num_classes entries
  Tokenizer tokenizer;
  nlohmann::json attention;         // the "attention" spec of model.json
  SafetensorsFile weights;          // must outlive graph (graph points into it)
  Graph graph;
};

}  // namespace skein
