#include "ursa/classify.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ursa {

std::vector<float> softmax(const std::vector<float>& logits) {
    std::vector<float> out(logits.size());
    if (logits.empty()) return out;
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (size_t i = 0; i < logits.size(); ++i) sum += out[i] = std::exp(logits[i] - max);
    for (float& v : out) v = static_cast<float>(v / sum);
    return out;
}

std::vector<Scored> top_k(const std::vector<float>& probs, int k) {
    std::vector<int> order(probs.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t n = std::min(order.size(), static_cast<size_t>(std::max(k, 0)));
    std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int a, int b) {
        return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
    });
    std::vector<Scored> out;
    for (size_t i = 0; i < n; ++i) out.push_back({order[i], probs[order[i]]});
    return out;
}

}  // namespace ursa
