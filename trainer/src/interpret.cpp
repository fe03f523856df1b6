#include "ursa/interpret.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <thread>

#include "ursa/io.h"
#include "ursa/learner.h"
#include "ursa/models.h"
#include "ursa/progress.h"
#include "ursa/run.h"
#include "ursa/svg.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

// The options the run was trained with; runs from before options.json get the
// defaults (random split 0.2, seed 42), which is said.
TrainOptions run_options(const std::string& run, const RunConfig& config) {
    auto o = read_train_options(run);
    if (o) return *o;
    TrainOptions d;
    d.data = config.data;
    d.dataset.split = config.split == "random" || config.split == "folder" ? config.split : "auto";
    std::fprintf(stderr,
                 "note: %s has no %s (made by an older ursa); rebuilding the split with --valid-pct 0.2 --seed 42\n",
                 run.c_str(), kRunOptions);
    return d;
}

std::string base64(const std::vector<uint8_t>& bytes) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == bytes.size()) {
        const uint32_t v = bytes[i] << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        const uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
    return out;
}

std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// history.json rows (train writes it); history.csv for older runs.
nlohmann::json read_history(const std::string& run) {
    if (auto bytes = read_file((fs::path(run) / "history.json").string())) {
        auto j = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
        if (j.is_array()) return j;
    }
    nlohmann::json rows = nlohmann::json::array();
    auto bytes = read_file((fs::path(run) / "history.csv").string());
    if (!bytes) return rows;
    std::string text(bytes->begin(), bytes->end());
    auto csv = parse_csv(text);
    if (!csv) return rows;
    for (size_t i = 1; i < csv->size(); ++i) {
        const auto& r = (*csv)[i];
        if (r.size() < 5) continue;
        try {
            rows.push_back({{"phase", ""},
                            {"train_loss", std::stod(r[1])},
                            {"valid_loss", std::stod(r[2])},
                            {"error_rate", std::stod(r[3])},
                            {"time", r[4]}});
        } catch (const std::exception&) {
        }
    }
    return rows;
}

std::string curves_svg(const nlohmann::json& history) {
    SvgChart loss, err;
    loss.title = "loss per epoch";
    loss.xlabel = err.xlabel = "epoch";
    loss.ylabel = "loss";
    err.title = "error rate per epoch";
    err.ylabel = "error rate";
    SvgSeries train{"train_loss (smoothed)", "#1f77b4", {}, {}}, valid{"valid_loss", "#ff7f0e", {}, {}},
        error{"error_rate", "#2ca02c", {}, {}};
    for (size_t i = 0; i < history.size(); ++i) {
        const auto& h = history[i];
        const double x = static_cast<double>(i);
        train.x.push_back(x), train.y.push_back(h.value("train_loss", NAN));
        valid.x.push_back(x), valid.y.push_back(h.value("valid_loss", NAN));
        error.x.push_back(x), error.y.push_back(h.value("error_rate", NAN));
    }
    loss.series = {train, valid};
    err.series = {error};
    return render_svg(loss) + render_svg(err);
}

// The learning rate of each parameter group at every batch of the run's plan.
std::string schedule_svg(const TrainOptions& o, int64_t train_items) {
    const int64_t bs = std::max<int64_t>(1, std::min<int64_t>(o.batch_size, train_items));
    const int64_t batches = std::max<int64_t>(1, train_items / bs);
    SvgChart c;
    c.title = "learning-rate schedule (one-cycle per phase)";
    c.xlabel = "batch";
    c.ylabel = "learning rate (log scale)";
    c.log_y = true;
    const char* colors[] = {"#9467bd", "#8c564b", "#d62728"};
    const char* names[] = {"body: stem, layer1-2", "body: layer3-4", "head"};
    std::vector<SvgSeries> groups(3);
    for (int g = 0; g < 3; ++g) groups[g].name = names[g], groups[g].color = colors[g];
    int64_t step = 0;
    for (const Phase& ph : training_plan(o)) {
        const int64_t n = batches * ph.epochs;
        const int64_t stride = std::max<int64_t>(1, n / 200);  // enough points for a smooth curve
        for (int64_t k = 0; k < n; k += stride) {
            const double pos = static_cast<double>(k) / static_cast<double>(n);
            for (size_t g = 0; g < 3; ++g) {
                groups[g].x.push_back(static_cast<double>(step + k));
                groups[g].y.push_back(OneCycle{ph.lr_max[g], ph.div, 1e5, ph.pct_start}.lr(pos));
            }
        }
        step += n;
    }
    c.series = groups;
    return render_svg(c);
}

}  // namespace

