#include "cli.h"
#include "ursa/commands.h"

namespace ursa::cli {

void add_web(CLI::App& app, Run& run) {
    auto o = std::make_shared<SiteOptions>();
    auto* sub = app.add_subcommand("web", "Write the static web page that classifies photos on the visitor's device");
    sub->add_option("--model", o->model, "Model (.onnx) with Ursa metadata")->required();
    sub->add_option("--out", o->out, "Site folder to write (replaced if made by `ursa web` before)")->required();
    sub->add_option("--web-dir", o->web_dir, "The page's source files (default: $URSA_WEB_DIR or the source tree's web/)");
    sub->add_option("--wasm-dir", o->wasm_dir, "Folder with ursa_core.mjs/.wasm (default: $URSA_WASM_DIR or build/wasm/wasm)");
    sub->add_option("--ort-dir", o->ort_dir, "onnxruntime-web dist/ folder (default: $URSA_ORT_DIR or web/node_modules)");
    sub->callback([o, &run] { run = [o] { return build_site(*o); }; });
}

}  // namespace ursa::cli
