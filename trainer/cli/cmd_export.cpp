#include <cstdio>

#include "cli.h"
#include "ursa/exporter.h"

namespace ursa::cli {

void add_export(CLI::App& app, Run& run) {
    struct Opts {
        std::string run_dir, out;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("export", "Export a trained run to ONNX (BatchNorm folded, opset 13, Ursa metadata)");
    sub->add_option("run", o->run_dir, "Run folder written by `ursa train`")->required();
    sub->add_option("-o,--out", o->out, "Output .onnx file")->required();
    sub->callback([o, &run] {
        run = [o] {
            auto ok = export_run(o->run_dir, o->out);
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
