// `ursa clean RUN --serve`: fastai's ImageClassifierCleaner as a local web page.
// For a chosen label and split it shows the images sorted by loss (highest first),
// each with Keep / Delete / relabel-as; the marks survive label and split switches
// and page reloads, and "Save" writes the cleaning plan of design.md. The server
// listens on loopback only and every request must carry the random token printed in
// the URL; nothing is moved until `ursa clean --plan … --apply`.
#pragma once
#include <functional>
#include <string>

namespace ursa {

struct CleanServeOptions {
    std::string run;
    std::string data;         // "" = the run's dataset folder
    std::string plan;         // where Save writes ("" = RUN/clean-plan.json)
    std::string host = "127.0.0.1";
    int port = 0;             // 0 = any free port
    int threads = 0;
    int page_size = 60;
};

// Classifies both splits, then serves until the page's "Save and stop" or a signal.
// Prints "cleaner: http://127.0.0.1:PORT/?token=…" on stdout once it listens.
// 0 after a normal stop, 2 on errors.
int clean_serve(const CleanServeOptions& options);

}  // namespace ursa
