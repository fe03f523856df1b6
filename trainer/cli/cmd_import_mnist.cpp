#include "cli.h"
#include "ursa/commands.h"

namespace ursa::cli {

void add_import_mnist(CLI::App& app, Run& run) {
    struct Opts {
        std::string out, source = "/usr/share/datasets/fashion-mnist";
        int per_class = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("import-mnist", "Write Fashion-MNIST as DIR/{train,valid}/<label>/*.png");
    sub->add_option("--out", o->out, "Output folder")->required();
    sub->add_option("--source", o->source, "Folder with the idx .gz files (Debian's dataset-fashion-mnist)")
        ->capture_default_str();
    sub->add_option("--per-class", o->per_class, "Keep only N images per class and split (0 = all)")
        ->check(CLI::NonNegativeNumber);
    sub->callback([o, &run] { run = [o] { return import_mnist(o->source, o->out, o->per_class); }; });
}

}  // namespace ursa::cli
