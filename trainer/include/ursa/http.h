// HTTP(S) GETs into memory with libcurl, shared by `ursa download` and `ursa search`
// (`ursa fetch-weights` streams to a file: fetch.h). Only http and https URLs are
// fetched, redirects included; errors say whether a retry may help.
#pragma once
#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ursa/result.h"

namespace ursa {

// libcurl's global setup, once per process (thread-safe).
void curl_init_once();

// "" when url is an http:// or https:// URL with a host, else why not.
std::string check_http_url(const std::string& url);

// The lower-cased host of an http(s) URL ("" when there is none).
std::string url_host(const std::string& url);

// Failures worth another attempt: connection refused or reset, timeouts, partial
// transfers, HTTP 5xx, 408 and 429.
bool transient_curl_error(CURLcode rc);
bool transient_status(long status);

// Header-line parsing: a case-insensitive prefix test, and surrounding white space
// removed.
bool header_starts_with(const std::string& line, const char* prefix);
std::string trim_space(std::string s);

// "HTTP 404 Not Found for URL"
std::string http_error(long status, const std::string& reason, const std::string& url);

struct HttpOptions {
    double timeout_s = 30;         // the whole request, redirects included
    double connect_timeout_s = 10;
    int64_t max_bytes = 0;         // > 0: a longer body fails ("larger than ...")
    long max_redirects = 5;
    std::vector<std::string> headers;  // extra request headers, "Name: value"
};

struct HttpResponse {
    long status = 0;
    std::string reason;        // "Not Found"
    std::string content_type;  // lower-cased, parameters dropped: "image/jpeg"
    std::string final_url;     // after redirects
    long redirects = 0;
    double retry_after_s = -1;  // a 429/503's Retry-After in seconds (-1: none, or an HTTP date)
    std::vector<uint8_t> body;
    std::string text() const { return std::string(body.begin(), body.end()); }
};

struct HttpResult {
    bool ok = false;         // a response arrived (any status); see response.status
    bool transient = false;  // when !ok, or for a retryable status: another attempt may succeed
    std::string error;       // when !ok: why, naming the URL
    HttpResponse response;
};

// One libcurl handle; reusing it keeps connections alive between requests. Not
// thread-safe: one per thread.
class HttpClient {
  public:
    HttpClient();
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // GET url into memory. ok is false when no complete response arrived (refused
    // scheme, DNS, connect, timeout, too large, redirect loop); a 4xx/5xx is ok with
    // that status.
    HttpResult get(const std::string& url, const HttpOptions& options = {});

  private:
    CURL* curl_;
};

// How long to wait before retrying after `response`: its Retry-After (capped at
// 10 minutes) when longer than `backoff_s`, else backoff_s.
double retry_wait(const HttpResponse& response, double backoff_s);

// get() with retries: transient failures (and 5xx/408/429) are tried again `retries`
// more times, waiting backoff_s, then twice that, ... (at most 30 s; longer when the
// server's Retry-After asks for it), each retry
// announced on stderr after `who` ("wikimedia: ..."). A 2xx answer is returned as a
// success; any other final status becomes an error, "HTTP 404 Not Found for URL",
// followed by ": " and explain(response) when that says something (what an API put
// in its error body).
Result<HttpResponse> http_get_retrying(HttpClient& client, const std::string& url, const HttpOptions& options,
                                       int retries = 3, double backoff_s = 1.0, const std::string& who = "",
                                       const std::function<std::string(const HttpResponse&)>& explain = {});

}  // namespace ursa
