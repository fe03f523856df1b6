// `ursa search`: image search providers that turn a query into a list of image URLs
// for `ursa download`, each recorded with its source page, licence, author and title.
//
// A provider is a small pager over one public search API: given the query and an
// opaque cursor it fetches one page of hits and the cursor of the next page. The
// driver (search_images) pages until --max unique URLs are found or the results run
// out, so providers know nothing of deduplication, limits or output files.
// Providers: "wikimedia" (Wikimedia Commons' MediaWiki Action API, no key) and
// "openverse" (the Openverse REST API; anonymous, or $OPENVERSE_TOKEN as a Bearer
// token).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ursa/result.h"

namespace ursa {

class HttpClient;

struct ImageHit {
    std::string url;      // the image (a thumbnail of about the asked width where the API offers one)
    std::string page;     // the human-readable page the image comes from
    std::string license;  // "CC BY-SA 4.0", "CC0 1.0", "Public domain", ...
    std::string author;   // plain text (HTML removed)
    std::string title;
    int width = 0, height = 0;  // of `url`, when the API says (0 otherwise)
};

struct SearchQuery {
    std::string text;        // what the user typed
    int per_page = 20;       // hits asked for per request (the provider may cap it)
    int width = 1024;        // wanted image width, for providers that serve thumbnails
    int retries = 3;         // further attempts after transient HTTP failures
    double backoff_s = 1.0;  // the first wait between attempts; it doubles
};

struct SearchPage {
    std::vector<ImageHit> hits;
    std::string next;  // cursor of the next page; "" when there are no more results
};

class SearchProvider {
  public:
    virtual ~SearchProvider() = default;
    virtual std::string name() const = 0;
    // The API base URL in use (the default, or --endpoint).
    virtual std::string endpoint() const = 0;
    // One page of results: cursor "" is the first page, then SearchPage::next.
    // Errors (HTTP failures, non-JSON answers, API error objects) name the provider
    // and the request URL.
    virtual Result<SearchPage> fetch_page(HttpClient& client, const SearchQuery& query,
                                          const std::string& cursor) = 0;
};

struct ProviderInfo {
    std::string name;
    std::string description;       // one line, for --help
    std::string default_endpoint;  // the API base URL
};

// The registered providers, the default first.
const std::vector<ProviderInfo>& search_providers();
std::vector<std::string> search_provider_names();

// A provider by name; `endpoint` ("" = the default) replaces its API base URL (a
// mirror, or a test server). Errors: an unknown name, an endpoint that is not an
// http(s) URL.
Result<std::unique_ptr<SearchProvider>> make_provider(const std::string& name, const std::string& endpoint = "");

struct SearchOutcome {
    std::vector<ImageHit> hits;  // unique URLs, in the API's order, at most `max`
    std::string error;           // "" when the search ran to `max` or to the end of results
    int requests = 0;
    size_t skipped = 0;          // hits dropped: no usable http(s) URL, or a URL already seen
};

// Pages through `provider` until `max` unique URLs are found, the results run out,
// or a request fails (the hits found before are kept). `on_page(found, requests)`
// is called after each page.
SearchOutcome search_images(SearchProvider& provider, HttpClient& client, const SearchQuery& query, int max,
                            const std::function<void(size_t, int)>& on_page = {});

// --- output ----------------------------------------------------------------------------

// The columns `ursa download --urls FILE.csv` reads: label and url are required, the
// rest are recorded with each downloaded image.
inline constexpr const char* kSearchCsvHeader = "label,url,page,license,author,title";

// A query made into a label that is a safe folder name: lower case, white space runs
// -> '_', no '/' or '\\' or control characters, no leading '.'; "images" if nothing is left.
std::string label_from_query(const std::string& query);
// "" when `label` can be a folder name (not empty, no '/', '\\' or control
// characters, no leading '.'), else why not.
std::string check_label(const std::string& label);

// One CSV field, quoted per RFC 4180 when it holds a comma, quote, CR, LF or
// leading/trailing space.
std::string csv_field(const std::string& text);
// kSearchCsvHeader, then one row per hit.
std::string search_csv(const std::vector<ImageHit>& hits, const std::string& label);

// HTML to plain text: tags removed, character references decoded, white space runs
// collapsed to one space, trimmed. (Commons' Artist field is HTML.)
std::string html_to_text(const std::string& html);

// application/x-www-form-urlencoded-safe percent-encoding (RFC 3986 unreserved kept).
std::string url_encode(const std::string& text);

struct SearchCommandOptions {
    std::string query;
    std::string provider = "wikimedia";
    int max = 150;
    std::string label;     // "" = label_from_query(query)
    std::string out;       // "" = URLs on stdout; *.csv = the CSV; else URLs + OUT.sources.csv
    int width = 1024;
    std::string endpoint;  // "" = the provider's default API URL
    int retries = 3;
    double backoff_s = 1.0;
};

// `ursa search`. Exit status: 0 found URLs (up to --max, or all there were); 1 the API
// failed part-way (what was found is written) or nothing matched; 2 usage errors, or
// the API failed before giving any result (nothing is written).
int search_command(const SearchCommandOptions& options);

}  // namespace ursa
