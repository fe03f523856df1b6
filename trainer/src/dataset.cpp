#include "ursa/dataset.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "ursa/io.h"
#include "ursa/progress.h"

namespace fs = std::filesystem;

namespace ursa {

namespace {

const std::set<std::string> kImageExtensions = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif",
                                                ".webp", ".tif", ".tiff", ".avif", ".heic"};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return !name.empty() && name[0] == '.';
}

// (file, label) pairs of the image files under `dir`; label = parent folder name.
void collect(const std::string& dir, std::vector<std::pair<std::string, std::string>>& out) {
    for (const std::string& file : find_image_files(dir))
        out.emplace_back(file, fs::path(file).parent_path().filename().string());
}

using Labelled = std::vector<std::pair<std::string, std::string>>;  // (file, label)

// ref: fastai RandomSplitter — seeded permutation, first int(pct*n) are validation.
void random_split(const Labelled& all, double valid_pct, uint64_t seed, Labelled& train, Labelled& valid) {
    torch::manual_seed(seed);
    const auto perm = torch::randperm(static_cast<int64_t>(all.size()), torch::kLong);
    const int64_t n_valid = static_cast<int64_t>(valid_pct * static_cast<double>(all.size()));
    std::vector<bool> is_valid(all.size(), false);
    for (int64_t i = 0; i < n_valid; ++i) is_valid[perm[i].item<int64_t>()] = true;
    for (size_t i = 0; i < all.size(); ++i) (is_valid[i] ? valid : train).push_back(all[i]);
}

Result<bool> parse_flag(const std::string& v) {
    const std::string l = lower(v);
    if (l == "1" || l == "true" || l == "yes") return true;
    if (l == "0" || l == "false" || l == "no" || l.empty()) return false;
    return make_error("is_valid must be 1/0, true/false or yes/no, not '" + v + "'");
}

// Rows of `file,label[,is_valid]`; a first row naming the columns is skipped. Returns
// whether the is_valid column is there.
Result<bool> read_csv_items(const std::string& dir, const std::string& csv, Labelled& train, Labelled& valid) {
    auto bytes = read_file(csv);
    if (!bytes) return bytes.error();
    auto rows = parse_csv(std::string(bytes->begin(), bytes->end()));
    if (!rows) return make_error(csv + ": " + rows.error().message);
    size_t first = 0;
    if (!rows->empty() && rows->front().size() >= 2 && lower(rows->front()[1]) == "label") first = 1;
    if (rows->size() <= first) return make_error(csv + " has no rows");
    const size_t columns = (*rows)[first].size();
    if (columns != 2 && columns != 3) return make_error(csv + ": expected file,label[,is_valid] columns");
    for (size_t r = first; r < rows->size(); ++r) {
        const auto& row = (*rows)[r];
        const std::string where = csv + " row " + std::to_string(r + 1);
        if (row.size() != columns)
            return make_error(where + " has " + std::to_string(row.size()) + " fields, expected " +
                              std::to_string(columns));
        if (row[0].empty() || row[1].empty()) return make_error(where + ": empty file or label");
        const std::string file = fs::path(row[0]).is_absolute() ? row[0] : (fs::path(dir) / row[0]).string();
        bool is_valid = false;
        if (columns == 3) {
            auto flag = parse_flag(row[2]);
            if (!flag) return make_error(where + ": " + flag.error().message);
            is_valid = *flag;
        }
        (is_valid ? valid : train).emplace_back(file, row[1]);
    }
    return columns == 3;
}

}  // namespace

Result<std::vector<std::vector<std::string>>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, field_started = false;
    int line = 1;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"', ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                line += c == '\n';
                field += c;
            }
        } else if (c == '"' && field.empty() && !field_started) {
            quoted = field_started = true;
        } else if (c == ',') {
            row.push_back(field), field.clear(), field_started = false;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            row.push_back(field), field.clear(), field_started = false;
            if (!(row.size() == 1 && row[0].empty())) rows.push_back(row);  // skip blank lines
            row.clear();
            ++line;
        } else {
            field += c;
            field_started = true;
        }
    }
    if (quoted) return make_error("unterminated quoted field at line " + std::to_string(line));
    if (field_started || !field.empty() || !row.empty()) {
        row.push_back(field);
        rows.push_back(row);
    }
    return rows;
}

std::vector<std::string> find_image_files(const std::string& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        if (hidden(it->path())) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file(ec) && kImageExtensions.count(lower(it->path().extension().string())))
            files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

