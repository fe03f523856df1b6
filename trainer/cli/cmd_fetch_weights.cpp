#include <cstdio>

#include "cli.h"
#include "ursa/fetch.h"

namespace ursa::cli {

void add_fetch_weights(CLI::App& app, Run& run) {
    auto o = std::make_shared<FetchWeightsOptions>();
    auto* sub = app.add_subcommand("fetch-weights",
                                   "Download pretrained ImageNet weights (.safetensors) into the cache "
                                   "and print their path (resumes, retries, checks SHA-256)");
    sub->add_option("arch", o->arch, "resnet18 or resnet34")
        ->required()
        ->check(CLI::IsMember({"resnet18", "resnet34"}));
    sub->add_option("--url", o->url,
                    "Download from here instead (default: timm's copy of torchvision's weights)");
    sub->add_option("--sha256", o->sha256,
                    "Expected SHA-256 of the file, 64 hex digits (pinned for the default "
                    "resnet18 download)");
    sub->add_option("--cache-dir", o->cache_dir,
                    "Cache folder (default: $URSA_CACHE_DIR, else "
                    "$XDG_CACHE_HOME/ursa/weights, else ~/.cache/ursa/weights)");
    sub->add_option("-o,--out", o->out, "Put the file here instead of <cache>/<arch>.safetensors");
    sub->add_option("--retries", o->retries, "Retries after transient network failures")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub->callback([o, &run] {
        run = [o] {
            auto path = fetch_weights(*o);
            if (!path) {
                std::fprintf(stderr, "error: %s\n", path.error().message.c_str());
                return 2;
            }
            std::printf("%s\n", path->c_str());  // last line of stdout: $(ursa fetch-weights resnet18)
            return 0;
        };
    });
}

}  // namespace ursa::cli
