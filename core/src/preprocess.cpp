#include "ursa/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <cstring>
#include <utility>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__EMSCRIPTEN__)
#include <immintrin.h>
#endif

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

// A window [x0, x0 + w) x [y0, y0 + h) over an image; what lies outside the image
// reads as `pad` makes it (zero, the nearest edge pixel, or the mirror image).
// fastai's crop and pad are windows. Pad's canvas can be many times the photo's size
// (a 63296x48 panorama padded square is 3 G pixels), so it is never made: each tap
// outside the image is moved onto the image pixel it would copy, or dropped for zeros.
struct Window {
    int x0 = 0, y0 = 0, w = 0, h = 0;
    PadMode pad = PadMode::Zeros;
};

// Read-only pixels with 3 (RGB) or 4 (RGBA, alpha ignored) bytes each: an Image, or
// an opaque decoder buffer used in place (no repacking pass over a 12 MP photo).
struct View {
    const uint8_t* pixels = nullptr;
    int width = 0, height = 0, channels = 3;
    const uint8_t* row(int y) const { return pixels + static_cast<size_t>(y) * width * channels; }
};

View view_of(const Image& image) { return View{image.pixels.data(), image.width, image.height, 3}; }

// The image index that index i of a padded axis copies, or -1 for zero padding.
// ref: numpy.pad modes "edge" and "reflect" (mirror without repeating the edge, over
// and over when the padding is wider than the image), which torchvision's pad uses
// for PIL images and fastai's PadMode.Border / Reflection select.
int source_index(int i, int size, PadMode pad) {
    if (i >= 0 && i < size) return i;
    switch (pad) {
        case PadMode::Zeros: return -1;
        case PadMode::Border: return i < 0 ? 0 : size - 1;
        case PadMode::Reflection: {
            if (size == 1) return 0;
            const int period = 2 * (size - 1);
            int m = i % period;
            if (m < 0) m += period;
            return m < size ? m : period - m;
        }
    }
    return -1;
}

// Moves coefficients from window to image coordinates. Taps outside the image are
// dropped (zeros) or their weights added to the tap of the pixel they copy; the
// integer sums equal Pillow's over the padded canvas. A contiguous run of taps maps
// onto a contiguous run no longer than itself, so each kernel still fits in ksize.
void fold_to_image(Coefficients& c, int offset, int size, PadMode pad) {
    std::vector<int32_t> folded(c.ksize);
    for (size_t i = 0; i < c.bounds.size() / 2; ++i) {
        const int start = c.bounds[i * 2] + offset, count = c.bounds[i * 2 + 1];
        int32_t* k = &c.kk[i * c.ksize];
        if (pad == PadMode::Zeros || (start >= 0 && start + count <= size)) {
            const int lo = std::clamp(-start, 0, count), hi = std::clamp(size - start, lo, count);
            std::copy(k + lo, k + hi, k);
            c.bounds[i * 2] = start + lo;
            c.bounds[i * 2 + 1] = hi - lo;
            continue;
        }
        int lo = size, hi = -1;
        for (int t = 0; t < count; ++t) {
            const int j = source_index(start + t, size, pad);
            lo = std::min(lo, j), hi = std::max(hi, j);
        }
        std::fill(folded.begin(), folded.end(), 0);
        for (int t = 0; t < count; ++t) folded[source_index(start + t, size, pad) - lo] += k[t];
        std::copy(folded.begin(), folded.end(), k);
        c.bounds[i * 2] = count > 0 ? lo : 0;
        c.bounds[i * 2 + 1] = count > 0 ? hi - lo + 1 : 0;
    }
}

// For each of n window indices from `offset`: the image index it copies, or -1.
std::vector<int> index_table(int offset, int n, int size, PadMode pad) {
    std::vector<int> table(n);
    for (int i = 0; i < n; ++i) table[i] = source_index(offset + i, size, pad);
    return table;
}

// Copies the pixels that `cols` names from an image row (-1: leaves zero) as RGB.
void gather_row(const uint8_t* in, int channels, const std::vector<int>& cols, uint8_t* out) {
    for (size_t x = 0; x < cols.size(); ++x)
        if (cols[x] >= 0) std::copy_n(in + static_cast<size_t>(cols[x]) * channels, 3, out + x * 3);
}

Image blank(int w, int h) {
    Image out;
    out.width = w;
    out.height = h;
    out.pixels.assign(static_cast<size_t>(w) * h * 3, 0);
    return out;
}

