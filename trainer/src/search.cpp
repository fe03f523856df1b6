// Image search providers for `ursa search` (see search.h).
//
// The JSON shapes below follow the providers' documentation:
//  - Wikimedia Commons, MediaWiki Action API (https://commons.wikimedia.org/w/api.php):
//    action=query with generator=search (gsrsearch, gsrnamespace=6 = File:, gsrlimit
//    up to 50, continued with gsroffset) and prop=imageinfo
//    (https://www.mediawiki.org/wiki/API:Imageinfo: iiprop=url gives url,
//    descriptionurl and, with iiurlwidth, thumburl/thumbwidth/thumbheight; size gives
//    width/height; mime; extmetadata gives {"Name": {"value", "source", "hidden"}}
//    whose values are HTML, e.g. LicenseShortName and Artist). With formatversion=2,
//    query.pages is an array whose "index" is the search rank. Continuation
//    (https://www.mediawiki.org/wiki/API:Continue): every key of the answer's
//    "continue" object is sent back as a parameter with the next request; no
//    "continue" means done. Errors (https://www.mediawiki.org/wiki/API:Errors_and_warnings)
//    usually come with HTTP 200 as {"error": {"code", "info", "docref"}}; warnings
//    as {"warnings": {"module": {"warnings": "text"}}} with formatversion=2.
//  - Openverse (https://api.openverse.org/v1/ , GET /v1/images/?q=&page=&page_size=):
//    a PaginatedImageList {"result_count", "page_count", "page_size", "page",
//    "results": [Image]} where an Image has "url" (the file), "foreign_landing_url"
//    (its page), "license" ("by-sa", "cc0", "pdm", ...), "license_version", "creator",
//    "title", "width", "height" (all but license nullable). Anonymous clients may
//    ask for at most 20 per page and reach at most 240 results (page_count says so);
//    a registered client sends "Authorization: Bearer <token>". Errors are 4xx
//    answers with {"detail": "..."}.
#include "ursa/search.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <unordered_set>

#include "ursa/http.h"
#include "ursa/io.h"
#include "ursa/json.h"
#include "ursa/progress.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

constexpr int kMaxRequests = 2000;  // a backstop against an API that never says "done"

std::string string_at(const json::Value* object, const std::string& key) {
    if (!object) return "";
    const json::Value* v = object->find(key);
    return v && v->is_string() ? v->string : "";
}

int int_at(const json::Value* object, const std::string& key) {
    if (!object) return 0;
    const json::Value* v = object->find(key);
    return v && v->is_number() && v->number > 0 && v->number < 1e9 ? static_cast<int>(v->number) : 0;
}

// 10 -> "10" (json::number would write the shortest form, "1e+01").
std::string number_text(double v) {
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    return json::number(v);
}