std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<ItemResult>& items, size_t classes) {
    std::vector<std::vector<int64_t>> cm(classes, std::vector<int64_t>(classes, 0));
    for (const auto& it : items)
        if (it.actual >= 0 && static_cast<size_t>(it.actual) < classes && it.predicted >= 0 &&
            static_cast<size_t>(it.predicted) < classes)
            ++cm[static_cast<size_t>(it.actual)][static_cast<size_t>(it.predicted)];
    return cm;
}

std::vector<std::tuple<int, int, int64_t>> most_confused(const std::vector<std::vector<int64_t>>& cm, int64_t min_val) {
    std::vector<std::tuple<int, int, int64_t>> out;
    for (size_t a = 0; a < cm.size(); ++a)
        for (size_t p = 0; p < cm[a].size(); ++p)
            if (a != p && cm[a][p] >= min_val && cm[a][p] > 0)
                out.emplace_back(static_cast<int>(a), static_cast<int>(p), cm[a][p]);
    std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return std::get<2>(x) > std::get<2>(y); });
    return out;
}

std::vector<size_t> top_losses(const std::vector<ItemResult>& items, size_t k) {
    std::vector<size_t> idx(items.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return items[a].loss > items[b].loss; });
    if (idx.size() > k) idx.resize(k);
    return idx;
}

Result<Interpretation> interpret_run(const InterpretOptions& io) {
    auto config = read_run_config(io.run);
    if (!config) return config.error();
    TrainOptions o = run_options(io.run, *config);
    if (!io.data.empty()) o.data = io.data;
    if (o.data.empty()) return make_error(io.run + " does not say which dataset it was trained on: pass --data DATA");
    if (io.split != "valid" && io.split != "train") return make_error("--split must be valid or train");
    auto ds = make_dataset(o.data, o.dataset);
    if (!ds) return ds.error();
    if (ds->vocab != config->labels)
        return make_error("the labels in " + o.data + " differ from the run's (" + std::to_string(ds->vocab.size()) +
                          " vs " + std::to_string(config->labels.size()) + "): was it trained on another folder?");
    auto model = load_run_model(io.run, *config);
    if (!model) return model.error();
    const int threads = thread_count(io.threads);
    torch::set_num_threads(threads);

    Interpretation r;
    r.vocab = config->labels;
    r.data = o.data;
    r.split = io.split;
    r.options = o;
    r.train_items = static_cast<int64_t>(ds->train.size());
    if (o.limit_train > 0) r.train_items = std::min(r.train_items, o.limit_train);
    const std::vector<Item>& items = io.split == "valid" ? ds->valid : ds->train;
    if (items.empty()) return make_error("the " + io.split + " split of " + o.data + " is empty");
    Prepared prepared = prepare_items(items, config->input, DecodeOptions{o.max_pixels}, threads, "load " + io.split);
    r.failures = prepared.failures;
    std::set<std::string> failed;
    for (const auto& f : prepared.failures) failed.insert(f.path);
    std::vector<const Item*> kept;
    for (const auto& it : items)
        if (!failed.count(it.path)) kept.push_back(&it);
    if (kept.size() != prepared.images.size()) return make_error("internal error: items and images do not line up");

    torch::NoGradGuard no_grad;
    (*model)->eval();
    const int64_t n = static_cast<int64_t>(kept.size()), bs = 64;
    ProgressBar bar("predict", static_cast<size_t>((n + bs - 1) / bs));
    for (int64_t start = 0; start < n; start += bs) {
        std::vector<int64_t> idx;
        for (int64_t i = start; i < std::min(n, start + bs); ++i) idx.push_back(i);
        Batch b = make_batch(prepared, idx, config->input);
        const torch::Tensor logp = torch::log_softmax((*model)->forward(b.images).to(torch::kFloat32), 1);
        const torch::Tensor best = std::get<1>(logp.max(1));
        for (size_t j = 0; j < idx.size(); ++j) {
            const size_t i = static_cast<size_t>(idx[j]);
            ItemResult it;
            it.path = kept[i]->path;
            it.actual = kept[i]->label;
            it.predicted = static_cast<int>(best[static_cast<int64_t>(j)].item<int64_t>());
            it.prob = std::exp(logp[static_cast<int64_t>(j)][it.predicted].item<double>());
            it.loss = -logp[static_cast<int64_t>(j)][it.actual].item<double>();
            r.items.push_back(std::move(it));
        }
        bar.update(static_cast<size_t>(start / bs + 1));
    }
    bar.finish();
    return r;
}

