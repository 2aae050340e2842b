// V-mean: every output row of a sequence and head is the mean of V over the
// sequence's tokens (the trivial baseline of the Skeinformer paper).
#pragma once

#include <span>
#include <string>

#include "attention/attention.h"

namespace skein {

class VMeanAttention : public AttentionMethod {
 public:
  std::string name() const override { return "vmean"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
};

}  // namespace skein