// A short, printable start of a body, for "not JSON" messages.
std::string snippet(const std::string& body) {
    std::string s;
    for (char c : body) {
        if (s.size() >= 60) {
            s += "...";
            break;
        }
        s += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
    return s;
}

// What a JSON error answer says ("" when it says nothing we know).
std::string api_error_text(const json::Value& v) {
    if (!v.is_object()) return "";
    if (const json::Value* e = v.find("error"); e && e->is_object()) {
        std::string code = string_at(e, "code"), info = string_at(e, "info");
        if (!code.empty() && !info.empty()) return code + ": " + info;
        return !info.empty() ? info : code;
    }
    if (const json::Value* e = v.find("error"); e && e->is_string()) return e->string;
    return string_at(&v, "detail");
}

std::string with_sep(const std::string& endpoint) {
    return endpoint + (endpoint.find('?') == std::string::npos ? "?" : "&");
}

// GET url as JSON, retrying transient failures. 4xx/5xx answers keep what the API
// said in its JSON body.
Result<json::Value> get_json(HttpClient& client, const std::string& provider, const std::string& url,
                             const SearchQuery& query, const std::vector<std::string>& headers = {}) {
    HttpOptions options;
    options.timeout_s = 60;
    options.max_bytes = 64 << 20;
    options.headers = headers;
    options.headers.push_back("Accept: application/json");
    auto response = http_get_retrying(client, url, options, query.retries, query.backoff_s, provider,
                                      [](const HttpResponse& r) {
                                          auto parsed = json::parse(r.text());
                                          return parsed ? api_error_text(*parsed) : std::string();
                                      });
    if (!response) return make_error(provider + ": " + response.error().message);
    const std::string text = response->text();
    auto parsed = json::parse(text);
    if (!parsed)
        return make_error(provider + ": the answer to " + url + " is not JSON (" +
                          (response->content_type.empty() ? "no content type" : response->content_type) +
                          ", starts \"" + snippet(text) + "\"): " + parsed.error().message);
    return std::move(parsed).value();
}

// --- Wikimedia Commons -------------------------------------------------------------------

class WikimediaProvider : public SearchProvider {
  public:
    explicit WikimediaProvider(std::string endpoint) : endpoint_(std::move(endpoint)) {}
    std::string name() const override { return "wikimedia"; }
    std::string endpoint() const override { return endpoint_; }

    Result<SearchPage> fetch_page(HttpClient& client, const SearchQuery& query, const std::string& cursor) override {
        const int limit = std::clamp(query.per_page, 1, 50);  // 50: the API's limit for anonymous clients
        const std::string url = with_sep(endpoint_) +
                                "action=query&format=json&formatversion=2"
                                "&generator=search&gsrnamespace=6&gsrsearch=" +
                                url_encode(query.text + " filetype:bitmap") + "&gsrlimit=" + std::to_string(limit) +
                                "&prop=imageinfo&iiprop=" + url_encode("url|extmetadata|mime|size") +
                                "&iiurlwidth=" + std::to_string(query.width) +
                                "&iiextmetadatafilter=" + url_encode("LicenseShortName|Artist") + cursor;
        auto answer = get_json(client, name(), url, query);
        if (!answer) return answer.error();
        const json::Value& root = *answer;
        if (!root.is_object()) return make_error("wikimedia: the answer to " + url + " is not a JSON object");
        if (root.find("error"))
            return make_error("wikimedia: the API answered with an error (" + api_error_text(root) + ") for " + url);
        warn(root);

        SearchPage page;
        if (const json::Value* c = root.find("continue"); c && c->is_object()) {
            for (const auto& [key, value] : c->object) {
                if (value.is_string())
                    page.next += "&" + url_encode(key) + "=" + url_encode(value.string);
                else if (value.is_number())
                    page.next += "&" + url_encode(key) + "=" + number_text(value.number);
            }
        }
        const json::Value* pages = root.find("query") ? root.find("query")->find("pages") : nullptr;
        if (!pages) return page;  // the search found nothing (more)
        std::vector<const json::Value*> items;
        if (pages->is_array()) {
            for (const auto& p : pages->array) items.push_back(&p);
        } else if (pages->is_object()) {  // formatversion=1 (a mirror that ignores the parameter)
            for (const auto& [id, p] : pages->object) items.push_back(&p);
        } else {
            return make_error("wikimedia: unexpected answer from " + url + ": query.pages is neither a list nor an object");
        }
        // the search rank; pages come in page-id order
        std::stable_sort(items.begin(), items.end(),
                         [](const json::Value* a, const json::Value* b) { return int_at(a, "index") < int_at(b, "index"); });
        for (const json::Value* p : items) {
            const json::Value* infos = p->is_object() ? p->find("imageinfo") : nullptr;
            if (!infos || !infos->is_array() || infos->array.empty()) continue;  // continued later, or hidden
            const json::Value& info = infos->array.front();
            const std::string mime = string_at(&info, "mime");
            if (!mime.empty() && mime.rfind("image/", 0) != 0) continue;
            ImageHit hit;
            hit.url = string_at(&info, "thumburl");
            if (!hit.url.empty()) {
                hit.width = int_at(&info, "thumbwidth"), hit.height = int_at(&info, "thumbheight");
            } else {
                hit.url = string_at(&info, "url");
                hit.width = int_at(&info, "width"), hit.height = int_at(&info, "height");
            }
            hit.page = string_at(&info, "descriptionurl");
            hit.title = string_at(p, "title");
            const json::Value* meta = info.find("extmetadata");
            if (meta && meta->is_object()) {
                hit.license = html_to_text(string_at(meta->find("LicenseShortName"), "value"));
                hit.author = html_to_text(string_at(meta->find("Artist"), "value"));
            }
            page.hits.push_back(std::move(hit));
        }
        return page;
    }

  private:
    std::string endpoint_;
    std::set<std::string> warned_;

    void warn(const json::Value& root) {
        const json::Value* warnings = root.find("warnings");
        if (!warnings || !warnings->is_object()) return;
        for (const auto& [module, w] : warnings->object) {
            std::string text = string_at(&w, "warnings");  // formatversion=2
            if (text.empty()) text = string_at(&w, "*");   // formatversion=1
            if (!text.empty() && warned_.insert(module + text).second)
                std::fprintf(stderr, "wikimedia: warning from the API (%s): %s\n", module.c_str(), text.c_str());
        }
    }
};

// --- Openverse -----------------------------------------------------------------------------

// "by-sa" + "2.0" -> "CC BY-SA 2.0"; "cc0" -> "CC0 1.0"; "pdm" -> "Public Domain Mark 1.0".
std::string openverse_license(const std::string& license, const std::string& version) {
    if (license.empty()) return "";
    std::string name;
    if (license == "pdm") {
        name = "Public Domain Mark";
    } else if (license == "cc0") {
        name = "CC0";
    } else {
        name = "CC ";
        for (char c : license) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return version.empty() ? name : name + " " + version;
}

class OpenverseProvider : public SearchProvider {
  public:
    explicit OpenverseProvider(std::string endpoint) : endpoint_(std::move(endpoint)) {
        if (const char* t = std::getenv("OPENVERSE_TOKEN"); t && *t) token_ = t;
    }
    std::string name() const override { return "openverse"; }
    std::string endpoint() const override { return endpoint_; }

    Result<SearchPage> fetch_page(HttpClient& client, const SearchQuery& query, const std::string& cursor) override {
        const int number = cursor.empty() ? 1 : std::atoi(cursor.c_str());
        const int size = std::clamp(query.per_page, 1, 20);  // 20: the most an anonymous client may ask for
        const std::string url = with_sep(endpoint_) + "q=" + url_encode(query.text) +
                                "&page_size=" + std::to_string(size) + "&page=" + std::to_string(number);
        std::vector<std::string> headers;
        if (!token_.empty()) headers.push_back("Authorization: Bearer " + token_);
        auto answer = get_json(client, name(), url, query, headers);
        if (!answer) return answer.error();
        const json::Value& root = *answer;
        const json::Value* results = root.is_object() ? root.find("results") : nullptr;
        if (!results || !results->is_array()) {
            const std::string said = api_error_text(root);
            return make_error("openverse: unexpected answer from " + url +
                              (said.empty() ? std::string(": no \"results\" list") : ": " + said));
        }
        SearchPage page;
        for (const json::Value& r : results->array) {
            if (!r.is_object()) continue;
            ImageHit hit;
            hit.url = string_at(&r, "url");
            hit.page = string_at(&r, "foreign_landing_url");
            hit.license = openverse_license(string_at(&r, "license"), string_at(&r, "license_version"));
            hit.author = string_at(&r, "creator");
            hit.title = string_at(&r, "title");
            hit.width = int_at(&r, "width"), hit.height = int_at(&r, "height");
            page.hits.push_back(std::move(hit));
        }
        const json::Value* count = root.find("page_count");
        const bool more = count && count->is_number() ? number < count->number
                                                      : static_cast<int>(results->array.size()) >= size;
        if (more && !results->array.empty()) page.next = std::to_string(number + 1);
        return page;
    }

  private:
    std::string endpoint_;
    std::string token_;
};

bool has_space_or_control(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

bool ends_with_csv(const std::string& path) {
    if (path.size() < 4) return false;
    std::string ext = path.substr(path.size() - 4);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".csv";
}

Result<bool> write_output(const std::string& path, const std::string& text) {
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) return make_error("cannot create folder " + parent.string() + ": " + ec.message());
    return write_file_atomic(path, text);
}

}  // namespace

// --- registry --------------------------------------------------------------------------------

const std::vector<ProviderInfo>& search_providers() {
    static const std::vector<ProviderInfo> providers = {
        {"wikimedia", "Wikimedia Commons (MediaWiki API; no key)", "https://commons.wikimedia.org/w/api.php"},
        {"openverse", "Openverse (no key; $OPENVERSE_TOKEN is sent as a Bearer token when set)",
         "https://api.openverse.org/v1/images/"},
    };
    return providers;
}

std::vector<std::string> search_provider_names() {
    std::vector<std::string> names;
    for (const auto& p : search_providers()) names.push_back(p.name);
    return names;
}

Result<std::unique_ptr<SearchProvider>> make_provider(const std::string& name, const std::string& endpoint) {
    const ProviderInfo* info = nullptr;
    for (const auto& p : search_providers())
        if (p.name == name) info = &p;
    if (!info) {
        std::string names;
        for (const auto& n : search_provider_names()) names += (names.empty() ? "" : ", ") + n;
        return make_error("unknown search provider \"" + name + "\" (known: " + names + ")");
    }
    const std::string url = endpoint.empty() ? info->default_endpoint : endpoint;
    if (const std::string why = check_http_url(url); !why.empty()) return make_error("--endpoint " + url + ": " + why);
    if (has_space_or_control(url)) return make_error("--endpoint: the URL contains white space: " + url);
    std::unique_ptr<SearchProvider> provider;
    if (name == "wikimedia") provider = std::make_unique<WikimediaProvider>(url);
    else provider = std::make_unique<OpenverseProvider>(url);
    return provider;
}

// --- the driver ------------------------------------------------------------------------------

SearchOutcome search_images(SearchProvider& provider, HttpClient& client, const SearchQuery& query, int max,
                            const std::function<void(size_t, int)>& on_page) {
    SearchOutcome out;
    if (max <= 0) return out;
    SearchQuery q = query;
    q.per_page = std::min(query.per_page, max);  // fixed for the whole search: it defines the paging
    std::unordered_set<std::string> seen;
    std::set<std::string> cursors;
    std::string cursor;
    while (out.hits.size() < static_cast<size_t>(max)) {
        if (out.requests >= kMaxRequests) {
            out.error = provider.name() + ": stopped after " + std::to_string(out.requests) + " requests";
            break;
        }
        auto page = provider.fetch_page(client, q, cursor);
        ++out.requests;
        if (!page) {
            out.error = page.error().message;
            break;
        }
        for (auto& hit : page->hits) {
            if (out.hits.size() >= static_cast<size_t>(max)) break;
            if (!check_http_url(hit.url).empty() || has_space_or_control(hit.url) || !seen.insert(hit.url).second) {
                ++out.skipped;
                continue;
            }
            out.hits.push_back(std::move(hit));
        }
        if (on_page) on_page(out.hits.size(), out.requests);
        if (page->next.empty()) break;
        if (!cursors.insert(page->next).second) {
            out.error = provider.name() + ": the API sent the same continuation twice (" + page->next + ")";
            break;
        }
        cursor = page->next;
    }
    return out;
}

// --- text helpers ------------------------------------------------------------------------------

std::string url_encode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

namespace {

void append_utf8(std::string& out, unsigned long cp) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Decodes the character reference starting at s[i] == '&' into out; returns the
// length consumed (0: not a reference we know; the '&' stays as it is).
size_t decode_entity(const std::string& s, size_t i, std::string& out) {
    const size_t end = s.find(';', i);
    if (end == std::string::npos || end - i > 10) return 0;
    const std::string name = s.substr(i + 1, end - i - 1);
    static const std::pair<const char*, const char*> named[] = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "}};
    for (const auto& [n, text] : named)
        if (name == n) {
            out += text;
            return end - i + 1;
        }
    if (name.size() >= 2 && name[0] == '#') {
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const std::string digits = name.substr(hex ? 2 : 1);
        if (digits.empty() || digits.size() > 7) return 0;
        for (char c : digits)
            if (!(hex ? std::isxdigit(static_cast<unsigned char>(c)) : std::isdigit(static_cast<unsigned char>(c))))
                return 0;
        append_utf8(out, std::strtoul(digits.c_str(), nullptr, hex ? 16 : 10));
        return end - i + 1;
    }
    return 0;
}

// Tags that separate words (<a>, <span>, <bdi>, <b> ... do not).
bool block_tag(const std::string& tag) {
    size_t i = tag.empty() || tag[0] != '/' ? 0 : 1;
    std::string name;
    for (; i < tag.size() && std::isalnum(static_cast<unsigned char>(tag[i])); ++i)
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(tag[i])));
    static const std::set<std::string> blocks = {"br", "p", "div", "li", "ul", "ol", "td", "th", "tr", "table",
                                                 "dd", "dt", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr"};
    return blocks.count(name) > 0;
}

}  // namespace

