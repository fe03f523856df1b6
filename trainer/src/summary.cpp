// `ursa summary`: one training item through every step of the data pipeline.
#include <cstdio>
#include <random>

#include "ursa/augment.h"
#include "ursa/dataset.h"
#include "ursa/io.h"
#include "ursa/learner.h"

namespace ursa {

int summarize(const TrainOptions& o, int64_t item) {
    auto ds = make_dataset(o.data, o.dataset);
    if (!ds) {
        std::fprintf(stderr, "error: %s\n", ds.error().message.c_str());
        return 2;
    }
    std::printf("dataset     %s: %zu labels, %zu train / %zu valid images (%s split", o.data.c_str(), ds->vocab.size(),
                ds->train.size(), ds->valid.size(), ds->split.c_str());
    if (ds->split == "random") std::printf(", valid_pct %g, seed %llu", o.dataset.valid_pct,
                                           static_cast<unsigned long long>(o.dataset.seed));
    std::printf(")\nvocab      ");
    for (const auto& label : ds->vocab) std::printf(" %s", label.c_str());
    std::printf("\n");
    if (item >= static_cast<int64_t>(ds->train.size())) {
        std::fprintf(stderr, "error: --item %lld: there are %zu training items\n", static_cast<long long>(item),
                     ds->train.size());
        return 2;
    }
    const Item& it = ds->train[static_cast<size_t>(item)];
    std::printf("%-12s%s\nlabel       %s (index %d)\n", ("item " + std::to_string(item)).c_str(), it.path.c_str(),
                ds->vocab[it.label].c_str(), it.label);

    auto bytes = read_file(it.path);
    if (!bytes) {
        std::fprintf(stderr, "error: %s\n", bytes.error().message.c_str());
        return 1;
    }
    DecodeOptions decode{o.max_pixels};
    auto decoded = decode_rgba(bytes->data(), bytes->size(), decode);
    if (!decoded) {
        std::fprintf(stderr, "error: %s: %s\n", it.path.c_str(), decoded.error().message.c_str());
        return 1;
    }
    const int w = decoded->upright_width(), h = decoded->upright_height();
    std::printf("decode      %s, %d x %d, %s, EXIF orientation %d -> upright %d x %d RGB\n",
                sniff_format(bytes->data(), bytes->size()).c_str(), decoded->width, decoded->height,
                decoded->opaque ? "opaque" : "alpha composited over white", decoded->orientation, w, h);
    const FitWindow win = fit_window(w, h, o.size, o.size, o.resize);
    std::printf("resize      %s: window %d x %d at (%d, %d)%s -> %d x %d, Pillow's antialiased bilinear%s\n",
                to_string(o.resize), win.width, win.height, win.x0, win.y0,
                o.resize == ResizeMethod::Pad ? (std::string(", padded with ") + to_string(o.pad_mode)).c_str() : "",
                o.size, o.size,
                uses_crop_strips(o) ? " (centred for validation; at a random position along "
                                      "the long side for training)"
                : o.resize == ResizeMethod::RandomResizedCrop
                    ? (" (validation: squished to " + std::to_string(o.size + rrc_valid_margin(o.size, o.size)) +
                       ", centre " + std::to_string(o.size) +
                       " cut out; training: fastai's random window, area " + std::to_string(o.aug.min_scale).substr(0, 4) +
                       "-1 of the image, ratio 3/4-4/3)").c_str()
                    : "");
    auto fitted = fit_decoded(*decoded, o.size, o.size, o.resize, o.pad_mode, decode);
    if (!fitted) {
        std::fprintf(stderr, "error: %s: %s\n", it.path.c_str(), fitted.error().message.c_str());
        return 1;
    }
    std::mt19937_64 rng(o.seed);
    const AugParams p = draw_aug_params(rng, batch_aug_options(o));
    if (o.augment) {
        std::printf("augment     training batches only (an example draw): flip %s, rotate %.1f deg, zoom %.3f at "
                    "(%.2f, %.2f), warp (%.3f, %.3f), brightness %.3f, contrast %.3f; reflection padding\n",
                    p.flip ? "yes" : "no", p.rotate_deg, p.zoom, p.col_pct, p.row_pct, p.warp_x, p.warp_y,
                    p.brightness, p.contrast);
    } else {
        std::printf("augment     off (--no-aug)\n");
    }
    if (o.aug.erase_p > 0) {
        const CropBox e = erase_box(o.size, o.size, p);
        char drawn[96] = "no box";
        if (e.width > 0)
            std::snprintf(drawn, sizeof drawn, "a %d x %d box at (%d, %d)", e.width, e.height, e.x0, e.y0);
        std::printf("erase       training images with p %.2f, after normalize: a box of up to %.0f %% of the area, "
                    "aspect 0.3-3.3, of N(0,1) noise (the example draw: %s)\n",
                    o.aug.erase_p, 100 * o.aug.erase_max_area, drawn);
    }
    const InputSpec spec = input_spec(o);
    std::vector<float> chw;
    normalize_to_chw(*fitted, spec.mean, spec.std, chw);
    const size_t plane = static_cast<size_t>(o.size) * o.size;
    std::printf("normalize   (x/255 - mean) / std, mean [%.3f %.3f %.3f], std [%.3f %.3f %.3f] -> float32 [3, %d, %d];",
                spec.mean[0], spec.mean[1], spec.mean[2], spec.std[0], spec.std[1], spec.std[2], o.size, o.size);
    for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (size_t i = 0; i < plane; ++i) sum += chw[c * plane + i];
        std::printf(" %s mean %.3f", c == 0 ? "R" : c == 1 ? "G" : "B", sum / plane);
    }
    std::printf("\nbatch       %d images -> [%d, 3, %d, %d] float32 and [%d] int64 labels; training shuffled, last "
                "partial batch dropped; validation in order\n",
                o.batch_size, o.batch_size, o.size, o.size, o.batch_size);
    return 0;
}

}  // namespace ursa
