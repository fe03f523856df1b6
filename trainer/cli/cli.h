// Each subcommand lives in its own cmd_*.cpp: it declares its flags and sets `run`
// to the library call that does the work.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace ursa::cli {

using Run = std::function<int()>;

void add_import_mnist(CLI::App& app, Run& run);
// argv: the whole command line, which `train --nproc N` runs once per rank.
void add_train(CLI::App& app, Run& run, std::vector<std::string> argv);
void add_export(CLI::App& app, Run& run);
void add_predict(CLI::App& app, Run& run);
void add_web(CLI::App& app, Run& run);
void add_preprocess(CLI::App& app, Run& run);
void add_verify(CLI::App& app, Run& run);
void add_summary(CLI::App& app, Run& run);
void add_show_batch(CLI::App& app, Run& run);
void add_lr_find(CLI::App& app, Run& run);
void add_interpret(CLI::App& app, Run& run);
void add_fetch_weights(CLI::App& app, Run& run);
void add_clean(CLI::App& app, Run& run);
void add_dedupe(CLI::App& app, Run& run);
void add_download(CLI::App& app, Run& run);
void add_search(CLI::App& app, Run& run);

}  // namespace ursa::cli