namespace {

std::string confusion_text(const Interpretation& r, const std::vector<std::vector<int64_t>>& cm, bool normalize) {
    size_t w = 6;
    for (const auto& l : r.vocab) w = std::max(w, l.size());
    std::string out = "confusion matrix (rows actual, columns predicted" + std::string(normalize ? ", row fractions" : "") + ")\n";
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-*s", static_cast<int>(w), "");
    out += buf;
    for (const auto& l : r.vocab) {
        std::snprintf(buf, sizeof buf, " %*s", static_cast<int>(w), l.c_str());
        out += buf;
    }
    out += "\n";
    for (size_t a = 0; a < cm.size(); ++a) {
        std::snprintf(buf, sizeof buf, "%-*s", static_cast<int>(w), r.vocab[a].c_str());
        out += buf;
        const int64_t row = std::accumulate(cm[a].begin(), cm[a].end(), int64_t{0});
        for (size_t p = 0; p < cm[a].size(); ++p) {
            if (normalize)
                std::snprintf(buf, sizeof buf, " %*.2f", static_cast<int>(w), row ? double(cm[a][p]) / row : 0.0);
            else
                std::snprintf(buf, sizeof buf, " %*lld", static_cast<int>(w), static_cast<long long>(cm[a][p]));
            out += buf;
        }
        out += "\n";
    }
    return out;
}

std::string report_html(const InterpretOptions& io, const Interpretation& r,
                        const std::vector<std::vector<int64_t>>& cm,
                        const std::vector<std::tuple<int, int, int64_t>>& confused, const std::vector<size_t>& top) {
    auto config = read_run_config(io.run);
    int64_t wrong = 0;
    for (const auto& it : r.items) wrong += it.actual != it.predicted;
    std::string h;
    h += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ursa interpret: " +
         xml_escape(io.run) + "</title>\n";
    h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src "
         "'unsafe-inline'\">\n";
    h += "<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}"
         "td.label,th.label{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:12px}"
         "figure{margin:0;width:160px}figure img{width:160px;height:160px;object-fit:contain;"
         "image-rendering:pixelated;background:#eee}figcaption{font-size:12px;word-break:break-all}"
         "svg{max-width:100%;height:auto;display:block;margin:8px 0}</style></head><body>\n";
    h += "<h1>What the model gets wrong</h1>\n<p>Run <code>" + xml_escape(io.run) + "</code> (" +
         xml_escape(config->arch) + ", " + std::to_string(config->input.width) + "&times;" +
         std::to_string(config->input.height) + " " + to_string(config->input.resize) + "), data <code>" +
         xml_escape(r.data) + "</code>, " + xml_escape(r.split) + " split: <span id=\"count\">" +
         std::to_string(r.items.size()) + "</span> images, <span id=\"wrong\">" + std::to_string(wrong) +
         "</span> wrong (error rate <span id=\"error-rate\">" +
         fmt("%.4f", r.items.empty() ? 0.0 : double(wrong) / r.items.size()) + "</span>).";
    if (!r.failures.empty()) h += " " + std::to_string(r.failures.size()) + " file(s) could not be read.";
    h += "</p>\n";

    h += "<h2>Training</h2>\n";
    const auto history = read_history(io.run);
    if (history.empty()) h += "<p>No history in the run folder.</p>\n";
    else h += curves_svg(history);
    if (r.train_items > 0) h += schedule_svg(r.options, r.train_items);

    h += "<h2>Confusion matrix</h2>\n<p>Rows: actual label; columns: predicted label" +
         std::string(io.normalize ? " (fractions of each row)" : "") + ".</p>\n<table id=\"confusion\"><tr><th class=\"label\">actual \\ predicted</th>";
    for (const auto& l : r.vocab) h += "<th>" + xml_escape(l) + "</th>";
    h += "</tr>\n";
    for (size_t a = 0; a < cm.size(); ++a) {
        const int64_t row = std::accumulate(cm[a].begin(), cm[a].end(), int64_t{0});
        h += "<tr><th class=\"label\">" + xml_escape(r.vocab[a]) + "</th>";
        for (size_t p = 0; p < cm[a].size(); ++p) {
            const double frac = row ? double(cm[a][p]) / row : 0.0;
            const int shade = static_cast<int>(std::lround(255 - 170 * frac));  // Blues-like: darker = more
            char cell[160];
            std::snprintf(cell, sizeof cell, "<td data-count=\"%lld\" style=\"background:rgb(%d,%d,255)%s\">",
                          static_cast<long long>(cm[a][p]), shade, shade, frac > 0.6 ? ";color:white" : "");
            h += cell;
            h += io.normalize ? fmt("%.2f", frac) : std::to_string(cm[a][p]);
            h += "</td>";
        }
        h += "</tr>\n";
    }
    h += "</table>\n";

    h += "<h2>Most confused</h2>\n";
    if (confused.empty()) {
        h += "<p>No pair of labels is confused " + std::to_string(io.min_val) + " time(s) or more.</p>\n";
    } else {
        h += "<table id=\"most-confused\"><tr><th class=\"label\">actual</th><th class=\"label\">predicted</th><th>count</th></tr>\n";
        for (const auto& [a, p, count] : confused)
            h += "<tr><td class=\"label\">" + xml_escape(r.vocab[a]) + "</td><td class=\"label\">" +
                 xml_escape(r.vocab[p]) + "</td><td>" + std::to_string(count) + "</td></tr>\n";
        h += "</table>\n";
    }

    h += "<h2>Top losses</h2>\n<p>Captions: predicted / actual / loss / probability of the prediction, as fastai's "
         "plot_top_losses. Images as the model saw them.</p>\n<div class=\"grid\" id=\"top-losses\">\n";
    // The top losses as the model saw them (validation transforms), decoded again:
    // only these k images are held in memory.
    for (size_t i : top) {
        const auto& it = r.items[i];
        const Prepared view = prepare_items({{it.path, it.actual}}, config->input, DecodeOptions{r.options.max_pixels},
                                            1, "");
        if (view.images.empty()) continue;  // changed on disk since it was classified
        const std::string caption = r.vocab[it.predicted] + "/" + r.vocab[it.actual] + " / " + fmt("%.2f", it.loss) +
                                    " / " + fmt("%.2f", it.prob);
        h += "<figure class=\"top-loss\" data-file=\"" + xml_escape(it.path) + "\"><img alt=\"" + xml_escape(it.path) +
             "\" src=\"data:image/png;base64," + base64(encode_png(view.images[0])) + "\"><figcaption><b>" +
             xml_escape(caption) + "</b><br>" + xml_escape(it.path) + "</figcaption></figure>\n";
    }
    h += "</div>\n";
    if (!r.failures.empty()) {
        h += "<h2>Files that could not be read</h2>\n<ul>\n";
        for (const auto& f : r.failures) h += "<li><code>" + xml_escape(f.path) + "</code>: " + xml_escape(f.reason) + "</li>\n";
        h += "</ul>\n";
    }
    h += "</body></html>\n";
    return h;
}

}  // namespace

