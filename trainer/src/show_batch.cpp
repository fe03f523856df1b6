// `ursa show-batch`: what the model is fed, as a picture (fastai's show_batch).
#include <algorithm>
#include <cstdio>
#include <random>

#include <stb_easy_font.h>

#include "ursa/augment.h"
#include "ursa/dataset.h"
#include "ursa/io.h"
#include "ursa/learner.h"

namespace ursa {

namespace {

constexpr int kTextScale = 2;
constexpr int kLabelHeight = 12 * kTextScale + 6;

// Draws `text` (ASCII; others shown as '?') at (x, y) in dark grey: stb_easy_font's
// quads are axis-aligned rectangles, filled here pixel by pixel.
void draw_text(Image& img, int x, int y, const std::string& text, int max_width) {
    std::string ascii = text;
    for (char& c : ascii)
        if (c < 32 || c > 126) c = '?';
    while (ascii.size() > 2 && stb_easy_font_width(ascii.data()) * kTextScale > max_width)  // too long: cut, end in ..
        ascii = ascii.substr(0, ascii.size() - (ascii.size() > 3 && ascii.compare(ascii.size() - 2, 2, "..") == 0 ? 3 : 1)) + "..";
    std::vector<char> quads(ascii.size() * 270 + 1024);
    const int n = stb_easy_font_print(0, 0, ascii.data(), nullptr, quads.data(), static_cast<int>(quads.size()));
    for (int q = 0; q < n; ++q) {
        const float* v0 = reinterpret_cast<const float*>(&quads[(q * 4 + 0) * 16]);
        const float* v2 = reinterpret_cast<const float*>(&quads[(q * 4 + 2) * 16]);
        for (int py = static_cast<int>(v0[1] * kTextScale); py < static_cast<int>(v2[1] * kTextScale); ++py)
            for (int px = static_cast<int>(v0[0] * kTextScale); px < static_cast<int>(v2[0] * kTextScale); ++px) {
                const int ix = x + px, iy = y + py;
                if (ix >= 0 && iy >= 0 && ix < img.width && iy < img.height) std::fill_n(img.at(ix, iy), 3, 40);
            }
    }
}

}  // namespace

int show_batch(const TrainOptions& o, int rows, bool unique, const std::string& out) {
    auto ds = make_dataset(o.data, o.dataset);
    if (!ds) {
        std::fprintf(stderr, "error: %s\n", ds.error().message.c_str());
        return 2;
    }
    const size_t n = static_cast<size_t>(rows) * rows;
    std::mt19937_64 rng(o.seed);
    std::vector<Item> items = ds->train;
    std::shuffle(items.begin(), items.end(), rng);
    items.resize(std::min(items.size(), unique ? size_t{1} : n));
    const InputSpec spec = input_spec(o);
    Prepared data = prepare_items(items, spec, DecodeOptions{o.max_pixels}, 1, "load", training_storage(o));
    for (const auto& f : data.failures) std::fprintf(stderr, "%s: %s\n", f.path.c_str(), f.reason.c_str());
    if (data.images.empty()) {
        std::fprintf(stderr, "error: none of the chosen images could be read\n");
        return 1;
    }
    std::vector<int64_t> idx;
    for (size_t i = 0; i < (unique ? n : data.images.size()); ++i) idx.push_back(static_cast<int64_t>(i % data.images.size()));
    std::vector<AugParams> aug;
    const AugOptions drawn = batch_aug_options(o);
    for (size_t i = 0; i < idx.size(); ++i)
        aug.push_back(draws_batch_params(o) ? draw_aug_params(rng, drawn) : AugParams{});
    const Batch batch = make_batch(data, idx, spec, &aug);
    // Back to pixels: x * std + mean, as show_batch decodes the normalised batch.
    const torch::Tensor pixels =
        ((batch.images * per_channel(spec.std) + per_channel(spec.mean)) * 255.0f).round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();

    const int tile = std::max(o.size, 128);  // small inputs are shown enlarged (nearest)
    const int cols = rows, grid_rows = static_cast<int>((idx.size() + cols - 1) / cols), gap = 8;
    Image sheet;
    sheet.width = cols * tile + (cols + 1) * gap;
    sheet.height = grid_rows * (tile + kLabelHeight) + (grid_rows + 1) * gap;
    sheet.pixels.assign(static_cast<size_t>(sheet.width) * sheet.height * 3, 255);
    for (size_t i = 0; i < idx.size(); ++i) {
        Image im;
        im.width = im.height = o.size;
        const uint8_t* p = pixels[static_cast<int64_t>(i)].data_ptr<uint8_t>();
        im.pixels.assign(p, p + static_cast<size_t>(o.size) * o.size * 3);
        const Image shown = tile == o.size ? im : resize(im, tile, tile, Filter::Nearest);
        const int x0 = gap + static_cast<int>(i % cols) * (tile + gap);
        const int y0 = gap + static_cast<int>(i / cols) * (tile + kLabelHeight + gap);
        for (int y = 0; y < tile; ++y) std::copy_n(shown.at(0, y), tile * 3, sheet.at(x0, y0 + y));
        draw_text(sheet, x0, y0 + tile + 4, ds->vocab[data.labels[idx[i]]], tile);
    }
    const auto png = encode_png(sheet);
    if (auto ok = write_file_atomic(out, png.data(), png.size()); !ok) {
        std::fprintf(stderr, "error: %s\n", ok.error().message.c_str());
        return 1;
    }
    std::printf("wrote %s: %zu %s training image%s (%s), %d x %d\n", out.c_str(), idx.size(),
                o.augment ? "augmented" : "plain", idx.size() == 1 ? "" : "s",
                unique ? "one image, many draws" : "random items", sheet.width, sheet.height);
    return data.failures.empty() ? 0 : 1;
}

}  // namespace ursa
