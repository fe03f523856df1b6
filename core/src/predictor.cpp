#include "ursa/predictor.h"

#include "ursa/classify.h"

namespace ursa {

Result<Predictor> Predictor::load(const uint8_t* data, size_t size) {
    auto info = read_model_info(data, size);
    if (!info) return info.error();
    auto engine = Engine::load(data, size);
    if (!engine) return engine.error();
    const auto& shape = (*engine)->input_shape();
    if (shape.size() != 4 || (shape[1] != -1 && shape[1] != 3))
        return make_error("model input must be [N,3,H,W] float; this model's input has rank " +
                          std::to_string(shape.size()));
    if ((shape[2] > 0 && shape[2] != info->input.height) || (shape[3] > 0 && shape[3] != info->input.width))
        return make_error("model input is " + std::to_string(shape[2]) + "x" + std::to_string(shape[3]) +
                          " but ursa.input says " + std::to_string(info->input.height) + "x" +
                          std::to_string(info->input.width));
    Predictor p;
    p.info_ = std::move(*info);
    p.engine_ = *engine;
    return p;
}

Result<std::vector<LabelProb>> Predictor::classify(const uint8_t* data, size_t size, int k,
                                                   const DecodeOptions& options) const {
    auto chw = preprocess(data, size, info_.input, options);
    if (!chw) return chw.error();
    Tensor input{{1, 3, info_.input.height, info_.input.width}, std::move(*chw)};
    auto out = engine_->run(input);
    if (!out) return out.error();
    if (out->data.size() != info_.labels.size())
        return make_error("model has " + std::to_string(out->data.size()) + " outputs but " +
                          std::to_string(info_.labels.size()) + " labels in ursa.labels");
    std::vector<LabelProb> result;
    for (const Scored& s : top_k(softmax(out->data), k)) result.push_back({info_.labels[s.index], s.prob});
    return result;
}

}  // namespace ursa