std::string html_to_text(const std::string& html) {
    std::string text;
    for (size_t i = 0; i < html.size();) {
        const char c = html[i];
        if (c == '<') {
            const size_t end = html.find('>', i);
            if (end == std::string::npos) break;  // a cut-off tag: drop it
            if (block_tag(html.substr(i + 1, end - i - 1))) text += ' ';  // <br>, </td><td> separate words
            i = end + 1;
        } else if (c == '&') {
            const size_t n = decode_entity(html, i, text);
            if (n == 0) text += c;
            i += n ? n : 1;
        } else {
            text += c;
            ++i;
        }
    }
    // collapse white space (an &nbsp; decoded to a space too), trim, and drop controls
    std::string out;
    bool space = false;
    for (unsigned char c : text) {
        if (c <= 0x20 || c == 0x7f) {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += static_cast<char>(c);
    }
    return out;
}

std::string label_from_query(const std::string& query) {
    std::string label;
    bool gap = false;
    for (unsigned char c : query) {
        if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\') {
            gap = true;
            continue;
        }
        if (gap && !label.empty()) label += '_';
        gap = false;
        label += static_cast<char>(std::tolower(c));
    }
    const size_t start = label.find_first_not_of('.');
    label = start == std::string::npos ? "" : label.substr(start);
    return label.empty() ? "images" : label;
}

