#include "cli.h"
#include "ursa/commands.h"

namespace ursa::cli {

void add_preprocess(CLI::App& app, Run& run) {
    struct Opts {
        std::string file, method = "crop", pad_mode = "zeros", out;
        int size = 224;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("preprocess", "Write exactly the pixels the model would see (before normalization)");
    sub->add_option("file", o->file, "Image file")->required();
    sub->add_option("--size", o->size, "Output size N (N x N)")->check(CLI::Range(1, 8192))->capture_default_str();
    sub->add_option("--method", o->method, "Resize method")
        ->check(CLI::IsMember({"crop", "squish", "pad", "random-resized-crop"}))
        ->capture_default_str();
    sub->add_option("--pad-mode", o->pad_mode, "What pad fills its margins with")
        ->check(CLI::IsMember({"zeros", "border", "reflection"}))
        ->capture_default_str();
    sub->add_option("-o,--out", o->out, "Output PNG")->required();
    sub->callback([o, &run] {
        run = [o] { return preprocess_file(o->file, o->size, o->method, o->pad_mode, o->out); };
    });
}

}  // namespace ursa::cli
