#include "cli.h"
#include "ursa/commands.h"

namespace ursa::cli {

void add_predict(CLI::App& app, Run& run) {
    auto o = std::make_shared<PredictOptions>();
    auto* sub = app.add_subcommand("predict", "Classify image files with an ONNX model that has Ursa metadata");
    sub->add_option("model", o->model, "Model (.onnx)")->required();
    sub->add_option("files", o->files, "Image files")->required();
    sub->add_option("--top", o->top, "How many labels to show per file")->check(CLI::Range(1, 1000))->capture_default_str();
    sub->add_flag("--json", o->json, "Print one JSON array: [{file,label,prob,top:[{label,prob}]}] or {file,error}");
    sub->add_option("--max-pixels", o->max_pixels, "Refuse images larger than this many pixels")->capture_default_str();
    sub->add_option("--threads", o->threads, "Threads the model runs on (0 = all cores; the results do not depend on it)")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    sub->callback([o, &run] { run = [o] { return predict(*o); }; });
}

}  // namespace ursa::cli
