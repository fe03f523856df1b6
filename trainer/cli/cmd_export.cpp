#include <cstdio>

#include "cli.h"
#include "ursa/exporter.h"

namespace ursa::cli {

void add_export(CLI::App& app, Run& run) {
    struct Opts {
        std::string run_dir, out, weights = "fp32";
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("export", "Export a trained run to ONNX (BatchNorm folded, opset 13, Ursa metadata)");
    sub->add_option("run", o->run_dir, "Run folder written by `ursa train`")->required();
    sub->add_option("-o,--out", o->out, "Output .onnx file")->required();
    sub->add_option("--weights", o->weights,
                    "Weight storage: fp16 halves the file (input, output and arithmetic stay float32)")
        ->check(CLI::IsMember({"fp32", "fp16"}))
        ->capture_default_str();
    sub->callback([o, &run] {
        run = [o] {
            auto weights = parse_onnx_weights(o->weights);
            auto ok = weights ? export_run(o->run_dir, o->out, *weights) : Result<bool>(weights.error());
            if (!ok) {
                std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
                return 2;
            }
            std::printf("exported %s\n", o->out.c_str());
            return 0;
        };
    });
}

}  // namespace ursa::cli
