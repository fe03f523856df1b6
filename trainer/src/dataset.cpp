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

}  // namespace

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
    if (options.split == "folder" || (options.split == "auto" && has_folders)) {
        ds.split = "folder";
        collect(tdir.string(), train);
        collect(vdir.string(), valid);
    } else {
        ds.split = "random";
        if (!(options.valid_pct > 0 && options.valid_pct < 1))
            return make_error("--valid-pct must be between 0 and 1 (exclusive)");
        std::vector<std::pair<std::string, std::string>> all;
        collect(dir, all);
        // ref: fastai RandomSplitter — seeded permutation, first int(pct*n) are validation.
        torch::manual_seed(options.seed);
        const auto perm = torch::randperm(static_cast<int64_t>(all.size()), torch::kLong);
        const int64_t n_valid = static_cast<int64_t>(options.valid_pct * static_cast<double>(all.size()));
        std::vector<bool> is_valid(all.size(), false);
        for (int64_t i = 0; i < n_valid; ++i) is_valid[perm[i].item<int64_t>()] = true;
        for (size_t i = 0; i < all.size(); ++i) (is_valid[i] ? valid : train).push_back(all[i]);
    }
    if (train.empty()) return make_error("no training images found under " + dir);
    std::set<std::string> labels;
    for (const auto& [file, label] : train) labels.insert(label);
    for (const auto& [file, label] : valid) labels.insert(label);
    ds.vocab.assign(labels.begin(), labels.end());
    if (ds.vocab.size() < 2)
        return make_error("found only one label ('" + ds.vocab[0] + "') under " + dir +
                          ": put each class's images in its own folder, e.g. photos/grizzly/*.jpg");
    auto index = [&](const std::string& l) {
        return static_cast<int>(std::lower_bound(ds.vocab.begin(), ds.vocab.end(), l) - ds.vocab.begin());
    };
    for (const auto& [file, label] : train) ds.train.push_back({file, index(label)});
    for (const auto& [file, label] : valid) ds.valid.push_back({file, index(label)});
    return ds;
}

Prepared prepare_items(const std::vector<Item>& items, const InputSpec& spec, const DecodeOptions& decode,
                       int threads, const std::string& title) {
    std::vector<Image> images(items.size());
    std::vector<std::string> errors(items.size());
    parallel_for_with_progress(items.size(), threads, title, [&](size_t i) {
        auto bytes = read_file(items[i].path);
        if (!bytes) {
            errors[i] = bytes.error().message;
        } else if (auto img = decode_fit(bytes->data(), bytes->size(), spec.width, spec.height, spec.resize,
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

Batch make_batch(const Prepared& data, const std::vector<int64_t>& indices, const InputSpec& spec,
                 const std::vector<AugParams>* aug) {
    const int64_t b = static_cast<int64_t>(indices.size()), h = spec.height, w = spec.width;
    Batch batch;
    batch.labels = torch::empty({b}, torch::kLong);
    int64_t* lab = batch.labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < b; ++i) lab[i] = data.labels[indices[i]];
    if (aug) {  // [0,1] pixels → augmented → normalised, as fastai's batch_tfms order them
        torch::Tensor pixels = torch::empty({b, h, w, 3}, torch::kUInt8);
        uint8_t* p = pixels.data_ptr<uint8_t>();
        for (int64_t i = 0; i < b; ++i)
            std::copy(data.images[indices[i]].pixels.begin(), data.images[indices[i]].pixels.end(), p + i * h * w * 3);
        torch::Tensor x = pixels.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0f).contiguous();
        x = augment_batch(x, *aug);
        const torch::Tensor mean = torch::tensor({spec.mean[0], spec.mean[1], spec.mean[2]}).view({1, 3, 1, 1});
        const torch::Tensor std = torch::tensor({spec.std[0], spec.std[1], spec.std[2]}).view({1, 3, 1, 1});
        batch.images = ((x - mean) / std).contiguous();
        return batch;
    }
    batch.images = torch::empty({b, 3, h, w}, torch::kFloat32);
    float* dst = batch.images.data_ptr<float>();
    std::vector<float> chw;
    for (int64_t i = 0; i < b; ++i) {
        chw.clear();
        normalize_to_chw(data.images[indices[i]], spec.mean, spec.std, chw);
        std::copy(chw.begin(), chw.end(), dst + i * 3 * h * w);
    }
    return batch;
}

}  // namespace ursa
