#include <chrono>
#include <cstdio>

#include "ursa/commands.h"
#include "ursa/engine.h"
#include "ursa/io.h"
#include "ursa/json.h"
#include "ursa/predictor.h"

namespace ursa {

namespace {

std::string json_entry(const std::string& file, const Result<std::vector<LabelProb>>& r) {
    if (!r) return "{\"file\":" + json::quote(file) + ",\"error\":" + json::quote(r.error().message) + "}";
    std::string top = "[";
    for (size_t i = 0; i < r->size(); ++i)
        top += (i ? "," : "") + std::string("{\"label\":") + json::quote((*r)[i].label) +
               ",\"prob\":" + json::number((*r)[i].prob) + "}";
    top += "]";
    return "{\"file\":" + json::quote(file) + ",\"label\":" + json::quote(r->front().label) +
           ",\"prob\":" + json::number(r->front().prob) + ",\"top\":" + top + "}";
}

}  // namespace

int predict(const PredictOptions& o) {
    auto bytes = read_file(o.model);
    if (!bytes) {
        std::fprintf(stderr, "error: model: %s\n", bytes.error().message.c_str());
        return 2;
    }
    auto predictor = Predictor::load(bytes->data(), bytes->size());
    if (!predictor) {
        std::fprintf(stderr, "error: %s: %s\n", o.model.c_str(), predictor.error().message.c_str());
        return 2;
    }
    const int threads = set_engine_threads(o.threads);
    const DecodeOptions decode{o.max_pixels};
    int failed = 0;
    const auto t0 = std::chrono::steady_clock::now();
    if (o.json) std::printf("[");
    for (size_t i = 0; i < o.files.size(); ++i) {
        const std::string& file = o.files[i];
        auto image = read_file(file);
        Result<std::vector<LabelProb>> r =
            image ? predictor->classify(image->data(), image->size(), o.top, decode) : Result<std::vector<LabelProb>>(image.error());
        if (!r) ++failed;
        if (o.json) {
            std::printf("%s%s", i ? ",\n " : "", json_entry(file, r).c_str());
        } else if (!r) {
            std::fprintf(stderr, "%s: error: %s\n", file.c_str(), r.error().message.c_str());
        } else {
            std::printf("%s\n", file.c_str());
            for (const auto& lp : *r) std::printf("  %-24s %.4f\n", lp.label.c_str(), lp.prob);
        }
        std::fflush(stdout);
    }
    if (o.json) std::printf("]\n");
    if (failed && o.json) std::fprintf(stderr, "%d of %zu file(s) failed\n", failed, o.files.size());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o.files.empty())  // on stderr: stdout stays the table or the JSON
        std::fprintf(stderr, "%zu file(s) in %.3f s: %.1f ms per file (read, decode, preprocess, model; %d thread%s)\n",
                     o.files.size(), secs, 1000 * secs / static_cast<double>(o.files.size()), threads,
                     threads == 1 ? "" : "s");
    return failed ? 1 : 0;
}

}  // namespace ursa