// The outputs [first, last) that have taps inside the image; the others are zero.
std::pair<int, int> outputs_with_taps(const Coefficients& c) {
    int first = 0, last = static_cast<int>(c.bounds.size() / 2);
    while (first < last && c.bounds[first * 2 + 1] == 0) ++first;
    while (last > first && c.bounds[last * 2 - 1] == 0) --last;
    return {first, last};
}

// Horizontal pass of one image row of C-byte pixels, outputs [xx_first, xx_last) to
// out[0...] as RGB. (Scalar sums: the 32-bit vector multiply of SSE2 is slow, and
// Pillow's exact integer sums rule out 16-bit; see the AVX2 version below.)
template <int C>
void horizontal_row(const uint8_t* in, const Coefficients& c, int xx_first, int xx_last, uint8_t* out) {
    constexpr int32_t half = 1 << (kPrecisionBits - 1);
    for (int xx = xx_first; xx < xx_last; ++xx, out += 3) {
        const int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1];
        const int32_t* k = &c.kk[static_cast<size_t>(xx) * c.ksize];
        const uint8_t* p = in + static_cast<size_t>(xmin) * C;
        int32_t s0 = half, s1 = half, s2 = half;
        for (int x = 0; x < xmax; ++x, p += C) s0 += p[0] * k[x], s1 += p[1] * k[x], s2 += p[2] * k[x];
        out[0] = clip8(s0), out[1] = clip8(s1), out[2] = clip8(s2);
    }
}

// Where the CPU has AVX2 (x86-64 with GCC or Clang, chosen at run time), the same
// integer sums, one pixel's three channels in the lanes of one register: per tap one
// 4-byte load widened to 32 bits, one 32-bit multiply, one add. The sums are the
// scalar ones exactly (integers), so the result is the same to the bit. Pixels of 3
// bytes are read 4 at a time: the caller keeps such reads inside the buffer.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__EMSCRIPTEN__)
#define URSA_RESIZE_AVX2 1
bool have_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
}

template <int C>
__attribute__((target("avx2"))) void horizontal_row_avx2(const uint8_t* in, const Coefficients& c, int xx_first,
                                                         int xx_last, uint8_t* out) {
    const __m128i half = _mm_set1_epi32(1 << (kPrecisionBits - 1));
    for (int xx = xx_first; xx < xx_last; ++xx, out += 3) {
        const int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1];
        const int32_t* k = &c.kk[static_cast<size_t>(xx) * c.ksize];
        const uint8_t* p = in + static_cast<size_t>(xmin) * C;
        __m128i s = half, t = _mm_setzero_si128();
        int x = 0;
        for (; x + 1 < xmax; x += 2, p += 2 * C) {  // two taps, two sums (the adds are exact in any order)
            int32_t a, b;
            std::memcpy(&a, p, 4);
            std::memcpy(&b, p + C, 4);
            s = _mm_add_epi32(s, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(a)), _mm_set1_epi32(k[x])));
            t = _mm_add_epi32(t, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(b)), _mm_set1_epi32(k[x + 1])));
        }
        if (x < xmax) {
            int32_t a;
            std::memcpy(&a, p, 4);
            s = _mm_add_epi32(s, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(a)), _mm_set1_epi32(k[x])));
        }
        s = _mm_srai_epi32(_mm_add_epi32(s, t), kPrecisionBits);
        const int32_t v = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(s, s), s));  // clip8 per lane
        std::memcpy(out, &v, 3);
    }
}

// acc[i] += row[i] * w for n bytes, and the clip of the sums: the vertical pass.
__attribute__((target("avx2"))) void accumulate_avx2(int32_t* acc, const uint8_t* row, size_t n, int32_t w) {
    const __m256i vw = _mm256_set1_epi32(w);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        int64_t b;
        std::memcpy(&b, row + i, 8);
        const __m256i v = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(b));
        __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i));
        a = _mm256_add_epi32(a, _mm256_mullo_epi32(v, vw));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i), a);
    }
    for (; i < n; ++i) acc[i] += row[i] * w;
}
#endif

void accumulate(int32_t* acc, const uint8_t* row, size_t n, int32_t w) {
#ifdef URSA_RESIZE_AVX2
    if (have_avx2()) return accumulate_avx2(acc, row, n, w);
#endif
    for (size_t i = 0; i < n; ++i) acc[i] += row[i] * w;
}

