// `ursa download`: URL lists -> a folder of labelled images, every URL accounted for.
// Parallel HTTP(S) with per-host limits, retries with backoff, size and time limits;
// each body is checked (content type, file signature, a full decode through core,
// the pixel limit), optionally shrunk (fastai's resize_images), named by its content
// hash and renamed into place complete, so an interrupted run leaves no partial file
// and a re-run skips what it already has. The outcome per URL is written to
// OUT/download-report.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ursa/image.h"
#include "ursa/result.h"

namespace ursa {

// One URL to fetch, with where it came from and what a search recorded about it.
struct UrlEntry {
    std::string label;
    std::string url;
    std::string origin;  // "grizzly.txt:12"
    std::string page, license, author, title;
};

// Reads --urls specs, each one of:
//   grizzly=grizzly.txt[,black=black.csv...]  label=file pairs (the label wins over a CSV's)
//   list.csv                                   rows label,url[,page,license,author,title]
//                                              (a header row naming the columns is optional)
//   folder/                                    every <label>.txt / <label>.csv in it
// A .txt list has one URL per line; blank lines and lines starting with # are skipped.
// max_per_label > 0 keeps only the first that many URLs of each label (fastai's
// max_pics). Errors name the file and line.
Result<std::vector<UrlEntry>> read_url_lists(const std::vector<std::string>& specs, int max_per_label = 0);

// Why `label` cannot be a folder name ("" when it can).
std::string bad_label(const std::string& label);

// fastai's resize_to(img, max_size): the longest side becomes max_size, the other
// int(side * ratio). Returns the size unchanged when both sides are within max_size.
void shrink_size(int width, int height, int max_size, int& out_width, int& out_height);

struct DownloadDatasetOptions {
    std::vector<std::string> urls;  // --urls specs
    std::string out;
    int workers = 8;            // parallel requests in all
    int per_host = 2;           // at most this many at once to one host
    double host_delay_s = 0.2;  // and this long between two starts to one host
    double timeout_s = 30;      // per attempt, redirects included
    int retries = 2;            // further attempts after a transient failure
    double backoff_s = 1.0;     // first wait before a retry; doubles each time
    int64_t max_bytes = 30'000'000;
    int64_t max_pixels = kDefaultMaxPixels;
    int max_size = 0;           // > 0: images larger than this are shrunk on save
    int jpeg_quality = 90;      // for shrunk images
    int max_per_label = 0;
    bool progress = true;
};

// Returns 0 when every URL gave an image (new, already there, or a duplicate), 1 when
// some failed (each with its reason in the report and on stderr; once a write finds the
// disk or quota full, the URLs not yet started fail at once with that reason), 2 on
// usage or setup errors (bad lists, an output folder that cannot be written).
int download_dataset(const DownloadDatasetOptions& options);

}  // namespace ursa