std::string check_label(const std::string& label) {
    if (label.empty()) return "the label is empty";
    for (unsigned char c : label) {
        if (c == '/' || c == '\\') return "the label \"" + label + "\" contains a slash (labels are folder names)";
        if (c < 0x20 || c == 0x7f) return "the label contains a control character";
    }
    if (label[0] == '.') return "the label \"" + label + "\" starts with '.' (a hidden folder)";
    return "";
}

std::string csv_field(const std::string& text) {
    const bool quote = text.find_first_of(",\"\r\n") != std::string::npos ||
                       (!text.empty() && (text.front() == ' ' || text.back() == ' '));
    if (!quote) return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string search_csv(const std::vector<ImageHit>& hits, const std::string& label) {
    std::string csv = std::string(kSearchCsvHeader) + "\n";
    for (const auto& h : hits)
        csv += csv_field(label) + "," + csv_field(h.url) + "," + csv_field(h.page) + "," + csv_field(h.license) + "," +
               csv_field(h.author) + "," + csv_field(h.title) + "\n";
    return csv;
}

// --- the command ------------------------------------------------------------------------------

int search_command(const SearchCommandOptions& options) {
    const std::string& query = options.query;
    if (query.find_first_not_of(" \t\r\n") == std::string::npos) {
        std::fprintf(stderr, "error: the search query is empty\n");
        return 2;
    }
    if (options.max < 1 || options.width < 1 || options.retries < 0) {
        std::fprintf(stderr, "error: --max and --width must be at least 1, --retries at least 0\n");
        return 2;
    }
    const std::string label = options.label.empty() ? label_from_query(query) : options.label;
    if (const std::string why = check_label(label); !why.empty()) {
        std::fprintf(stderr, "error: --label: %s\n", why.c_str());
        return 2;
    }
    auto made = make_provider(options.provider, options.endpoint);
    if (!made) {
        std::fprintf(stderr, "error: %s\n", made.error().message.c_str());
        return 2;
    }
    SearchProvider& provider = **made;

    SearchQuery q;
    q.text = query;
    q.per_page = 50;
    q.width = options.width;
    q.retries = options.retries;
    q.backoff_s = options.backoff_s;
    std::fprintf(stderr, "searching %s (%s) for \"%s\", up to %d images\n", provider.name().c_str(),
                 provider.endpoint().c_str(), query.c_str(), options.max);
    HttpClient client;
    SearchOutcome outcome;
    {
        ProgressBar bar("search " + provider.name(), static_cast<size_t>(options.max));
        outcome = search_images(provider, client, q, options.max, [&](size_t found, int requests) {
            bar.update(found, std::to_string(requests) + (requests == 1 ? " request" : " requests"));
        });
        bar.finish();
    }
    if (!outcome.error.empty()) std::fprintf(stderr, "error: %s\n", outcome.error.c_str());
    if (outcome.hits.empty()) {
        if (!outcome.error.empty()) {
            std::fprintf(stderr, "error: the search failed before finding anything; nothing written\n");
            return 2;
        }
        std::fprintf(stderr, "no images found for \"%s\" on %s; nothing written\n", query.c_str(),
                     provider.name().c_str());
        return 1;
    }

    std::string where = "stdout";
    if (options.out.empty()) {
        std::string urls;
        for (const auto& h : outcome.hits) urls += h.url + "\n";
        std::fwrite(urls.data(), 1, urls.size(), stdout);
        std::fflush(stdout);
    } else {
        const std::string csv = search_csv(outcome.hits, label);
        if (ends_with_csv(options.out)) {
            auto w = write_output(options.out, csv);
            if (!w) {
                std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
                return 2;
            }
            where = options.out;
        } else {
            std::string urls;
            for (const auto& h : outcome.hits) urls += h.url + "\n";
            const std::string sources = options.out + ".sources.csv";
            auto w = write_output(options.out, urls);
            if (w) w = write_output(sources, csv);
            if (!w) {
                std::fprintf(stderr, "error: %s\n", w.error().message.c_str());
                return 2;
            }
            where = options.out + " (sources, licences and authors in " + sources + ")";
        }
    }
    std::string skipped;
    if (outcome.skipped > 0)
        skipped = ", " + std::to_string(outcome.skipped) + " duplicate or unusable URL" + (outcome.skipped == 1 ? "" : "s") +
                  " skipped";
    const size_t n = outcome.hits.size();
    std::fprintf(stderr, "found %zu image URL%s for \"%s\" on %s in %d request%s%s%s; written to %s\n", n,
                 n == 1 ? "" : "s", query.c_str(), provider.name().c_str(), outcome.requests,
                 outcome.requests == 1 ? "" : "s", skipped.c_str(),
                 n < static_cast<size_t>(options.max) && outcome.error.empty() ? " (all there were)" : "",
                 where.c_str());
    if (!outcome.error.empty()) {
        std::fprintf(stderr, "warning: the search stopped early (the error above); %zu of up to %d URLs written\n", n,
                     options.max);
        return 1;
    }
    return 0;
}

}  // namespace ursa