void horizontal_row(const View& src, int row, const Coefficients& c, int xx_first, int xx_last, uint8_t* out) {
#ifdef URSA_RESIZE_AVX2
    // 3-byte pixels are read 4 bytes at a time: not on the last row, whose last pixel
    // may end the buffer.
    if (have_avx2() && (src.channels == 4 || row + 1 < src.height)) {
        if (src.channels == 4)
            horizontal_row_avx2<4>(src.row(row), c, xx_first, xx_last, out);
        else
            horizontal_row_avx2<3>(src.row(row), c, xx_first, xx_last, out);
        return;
    }
#endif
    if (src.channels == 4)
        horizontal_row<4>(src.row(row), c, xx_first, xx_last, out);
    else
        horizontal_row<3>(src.row(row), c, xx_first, xx_last, out);
}

// Pillow's vertical pass over rows that make_row(image_row, dst) produces on demand
// (the horizontal pass, or a copy): rows are made once, in order, into a ring that
// holds as many as one output row reads, so memory stays taps x width however tall
// the image (Pillow keeps the whole horizontal pass: gigabytes for a 1x4M line). The
// integer sums are Pillow's, in another order: the result is the same to the bit.
// Columns [x_first, x_last) of the output are written; the others stay zero.
template <class MakeRow>
Image vertical_streamed(const Coefficients& cv, int out_w, int out_h, int x_first, int x_last, MakeRow make_row) {
    Image out = blank(out_w, out_h);
    const size_t stride = static_cast<size_t>(x_last - x_first) * 3;
    // Tap ranges move down the image, except where mirrored or edge padding folded
    // them back: then every row they read is made first (the padded axis is the
    // photo's short one, so that is few rows).
    int ring_rows = 1, lowest = std::numeric_limits<int>::max(), highest = 0, prev_start = 0, prev_end = 0;
    bool monotone = true;
    for (int yy = 0; yy < out_h; ++yy) {
        const int start = cv.bounds[yy * 2], count = cv.bounds[yy * 2 + 1];
        if (count == 0) continue;
        ring_rows = std::max(ring_rows, count);
        monotone = monotone && start >= prev_start && start + count >= prev_end;
        prev_start = start, prev_end = start + count;
        lowest = std::min(lowest, start), highest = std::max(highest, start + count);
    }
    if (!monotone) ring_rows = highest - lowest;
    std::vector<uint8_t> ring(ring_rows * stride);
    std::vector<int32_t> acc(stride);
    int next = 0;  // the next image row to make
    if (!monotone)
        for (next = lowest; next < highest; ++next) make_row(next, &ring[static_cast<size_t>(next % ring_rows) * stride]);
    for (int yy = 0; yy < out_h && stride > 0; ++yy) {
        const int ymin = cv.bounds[yy * 2], count = cv.bounds[yy * 2 + 1];
        if (count == 0) continue;  // every tap outside the image: a zero row
        for (next = std::max(next, ymin); next < ymin + count; ++next)
            make_row(next, &ring[static_cast<size_t>(next % ring_rows) * stride]);
        std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
        const int32_t* k = &cv.kk[static_cast<size_t>(yy) * cv.ksize];
        for (int y = 0; y < count; ++y) {
            const uint8_t* row = &ring[static_cast<size_t>((ymin + y) % ring_rows) * stride];
            accumulate(acc.data(), row, stride, k[y]);
        }
        uint8_t* o = out.at(x_first, yy);
        for (size_t i = 0; i < stride; ++i) o[i] = clip8(acc[i]);
    }
    return out;
}

// The window itself, padded as it says (when no resampling is needed).
Image copy_window(const View& src, const Window& win) {
    Image out = blank(win.w, win.h);
    const std::vector<int> cols = index_table(win.x0, win.w, src.width, win.pad);
    for (int y = 0; y < win.h; ++y)
        if (const int row = source_index(win.y0 + y, src.height, win.pad); row >= 0)
            gather_row(src.row(row), src.channels, cols, out.at(0, y));
    return out;
}

// ref: Pillow ImagingScaleAffine — nearest takes the pixel under each output centre;
// positions are accumulated step by step in double precision, as Pillow does.
// Entries are image coordinates, -1 where zero padding is read.
std::vector<int> nearest_table(int out_size, double start, double step, int win_size, int offset, int size,
                               PadMode pad) {
    std::vector<int> table(out_size);
    double pos = start + step * 0.5;
    for (int i = 0; i < out_size; ++i, pos += step)
        table[i] = source_index(std::clamp(pos < 0.0 ? 0 : static_cast<int>(pos), 0, win_size - 1) + offset, size, pad);
    return table;
}

