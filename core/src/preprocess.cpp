#include "ursa/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ursa {

namespace {

// ref: Pillow libImaging/Resample.c — fixed-point coefficients with 22 fraction bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear_filter(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

struct Coefficients {
    int ksize = 0;
    std::vector<int> bounds;    // per output pixel: first input index, count
    std::vector<int32_t> kk;    // per output pixel: ksize fixed-point weights
};

// ref: Pillow precompute_coeffs: the filter support widens with the downscale factor.
Coefficients precompute(int in_size, double in0, double in1, int out_size) {
    const double support_base = 1.0;  // bilinear
    const double scale = (in1 - in0) / out_size;
    const double filterscale = std::max(scale, 1.0);
    const double support = support_base * filterscale;
    Coefficients c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(static_cast<size_t>(out_size) * 2);
    c.kk.assign(static_cast<size_t>(out_size) * c.ksize, 0);
    std::vector<double> k(c.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = in0 + (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            k[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; ++x) {
            const double w = ww != 0.0 ? k[x] / ww : k[x];
            // ref: Pillow normalize_coeffs_8bpc rounds half away from zero
            c.kk[static_cast<size_t>(xx) * c.ksize + x] =
                static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
        }
        c.bounds[xx * 2] = xmin;
        c.bounds[xx * 2 + 1] = xmax;
    }
    return c;
}

inline uint8_t clip8(int32_t v) {
    v >>= kPrecisionBits;
    return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass over rows [row0, row0 + rows) of `src`.
Image pass_horizontal(const Image& src, int out_w, int row0, int rows, const Coefficients& c) {
    Image out;
    out.width = out_w;
    out.height = rows;
    out.pixels.resize(static_cast<size_t>(out_w) * rows * 3);
    for (int y = 0; y < rows; ++y) {
        const uint8_t* in = src.at(0, y + row0);
        uint8_t* o = &out.pixels[static_cast<size_t>(y) * out_w * 3];
        for (int xx = 0; xx < out_w; ++xx) {
            const int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1];
            const int32_t* k = &c.kk[static_cast<size_t>(xx) * c.ksize];
            int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xmax; ++x) {
                const uint8_t* p = in + (x + xmin) * 3;
                s0 += p[0] * k[x], s1 += p[1] * k[x], s2 += p[2] * k[x];
            }
            o[xx * 3] = clip8(s0), o[xx * 3 + 1] = clip8(s1), o[xx * 3 + 2] = clip8(s2);
        }
    }
    return out;
}

Image pass_vertical(const Image& src, int out_h, const Coefficients& c, int row_shift) {
    Image out;
    out.width = src.width;
    out.height = out_h;
    out.pixels.resize(static_cast<size_t>(src.width) * out_h * 3);
    const size_t stride = static_cast<size_t>(src.width) * 3;
    for (int yy = 0; yy < out_h; ++yy) {
        const int ymin = c.bounds[yy * 2] - row_shift, ymax = c.bounds[yy * 2 + 1];
        const int32_t* k = &c.kk[static_cast<size_t>(yy) * c.ksize];
        uint8_t* o = &out.pixels[yy * stride];
        for (size_t i = 0; i < stride; ++i) {
            int32_t s = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < ymax; ++y) s += src.pixels[(ymin + y) * stride + i] * k[y];
            o[i] = clip8(s);
        }
    }
    return out;
}

// ref: Pillow ImagingScaleAffine — nearest takes the pixel under each output centre;
// positions are accumulated step by step in double precision, as Pillow does.
std::vector<int> nearest_table(int out_size, double start, double step, int in_size) {
    std::vector<int> table(out_size);
    double pos = start + step * 0.5;
    for (int i = 0; i < out_size; ++i, pos += step)
        table[i] = std::clamp(pos < 0.0 ? 0 : static_cast<int>(pos), 0, in_size - 1);
    return table;
}

Image resample_nearest(const Image& src, int out_w, int out_h, double x0, double y0, double x1, double y1) {
    Image out;
    out.width = out_w;
    out.height = out_h;
    out.pixels.resize(static_cast<size_t>(out_w) * out_h * 3);
    const std::vector<int> xs = nearest_table(out_w, x0, (x1 - x0) / out_w, src.width);
    const std::vector<int> ys = nearest_table(out_h, y0, (y1 - y0) / out_h, src.height);
    for (int y = 0; y < out_h; ++y)
        for (int x = 0; x < out_w; ++x)
            std::copy_n(src.at(xs[x], ys[y]), 3, &out.pixels[(static_cast<size_t>(y) * out_w + x) * 3]);
    return out;
}

