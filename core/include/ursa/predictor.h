// The whole native classification path: ONNX model (with Ursa metadata) + image
// bytes → top-k labels with softmax probabilities. Same preprocessing as training.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ursa/engine.h"
#include "ursa/model_info.h"

namespace ursa {

struct LabelProb {
    std::string label;
    float prob = 0.f;
};

class Predictor {
  public:
    // Reads metadata and plans the engine; errors name what is missing or unsupported.
    static Result<Predictor> load(const uint8_t* data, size_t size);

    const ModelInfo& info() const { return info_; }
    // Top-k predictions for one encoded image, highest first.
    Result<std::vector<LabelProb>> classify(const uint8_t* data, size_t size, int k,
                                            const DecodeOptions& options = {}) const;

  private:
    ModelInfo info_;
    std::shared_ptr<Engine> engine_;
};

}  // namespace ursa
