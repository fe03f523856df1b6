#include <string>

#include "cli.h"
#include "ursa/search.h"

namespace ursa::cli {

void add_search(CLI::App& app, Run& run) {
    auto o = std::make_shared<SearchCommandOptions>();
    std::string providers;
    for (const auto& p : search_providers())
        providers += "\n  " + p.name + ": " + p.description + "\n    " + p.default_endpoint;
    auto* sub = app.add_subcommand("search",
                                   "Search an image API for QUERY and write the image URLs, with each image's "
                                   "source page, licence and author, for `ursa download`");
    sub->add_option("query", o->query, "What to search for, e.g. \"grizzly bear\"")->required();
    sub->add_option("--provider", o->provider, "Search provider")
        ->check(CLI::IsMember(search_provider_names()))
        ->capture_default_str();
    sub->add_option("--max", o->max, "Stop after this many unique image URLs")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--label", o->label,
                    "The label column of the CSV (default: the query in lower case, spaces as '_')");
    sub->add_option("-o,--out", o->out,
                    "Write here instead of printing URLs on stdout. FILE.csv: the CSV "
                    "label,url,page,license,author,title that `ursa download --urls` reads; any other name: "
                    "one URL per line, and the same CSV as FILE.sources.csv");
    sub->add_option("--width", o->width,
                    "Ask for images about this wide where the provider serves thumbnails (wikimedia)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--endpoint", o->endpoint, "Use this API base URL instead of the provider's (a mirror)");
    sub->add_option("--retries", o->retries, "Retries after transient network failures")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub->footer("Providers:" + providers +
                "\n\nExit status: 0 URLs found (up to --max, or all there were); 1 the API failed part-way "
                "(the URLs found so far are written) or nothing matched; 2 usage errors, or the API failed "
                "before returning anything (nothing is written).");
    sub->callback([o, &run] { run = [o] { return search_command(*o); }; });
}

}  // namespace ursa::cli