// A copy of the integer window [x0,x0+w)x[y0,y0+h); parts outside `src` are zero.
Image crop_pad(const Image& src, int x0, int y0, int w, int h) {
    Image out;
    out.width = w;
    out.height = h;
    out.pixels.assign(static_cast<size_t>(w) * h * 3, 0);
    for (int y = std::max(0, -y0); y < h && y + y0 < src.height; ++y) {
        const int xs = std::max(0, -x0), xe = std::min(w, src.width - x0);
        if (xe <= xs) continue;
        std::copy_n(src.at(xs + x0, y + y0), static_cast<size_t>(xe - xs) * 3,
                    &out.pixels[(static_cast<size_t>(y) * w + xs) * 3]);
    }
    return out;
}

}  // namespace

const char* to_string(ResizeMethod method) {
    switch (method) {
        case ResizeMethod::Crop: return "crop";
        case ResizeMethod::Squish: return "squish";
        case ResizeMethod::Pad: return "pad";
    }
    return "squish";
}

Result<ResizeMethod> parse_resize_method(const std::string& name) {
    if (name == "crop") return ResizeMethod::Crop;
    if (name == "squish") return ResizeMethod::Squish;
    if (name == "pad") return ResizeMethod::Pad;
    return make_error("unknown resize method '" + name + "' (expected crop, squish or pad)");
}

// ref: Pillow ImagingResampleInner — horizontal pass on the rows the vertical pass
// needs, then vertical pass; a pass is skipped when its axis is unchanged.
Image resample(const Image& src, int out_w, int out_h, Filter filter, double x0, double y0, double x1,
               double y1) {
    if (out_w == src.width && out_h == src.height && x0 == 0 && y0 == 0 && x1 == src.width && y1 == src.height)
        return src;
    if (filter == Filter::Nearest) return resample_nearest(src, out_w, out_h, x0, y0, x1, y1);
    const bool need_h = out_w != src.width || x0 != 0 || x1 != out_w;
    const bool need_v = out_h != src.height || y0 != 0 || y1 != out_h;
    const Coefficients ch = precompute(src.width, x0, x1, out_w);
    const Coefficients cv = precompute(src.height, y0, y1, out_h);
    const int first = cv.bounds[0];
    const int last = cv.bounds[out_h * 2 - 2] + cv.bounds[out_h * 2 - 1];
    if (need_h) {
        Image tmp = pass_horizontal(src, out_w, first, last - first, ch);
        return need_v ? pass_vertical(tmp, out_h, cv, first) : tmp;
    }
    return need_v ? pass_vertical(src, out_h, cv, 0) : src;
}

Image resize(const Image& src, int out_w, int out_h, Filter filter) {
    return resample(src, out_w, out_h, filter, 0, 0, src.width, src.height);
}

// ref: fastai vision/augment.py Resize.encodes with pcts (0.5, 0.5): an integer
// window of the target aspect (largest inside for crop, smallest outside for pad),
// cropped or zero-padded, then resized.
Image fit(const Image& src, int width, int height, ResizeMethod method, Filter filter) {
    if (method == ResizeMethod::Squish) return resize(src, width, height, filter);
    const double rw = static_cast<double>(src.width) / width, rh = static_cast<double>(src.height) / height;
    const double m = method == ResizeMethod::Crop ? std::min(rw, rh) : std::max(rw, rh);
    const int cw = std::max(1, static_cast<int>(m * width)), chh = std::max(1, static_cast<int>(m * height));
    // Python's int() truncates toward zero, also for the negative offsets of pad.
    const int x0 = static_cast<int>(0.5 * (src.width - cw)), y0 = static_cast<int>(0.5 * (src.height - chh));
    return resize(crop_pad(src, x0, y0, cw, chh), width, height, filter);
}

void normalize_to_chw(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                      std::vector<float>& out) {
    const size_t plane = static_cast<size_t>(image.width) * image.height;
    const size_t base = out.size();
    out.resize(base + plane * 3);
    for (int c = 0; c < 3; ++c) {
        const float scale = 1.f / (255.f * std[c]), shift = mean[c] / std[c];
        float* dst = &out[base + plane * c];
        for (size_t i = 0; i < plane; ++i) dst[i] = image.pixels[i * 3 + c] * scale - shift;
    }
}

std::vector<float> image_to_tensor(const Image& image, const InputSpec& spec) {
    std::vector<float> out;
    out.reserve(static_cast<size_t>(3) * spec.width * spec.height);
    normalize_to_chw(fit(image, spec.width, spec.height, spec.resize), spec.mean, spec.std, out);
    return out;
}

Result<std::vector<float>> preprocess(const uint8_t* data, size_t size, const InputSpec& spec,
                                      const DecodeOptions& options) {
    Result<Image> image = decode_image(data, size, options);
    if (!image) return image.error();
    return image_to_tensor(*image, spec);
}

}  // namespace ursa