Image resample_nearest(const View& src, const Window& win, int out_w, int out_h, double x0, double y0, double x1,
                       double y1) {
    Image out = blank(out_w, out_h);
    const std::vector<int> xs = nearest_table(out_w, x0, (x1 - x0) / out_w, win.w, win.x0, src.width, win.pad);
    const std::vector<int> ys = nearest_table(out_h, y0, (y1 - y0) / out_h, win.h, win.y0, src.height, win.pad);
    for (int y = 0; y < out_h; ++y)
        if (ys[y] >= 0) gather_row(src.row(ys[y]), src.channels, xs, out.at(0, y));
    return out;
}

// ref: Pillow ImagingResampleInner, applied to the window as if it were an image of
// its own: horizontal pass on the rows the vertical pass needs, then vertical pass; a
// pass is skipped when its axis is unchanged.
Image resample_window(const View& src, const Window& win, int out_w, int out_h, Filter filter, double x0,
                      double y0, double x1, double y1) {
    if (filter == Filter::Nearest) return resample_nearest(src, win, out_w, out_h, x0, y0, x1, y1);
    const bool need_h = out_w != win.w || x0 != 0 || x1 != out_w;
    const bool need_v = out_h != win.h || y0 != 0 || y1 != out_h;
    if (!need_h && !need_v) return copy_window(src, win);
    Coefficients ch = precompute(win.w, x0, x1, out_w);
    fold_to_image(ch, win.x0, src.width, win.pad);
    const std::pair<int, int> taps = outputs_with_taps(ch);  // not a structured binding: lambdas capture it
    const int xx_first = taps.first, xx_last = taps.second;
    if (!need_v) {  // out_h == win.h: each window row is an image row or zero
        Image out = blank(out_w, out_h);
        for (int y = 0; y < out_h; ++y)
            if (const int row = source_index(win.y0 + y, src.height, win.pad); row >= 0)
                horizontal_row(src, row, ch, xx_first, xx_last, out.at(xx_first, y));
        return out;
    }
    Coefficients cv = precompute(win.h, y0, y1, out_h);
    fold_to_image(cv, win.y0, src.height, win.pad);
    if (!need_h) {  // out_w == win.w: the vertical pass reads the window's columns
        const std::vector<int> cols = index_table(win.x0, out_w, src.width, win.pad);
        return vertical_streamed(cv, out_w, out_h, 0, out_w,
                                 [&](int row, uint8_t* dst) { gather_row(src.row(row), src.channels, cols, dst); });
    }
    return vertical_streamed(cv, out_w, out_h, xx_first, xx_last, [&](int row, uint8_t* dst) {
        horizontal_row(src, row, ch, xx_first, xx_last, dst);
    });
}

}  // namespace

const char* to_string(ResizeMethod method) {
    switch (method) {
        case ResizeMethod::Crop: return "crop";
        case ResizeMethod::Squish: return "squish";
        case ResizeMethod::Pad: return "pad";
        case ResizeMethod::RandomResizedCrop: return "random-resized-crop";
    }
    return "squish";
}

const char* to_string(PadMode pad) {
    switch (pad) {
        case PadMode::Zeros: return "zeros";
        case PadMode::Border: return "border";
        case PadMode::Reflection: return "reflection";
    }
    return "zeros";
}

Result<PadMode> parse_pad_mode(const std::string& name) {
    if (name == "zeros") return PadMode::Zeros;
    if (name == "border") return PadMode::Border;
    if (name == "reflection") return PadMode::Reflection;
    return make_error("unknown pad mode '" + name + "' (expected zeros, border or reflection)");
}

Result<ResizeMethod> parse_resize_method(const std::string& name) {
    if (name == "crop") return ResizeMethod::Crop;
    if (name == "squish") return ResizeMethod::Squish;
    if (name == "pad") return ResizeMethod::Pad;
    if (name == "random-resized-crop") return ResizeMethod::RandomResizedCrop;
    return make_error("unknown resize method '" + name + "' (expected crop, squish, pad or random-resized-crop)");
}

