#include "cli.h"
#include "ursa/clean.h"
#include "ursa/clean_serve.h"

namespace ursa::cli {

void add_clean(CLI::App& app, Run& run) {
    auto o = std::make_shared<CleanCommand>();
    auto* sub = app.add_subcommand(
        "clean", "Mark images to delete or relabel in a local page sorted by loss (--serve), apply the plan by moving "
                 "files (nothing is deleted), or undo the last apply");
    sub->add_option("run", o->run, "Run folder from `ursa train`; DATA defaults to the dataset it was trained on");
    sub->add_option("--data", o->data, "Dataset folder (default: the run's, else the plan's \"data\")");
    auto* plan = sub->add_option("--plan", o->plan,
                                 "Plan JSON: {\"version\": 1, \"items\": [{\"file\": \"label/x.jpg\", \"action\": "
                                 "\"delete\"|\"relabel\", \"label\": \"new\"}]}, files relative to DATA");
    auto* apply = sub->add_flag("--apply", o->apply,
                                "Carry out the plan: deleted files go to DATA/.ursa-trash/<time>/, relabelled ones to "
                                "their new label folder; an interrupted apply is finished");
    auto* undo = sub->add_flag("--undo", o->undo, "Move the files of the last apply back (byte for byte)");
    apply->excludes(undo);
    undo->excludes(plan);
    sub->add_flag("--dry-run", o->dry_run, "Print every move that would happen and change nothing");
    auto serve = std::make_shared<CleanServeOptions>();
    auto* serving = sub->add_flag("--serve", "A local web page (loopback, token in the URL) with the images of each "
                                             "label sorted by loss, to mark Delete / relabel; saves the plan (--plan, "
                                             "default RUN/clean-plan.json)");
    serving->excludes(apply)->excludes(undo);
    sub->add_option("--port", serve->port, "Port for --serve (0 = any free one)")->check(CLI::Range(0, 65535));
    sub->add_option("--threads", serve->threads, "Threads for --serve's classification (0 = all cores)")
        ->check(CLI::NonNegativeNumber);
    sub->callback([o, serve, serving, &run] {
        if (serving->count() == 0) {
            run = [o] { return clean_command(*o); };
            return;
        }
        if (o->run.empty()) throw CLI::RequiredError("run (--serve needs the run folder: its model sorts by loss)");
        serve->run = o->run;
        serve->data = o->data;
        serve->plan = o->plan;
        run = [serve] { return clean_serve(*serve); };
    });
}

}  // namespace ursa::cli