Result<Dataset> make_dataset(const std::string& dir, const DatasetOptions& options) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return make_error("dataset folder " + dir + " does not exist or is not a folder");
    Dataset ds;
    std::vector<std::pair<std::string, std::string>> train, valid;
    const fs::path tdir = fs::path(dir) / options.train_folder, vdir = fs::path(dir) / options.valid_folder;
    const bool has_folders = fs::is_directory(tdir, ec) && fs::is_directory(vdir, ec);
    if (options.split == "folder" && !has_folders)
        return make_error("--split folder needs " + tdir.string() + " and " + vdir.string());
    if (options.split != "auto" && options.split != "folder" && options.split != "random")
        return make_error("unknown split '" + options.split + "' (expected auto, folder or random)");
    const bool random_ok = options.valid_pct > 0 && options.valid_pct < 1;
    if (!options.csv.empty()) {
        Labelled rows, csv_valid;
        auto has_split = read_csv_items(dir, options.csv, rows, csv_valid);
        if (!has_split) return has_split.error();
        if (*has_split) {
            ds.split = "csv";
            train = std::move(rows), valid = std::move(csv_valid);
            if (valid.empty()) return make_error(options.csv + ": no row has is_valid set, so there is nothing to validate on");
        } else {
            if (!random_ok) return make_error("--valid-pct must be between 0 and 1 (exclusive)");
            ds.split = "random";
            random_split(rows, options.valid_pct, options.seed, train, valid);
        }
        if (train.empty()) return make_error(options.csv + ": every row is a validation row");
    } else if (options.split == "folder" || (options.split == "auto" && has_folders)) {
        ds.split = "folder";
        collect(tdir.string(), train);
        collect(vdir.string(), valid);
    } else {
        ds.split = "random";
        if (!random_ok) return make_error("--valid-pct must be between 0 and 1 (exclusive)");
        Labelled all;
        collect(dir, all);
        random_split(all, options.valid_pct, options.seed, train, valid);
    }
    if (train.empty()) return make_error("no training images found under " + dir);
    std::set<std::string> labels;
    for (const auto& [file, label] : train) labels.insert(label);
    for (const auto& [file, label] : valid) labels.insert(label);
    ds.vocab.assign(labels.begin(), labels.end());
    if (ds.vocab.size() < 2)
        return make_error("found only one label ('" + ds.vocab[0] + "') under " + dir +
                          ": put each class's images in its own folder, e.g. photos/grizzly/*.jpg");
    if (valid.empty()) {
        if (ds.split == "folder") return make_error("no validation images found under " + vdir.string());
        return make_error("the validation split is empty: --valid-pct " + std::to_string(options.valid_pct).substr(0, 4) +
                          " of " + std::to_string(train.size()) + " images is less than one; add images or raise --valid-pct");
    }
    auto index = [&](const std::string& l) {
        return static_cast<int>(std::lower_bound(ds.vocab.begin(), ds.vocab.end(), l) - ds.vocab.begin());
    };
    for (const auto& [file, label] : train) ds.train.push_back({file, index(label)});
    for (const auto& [file, label] : valid) ds.valid.push_back({file, index(label)});
    return ds;
}

namespace {

// The strip of prepare_items: short side = the model size, long side ≤ twice it.
Result<Image> decode_strip(const uint8_t* data, size_t size, const InputSpec& spec, const DecodeOptions& decode) {
    auto decoded = decode_rgba(data, size, decode);
    if (!decoded) return decoded.error();
    const double w = decoded->upright_width(), h = decoded->upright_height();
    int sw = spec.width, sh = spec.height;
    if (w / h > static_cast<double>(spec.width) / spec.height)
        sw = std::min(2 * spec.width, std::max(spec.width, static_cast<int>(std::lround(w * spec.height / h))));
    else
        sh = std::min(2 * spec.height, std::max(spec.height, static_cast<int>(std::lround(h * spec.width / w))));
    return fit_decoded(*decoded, sw, sh, ResizeMethod::Crop, spec.pad_mode, decode);
}

// The whole image of Storage::whole: upright, kept as it is up to a short side of
// three times the model size (and a long side of six times), else shrunk (squished,
// Pillow bilinear) to a short side of twice the model size (long side at most six
// times). Photos a little over twice the size (400 x 300 at 128 px, as `ursa download
// --max-size 400` saves them) are not resampled twice for a gain of little memory.
Result<Image> decode_whole(const uint8_t* data, size_t size, const InputSpec& spec, const DecodeOptions& decode) {
    auto decoded = decode_rgba(data, size, decode);
    if (!decoded) return decoded.error();
    const int w = decoded->upright_width(), h = decoded->upright_height();
    const double n = std::max(spec.width, spec.height);
    if (std::min(w, h) <= 3 * n && std::max(w, h) <= 6 * n) return to_image(*decoded, decode);
    const double scale = std::min({1.0, 2 * n / std::min(w, h), 6 * n / std::max(w, h)});
    const int sw = std::max(1, static_cast<int>(std::lround(w * scale)));
    const int sh = std::max(1, static_cast<int>(std::lround(h * scale)));
    return fit_decoded(*decoded, sw, sh, ResizeMethod::Squish, spec.pad_mode, decode);
}

}  // namespace