Image resample(const Image& src, int out_w, int out_h, Filter filter, double x0, double y0, double x1,
               double y1) {
    if (out_w == src.width && out_h == src.height && x0 == 0 && y0 == 0 && x1 == src.width && y1 == src.height)
        return src;
    return resample_window(view_of(src), Window{0, 0, src.width, src.height}, out_w, out_h, filter, x0, y0, x1, y1);
}

Image resize(const Image& src, int out_w, int out_h, Filter filter) {
    return resample(src, out_w, out_h, filter, 0, 0, src.width, src.height);
}

namespace {

// ref: fastai vision/augment.py Resize.encodes with pcts (0.5, 0.5): an integer
// window of the target aspect (largest inside for crop, smallest outside for pad),
// cropped or padded, then resized.
Image fit_view(const View& src, int width, int height, ResizeMethod method, Filter filter, PadMode pad) {
    if (method == ResizeMethod::RandomResizedCrop) {
        // ref: fastai RandomResizedCrop.encodes on the validation set: the whole image
        // squished to (width + m, height + m), then the centre (width, height) cut out,
        // which is that resize's box of source coordinates (the same filter taps).
        const int m = rrc_valid_margin(width, height), off = m / 2;
        const double sx = static_cast<double>(src.width) / (width + m), sy = static_cast<double>(src.height) / (height + m);
        return resample_window(src, Window{0, 0, src.width, src.height}, width, height, filter, off * sx, off * sy,
                               (off + width) * sx, (off + height) * sy);
    }
    const FitWindow w = fit_window(src.width, src.height, width, height, method);
    return resample_window(src, Window{w.x0, w.y0, w.width, w.height, pad}, width, height, filter, 0, 0, w.width,
                           w.height);
}

}  // namespace

int rrc_valid_margin(int width, int height) {
    return static_cast<int>(std::ceil(std::max(width, height) * 0.14 / 8)) * 8;
}

FitWindow fit_window(int src_width, int src_height, int width, int height, ResizeMethod method) {
    if (method == ResizeMethod::Squish || method == ResizeMethod::RandomResizedCrop) return {0, 0, src_width, src_height};
    const double rw = static_cast<double>(src_width) / width, rh = static_cast<double>(src_height) / height;
    const double m = method == ResizeMethod::Crop ? std::min(rw, rh) : std::max(rw, rh);
    const int cw = std::max(1, static_cast<int>(m * width)), ch = std::max(1, static_cast<int>(m * height));
    // Python's int() truncates toward zero, also for the negative offsets of pad.
    return {static_cast<int>(0.5 * (src_width - cw)), static_cast<int>(0.5 * (src_height - ch)), cw, ch};
}

Image fit(const Image& src, int width, int height, ResizeMethod method, Filter filter, PadMode pad) {
    if (method == ResizeMethod::Squish) return resize(src, width, height, filter);
    return fit_view(view_of(src), width, height, method, filter, pad);
}

Result<Image> fit_decoded(const DecodedRgba& decoded, int width, int height, ResizeMethod method, PadMode pad,
                          const DecodeOptions& options) {
    if (decoded.opaque && decoded.orientation == 1)  // resize straight from the decoder's buffer
        return fit_view(View{decoded.pixels.get(), decoded.width, decoded.height, 4}, width, height, method,
                        Filter::Bilinear, pad);
    auto image = to_image(decoded, options);
    if (!image) return image.error();
    return fit(*image, width, height, method, Filter::Bilinear, pad);
}

Result<Image> decode_fit(const uint8_t* data, size_t size, int width, int height, ResizeMethod method,
                         PadMode pad, const DecodeOptions& options) {
    auto decoded = decode_rgba(data, size, options);
    if (!decoded) return decoded.error();
    return fit_decoded(*decoded, width, height, method, pad, options);
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
    normalize_to_chw(fit(image, spec.width, spec.height, spec.resize, Filter::Bilinear, spec.pad_mode), spec.mean, spec.std, out);
    return out;
}

Result<std::vector<float>> preprocess(const uint8_t* data, size_t size, const InputSpec& spec,
                                      const DecodeOptions& options) {
    Result<Image> fitted = decode_fit(data, size, spec.width, spec.height, spec.resize, spec.pad_mode, options);
    if (!fitted) return fitted.error();
    std::vector<float> out;
    out.reserve(static_cast<size_t>(3) * spec.width * spec.height);
    normalize_to_chw(*fitted, spec.mean, spec.std, out);
    return out;
}

}  // namespace ursa
