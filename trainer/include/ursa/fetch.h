// Downloads with libcurl (resume, retries, progress) and pretrained ImageNet weights
// as .safetensors in a cache folder, checked by SHA-256 (OpenSSL) before they are
// put in place.
#pragma once
#include <cstdint>
#include <string>

#include "ursa/result.h"

namespace ursa {

struct DownloadOptions {
    int retries = 5;         // further attempts after transient failures
    double backoff_s = 1.0;  // the first wait; it doubles each retry, up to 30 s
    long connect_timeout_s = 30;
    long low_speed_bytes = 1024;  // slower than this for low_speed_time_s is a stall,
    long low_speed_time_s = 30;   // which fails the attempt (and is retried)
    bool progress = true;         // a progress bar on stderr
    std::string title = "download";
};

struct DownloadStats {
    uint64_t bytes = 0;    // size of dest afterwards
    bool resumed = false;  // dest still holds bytes it had before the call
    int attempts = 0;
};

// Downloads `url` into `dest`. When dest already holds part of the file, the rest is
// asked for with a Range request (a server that answers 200 sends it whole, and dest
// is started over; 416 with dest at full size means it is complete). Redirects are
// followed. Transient failures (connection refused or reset, timeouts, stalls,
// partial transfers, HTTP 5xx, 408, 429) are retried with backoff; an attempt that
// got further does not use up a retry. Other HTTP errors fail at once, naming the URL
// and the status. dest is left as far as it got, so a later call resumes.
Result<DownloadStats> download_file(const std::string& url, const std::string& dest,
                                    const DownloadOptions& options = {});

// Lower-case hex SHA-256 of a file's bytes, or of bytes in memory.
Result<std::string> sha256_file(const std::string& path);
std::string sha256_hex(const void* data, size_t size);

// --cache-dir, else $URSA_CACHE_DIR, else $XDG_CACHE_HOME/ursa/weights, else
// $HOME/.cache/ursa/weights.
Result<std::string> weights_cache_dir(const std::string& cache_dir_flag = "");

struct WeightSource {
    std::string url;
    std::string sha256;  // "" when none is pinned
};
// The default download of `arch` (resnet18, resnet34): timm's copies of torchvision's
// ImageNet weights, whose tensor names are torchvision's.
Result<WeightSource> default_weights(const std::string& arch);

struct FetchWeightsOptions {
    std::string arch;       // resnet18 | resnet34
    std::string url;        // "" = the default for arch
    std::string sha256;     // "" = the one pinned for the default URL (if any)
    std::string cache_dir;  // "" = weights_cache_dir()
    std::string out;        // "" = <cache>/<arch>.safetensors
    int retries = 5;
};

// Puts the weights at their final path and returns it. An existing file there (that
// matches the checksum, when one is known) is kept and nothing is downloaded.
// Otherwise the download goes to <final>.part (resumed if one is there), is checked
// (SHA-256, then a readable safetensors with the arch's tensors) and renamed into
// place; a bad one is moved to <final>.bad. Messages and progress go to stderr.
Result<std::string> fetch_weights(const FetchWeightsOptions& options);

}  // namespace ursa