int interpret_command(const InterpretOptions& io) {
    auto r = interpret_run(io);
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().message.c_str());
        return 2;
    }
    for (const auto& f : r->failures) std::fprintf(stderr, "skipped %s: %s\n", f.path.c_str(), f.reason.c_str());
    const auto cm = confusion_matrix(r->items, r->vocab.size());
    const auto confused = most_confused(cm, io.min_val);
    const auto top = top_losses(r->items, static_cast<size_t>(std::max(0, io.top_k)));
    int64_t wrong = 0;
    for (const auto& it : r->items) wrong += it.actual != it.predicted;
    std::printf("%zu %s images, %lld wrong (error rate %.4f)\n\n", r->items.size(), r->split.c_str(),
                static_cast<long long>(wrong), r->items.empty() ? 0.0 : double(wrong) / r->items.size());
    std::printf("%s\n", confusion_text(*r, cm, io.normalize).c_str());
    std::printf("most confused (actual, predicted, count >= %d):\n", io.min_val);
    if (confused.empty()) std::printf("  none\n");
    for (const auto& [a, p, count] : confused)
        std::printf("  %s, %s, %lld\n", r->vocab[a].c_str(), r->vocab[p].c_str(), static_cast<long long>(count));
    std::printf("\ntop losses (predicted / actual / loss / probability):\n");
    for (size_t i : top) {
        const auto& it = r->items[i];
        std::printf("  %s / %s / %.2f / %.2f  %s\n", r->vocab[it.predicted].c_str(), r->vocab[it.actual].c_str(), it.loss,
                    it.prob, it.path.c_str());
    }
    if (!io.out.empty()) {
        if (auto ok = write_file_atomic(io.out, report_html(io, *r, cm, confused, top)); !ok) {
            std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
            return 2;
        }
        std::printf("\nreport written to %s\n", io.out.c_str());
    }
    return r->failures.empty() ? 0 : 1;
}

}  // namespace ursa