Prepared prepare_items(const std::vector<Item>& items, const InputSpec& spec, const DecodeOptions& decode,
                       int threads, const std::string& title, Storage storage) {
    std::vector<Image> images(items.size());
    std::vector<std::string> errors(items.size());
    parallel_for_with_progress(items.size(), threads, title, [&](size_t i) {
        auto bytes = read_file(items[i].path);
        if (!bytes) {
            errors[i] = bytes.error().message;
        } else if (auto img = storage == Storage::crop_strips ? decode_strip(bytes->data(), bytes->size(), spec, decode)
                              : storage == Storage::whole
                                  ? decode_whole(bytes->data(), bytes->size(), spec, decode)
                                  : decode_fit(bytes->data(), bytes->size(), spec.width, spec.height, spec.resize,
                                               spec.pad_mode, decode);
                   !img) {
            errors[i] = img.error().message;
        } else {
            images[i] = std::move(*img);
        }
    });

    Prepared out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!errors[i].empty()) {
            out.failures.push_back({items[i].path, errors[i]});
            continue;
        }
        out.images.push_back(std::move(images[i]));
        out.labels.push_back(items[i].label);
    }
    return out;
}

torch::Tensor per_channel(const std::array<float, 3>& v) {
    return torch::tensor({v[0], v[1], v[2]}).view({1, 3, 1, 1});
}

Batch make_batch(const Prepared& data, const std::vector<int64_t>& indices, const InputSpec& spec,
                 const std::vector<AugParams>* aug, int threads) {
    const int64_t b = static_cast<int64_t>(indices.size()), h = spec.height, w = spec.width;
    Batch batch;
    batch.labels = torch::empty({b}, torch::kLong);
    int64_t* lab = batch.labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) lab[i] = data.labels[indices[i]];
    batch.images = torch::empty({b, 3, h, w}, torch::kFloat32);
    float* dst = batch.images.data_ptr<float>();
    if (aug) {  // [0,1] pixels → augmented → normalised, as fastai's batch_tfms order them
        // Each item is cut (and, for random-resized-crop, resampled) and augmented on
        // its own: the batch does not depend on the thread count.
        parallel_for_with_progress(static_cast<size_t>(b), threads, "", [&](size_t item) {
            const int64_t i = static_cast<int64_t>(item);
            const Image& stored = data.images[indices[i]];  // h x w, a strip, or a whole image
            const AugParams& a = (*aug)[i];
            Image cropped;
            if (spec.resize == ResizeMethod::RandomResizedCrop) {  // fastai's window, resized to h x w
                std::mt19937_64 rng(a.rrc_seed);
                const CropBox c = random_resized_crop_box(stored.width, stored.height, a.rrc_min_scale, rng);
                cropped = resample(stored, static_cast<int>(w), static_cast<int>(h), Filter::Bilinear, c.x0, c.y0,
                                   c.x0 + c.width, c.y0 + c.height);
            }
            const Image& img = spec.resize == ResizeMethod::RandomResizedCrop ? cropped : stored;
            const int x0 = static_cast<int>(a.crop_pct * (img.width - w));
            const int y0 = static_cast<int>(a.crop_pct * (img.height - h));
            augment_image(img.at(x0, y0), static_cast<int64_t>(img.width) * 3, static_cast<int>(h), static_cast<int>(w),
                          a, spec.mean, spec.std, dst + i * 3 * h * w);
        });
        return batch;
    }
    std::vector<float> chw;
    for (int64_t i = 0; i < b; ++i) {
        chw.clear();
        normalize_to_chw(data.images[indices[i]], spec.mean, spec.std, chw);
        std::copy(chw.begin(), chw.end(), dst + i * 3 * h * w);
    }
    return batch;
}

}  // namespace ursa
