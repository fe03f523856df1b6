// Turning logits into labelled probabilities.
#pragma once
#include <string>
#include <vector>

namespace ursa {

// Numerically stable softmax (subtracts the maximum first).
std::vector<float> softmax(const std::vector<float>& logits);

struct Scored {
    int index = 0;
    float prob = 0.f;
};

// The k highest probabilities, highest first; ties keep the lower index first.
std::vector<Scored> top_k(const std::vector<float>& probs, int k);

}  // namespace ursa
