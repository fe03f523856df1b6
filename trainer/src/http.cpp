#include "ursa/http.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace ursa {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

struct Exchange {
    const HttpOptions* options = nullptr;
    HttpResponse response;
    bool too_large = false;

    void new_response(const std::string& line) {
        // "HTTP/1.1 404 Not Found" or "HTTP/2 200": a redirect's headers come first.
        response.status = 0;
        response.reason.clear();
        response.content_type.clear();
        response.retry_after_s = -1;
        response.body.clear();
        const size_t sp = line.find(' ');
        if (sp == std::string::npos) return;
        response.status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
        const size_t sp2 = line.find(' ', sp + 1);
        if (sp2 != std::string::npos) response.reason = trim_space(line.substr(sp2 + 1));
    }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* x = static_cast<Exchange*>(user);
    const std::string line(data, size * count);
    if (header_starts_with(line, "HTTP/")) {
        x->new_response(trim_space(line));
    } else if (header_starts_with(line, "retry-after:")) {
        // The delay-seconds form; an HTTP date is left to the usual backoff.
        const std::string v = trim_space(line.substr(12));
        char* end = nullptr;
        const double seconds = std::strtod(v.c_str(), &end);
        if (!v.empty() && end && *end == '\0' && seconds >= 0) x->response.retry_after_s = seconds;
    } else if (header_starts_with(line, "content-type:")) {
        std::string v = lower(trim_space(line.substr(13)));
        if (const size_t semi = v.find(';'); semi != std::string::npos) v = trim_space(v.substr(0, semi));
        x->response.content_type = v;
    }
    return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* x = static_cast<Exchange*>(user);
    const size_t n = size * count;
    auto& body = x->response.body;
    if (x->options->max_bytes > 0 && static_cast<int64_t>(body.size() + n) > x->options->max_bytes) {
        x->too_large = true;
        return 0;  // aborts the transfer
    }
    body.insert(body.end(), data, data + n);
    return n;
}

std::string megabytes(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g MB", static_cast<double>(bytes) / 1e6);
    return buf;
}

}  // namespace

bool header_starts_with(const std::string& s, const char* prefix) {
    const size_t n = std::strlen(prefix);
    if (s.size() < n) return false;
    for (size_t i = 0; i < n; ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
            return false;
    return true;
}

std::string trim_space(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

void curl_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string check_http_url(const std::string& url) {
    const std::string l = lower(url);
    size_t rest = 0;
    if (l.rfind("http://", 0) == 0)
        rest = 7;
    else if (l.rfind("https://", 0) == 0)
        rest = 8;
    else
        return "not an http(s) URL";
    if (rest >= url.size() || url[rest] == '/' || url[rest] == '?' || url[rest] == '#') return "the URL has no host";
    for (char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return "the URL contains spaces or control characters";
    return "";
}

std::string url_host(const std::string& url) {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos) return "";
    size_t start = scheme + 3;
    size_t end = url.find_first_of("/?#", start);
    std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (const size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
    if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
        const size_t close = authority.find(']');
        return lower(authority.substr(0, close == std::string::npos ? std::string::npos : close + 1));
    }
    if (const size_t colon = authority.find(':'); colon != std::string::npos) authority.resize(colon);
    return lower(authority);
}

bool transient_curl_error(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:  // also the low-speed limit: a stalled server
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

bool transient_status(long status) {
    return status >= 500 || status == 408 || status == 429;
}

std::string http_error(long status, const std::string& reason, const std::string& url) {
    return "HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + reason) + " for " + url;
}

HttpClient::HttpClient() : curl_(nullptr) {
    curl_init_once();
    curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
    if (curl_) curl_easy_cleanup(curl_);
}

HttpResult HttpClient::get(const std::string& url, const HttpOptions& options) {
    HttpResult result;
    if (!curl_) {
        result.error = "cannot start libcurl";
        return result;
    }
    if (const std::string why = check_http_url(url); !why.empty()) {
        result.error = why + ": " + url;
        return result;
    }
    Exchange x;
    x.options = &options;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_slist* headers = nullptr;
    for (const auto& h : options.headers) headers = curl_slist_append(headers, h.c_str());
    CURL* c = curl_;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, options.max_redirects);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    // Wikimedia's policy asks every client to say who it is.
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ursa/" URSA_VERSION " (image dataset tool; libcurl)");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_s * 1000));
    if (options.max_bytes > 0) curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip etc. for JSON; images are sent as they are
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);

    const CURLcode rc = curl_easy_perform(c);
    char* effective = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective)
        x.response.final_url = effective;
    long redirects = 0;
    curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
    x.response.redirects = redirects;
    curl_easy_reset(c);  // drops the pointers to errbuf and x; keeps the connection cache
    curl_slist_free_all(headers);

    if (x.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        result.error = "larger than the " + megabytes(options.max_bytes) + " limit: " + url;
        return result;
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL) {  // the URL itself was checked: a redirect went elsewhere
        result.error = "redirected to a URL that is not http(s), refused: " + url;
        return result;
    }
    if (rc == CURLE_TOO_MANY_REDIRECTS) {
        result.error = "more than " + std::to_string(options.max_redirects) + " redirects: " + url;
        return result;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        result.transient = true;
        result.error = "timed out after " + seconds(options.timeout_s) + ": " + url;
        return result;
    }
    if (rc != CURLE_OK) {
        result.transient = transient_curl_error(rc);
        result.error = std::string(errbuf[0] ? errbuf : curl_easy_strerror(rc)) + ": " + url;
        return result;
    }
    result.ok = true;
    result.transient = transient_status(x.response.status);
    result.response = std::move(x.response);
    return result;
}

double retry_wait(const HttpResponse& response, double backoff_s) {
    return std::max(backoff_s, std::min(response.retry_after_s, 600.0));
}

Result<HttpResponse> http_get_retrying(HttpClient& client, const std::string& url, const HttpOptions& options,
                                       int retries, double backoff_s, const std::string& who,
                                       const std::function<std::string(const HttpResponse&)>& explain) {
    double wait = backoff_s;
    for (int attempt = 0;; ++attempt) {
        HttpResult r = client.get(url, options);
        if (r.ok && r.response.status >= 200 && r.response.status < 300) return std::move(r.response);
        std::string why = r.error;
        if (r.ok) {
            why = http_error(r.response.status, r.response.reason, url);
            if (explain)
                if (const std::string said = explain(r.response); !said.empty()) why += ": " + said;
        }
        if (!r.transient || attempt >= retries)
            return make_error(attempt > 0 ? why + " (after " + std::to_string(attempt + 1) + " attempts)" : why);
        const double this_wait = r.ok ? retry_wait(r.response, wait) : wait;
        std::fprintf(stderr, "%s%s; retrying in %g s\n", who.empty() ? "" : (who + ": ").c_str(), why.c_str(),
                     this_wait);
        std::this_thread::sleep_for(std::chrono::duration<double>(this_wait));
        wait = std::min(wait * 2, 30.0);
    }
}

}  // namespace ursa
