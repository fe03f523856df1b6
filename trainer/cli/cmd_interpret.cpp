#include "cli.h"
#include "ursa/interpret.h"

namespace ursa::cli {

void add_interpret(CLI::App& app, Run& run) {
    auto o = std::make_shared<InterpretOptions>();
    auto* sub = app.add_subcommand("interpret", "What the model of RUN gets wrong: confusion matrix, most confused "
                                                "pairs, top losses, training curves (fastai's ClassificationInterpretation)");
    sub->add_option("run", o->run, "Run folder written by `ursa train`")->required()->check(CLI::ExistingDirectory);
    sub->add_option("--data", o->data, "Dataset folder (default: the one the run was trained on)");
    sub->add_option("--split", o->split, "Which items to look at")->check(CLI::IsMember({"valid", "train"}))->capture_default_str();
    sub->add_option("-o,--out", o->out, "Write the self-contained HTML report here");
    sub->add_option("--top-k", o->top_k, "How many top losses to show")->check(CLI::Range(0, 1000))->capture_default_str();
    sub->add_option("--min-val", o->min_val, "Most confused: pairs seen at least this often")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    sub->add_flag("--normalize", o->normalize, "Confusion matrix as fractions of each actual label");
    sub->add_option("--threads", o->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    sub->callback([o, &run] { run = [o] { return interpret_command(*o); }; });
}

}  // namespace ursa::cli
