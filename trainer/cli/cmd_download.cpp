#include "cli.h"
#include "ursa/download.h"

namespace ursa::cli {

void add_download(CLI::App& app, Run& run) {
    auto o = std::make_shared<DownloadDatasetOptions>();
    auto* sub = app.add_subcommand(
        "download",
        "Download URL lists into OUT/<label>/ as checked images named by content hash; every URL's outcome "
        "goes to OUT/download-report.json, and a re-run skips what is already there");
    sub->add_option("--urls", o->urls,
                    "LABEL=FILE[,LABEL=FILE...] (a .txt list: one URL per line; or a .csv), a CSV of "
                    "label,url[,page,license,author,title] rows (what `ursa search -o X.csv` writes), or a "
                    "folder of <label>.txt / <label>.csv files; repeatable")
        ->required();
    sub->add_option("--out,-o", o->out, "Dataset folder to fill (made if missing)")->required();
    sub->add_option("--workers", o->workers, "Parallel downloads in all")->check(CLI::Range(1, 64))->capture_default_str();
    sub->add_option("--per-host", o->per_host, "At most this many at once from one host")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    sub->add_option("--host-delay", o->host_delay_s, "Seconds between two requests to one host")
        ->check(CLI::Range(0.0, 60.0))
        ->capture_default_str();
    sub->add_option("--timeout", o->timeout_s, "Seconds per attempt, redirects included")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    sub->add_option("--retries", o->retries, "Further attempts after a timeout, dropped connection, 5xx or 429")
        ->check(CLI::Range(0, 20))
        ->capture_default_str();
    sub->add_option("--backoff", o->backoff_s, "Seconds before the first retry; doubles after each")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str();
    sub->add_option("--max-bytes", o->max_bytes, "Refuse responses larger than this")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--max-pixels", o->max_pixels, "Refuse images with more pixels than this (decompression bombs)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--max-size", o->max_size,
                    "Shrink images whose longer side exceeds this (fastai's resize_images; 0 = keep as sent)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub->add_option("--quality", o->jpeg_quality, "JPEG quality of shrunk images")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    sub->add_option("--max-per-label", o->max_per_label, "Only the first N URLs of each label (0 = all)")
        ->check(CLI::NonNegativeNumber);
    sub->add_flag("!--no-progress", o->progress, "No progress bar");
    sub->callback([o, &run] { run = [o] { return download_dataset(*o); }; });
}

}  // namespace ursa::cli
