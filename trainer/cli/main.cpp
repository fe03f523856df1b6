// ursa: photos → classifier → web page. Exit status: 0 ok, 1 some inputs failed,
// 2 usage or setup error.
#include <cstdio>

#include "cli.h"

int main(int argc, char** argv) {
    CLI::App app{"ursa " URSA_VERSION " — turn a folder of labelled photos into an image classifier that runs in any web page"};
    app.require_subcommand(1);
    app.set_version_flag("--version", URSA_VERSION);
    ursa::cli::Run run;
    ursa::cli::add_import_mnist(app, run);
    ursa::cli::add_preprocess(app, run);
    ursa::cli::add_train(app, run, std::vector<std::string>(argv, argv + argc));
    ursa::cli::add_export(app, run);
    ursa::cli::add_predict(app, run);
    ursa::cli::add_web(app, run);
    ursa::cli::add_verify(app, run);
    ursa::cli::add_summary(app, run);
    ursa::cli::add_show_batch(app, run);
    ursa::cli::add_lr_find(app, run);
    ursa::cli::add_interpret(app, run);
    ursa::cli::add_fetch_weights(app, run);
    ursa::cli::add_clean(app, run);
    ursa::cli::add_dedupe(app, run);
    ursa::cli::add_download(app, run);
    ursa::cli::add_search(app, run);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    return run ? run() : 2;
}
