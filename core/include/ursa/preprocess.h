// Resizing and normalisation: the exact pixels and tensor the model sees.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "ursa/image.h"
#include "ursa/result.h"

namespace ursa {

// fastai's Resize methods. crop: largest centred window of the target aspect;
// squish: whole image to the target size; pad: fit inside, padded.
// How an image is fitted to the model's size (fastai's Resize methods, and
// RandomResizedCrop, whose inference path is a squish to size + ⌈0.14·max/8⌉·8, then a
// centre crop of size: fastai's validation transform).
enum class ResizeMethod { Crop, Squish, Pad, RandomResizedCrop };

// fastai RandomResizedCrop's val_xtra margin: ⌈max(width, height) · 0.14 / 8⌉ · 8.
int rrc_valid_margin(int width, int height);

const char* to_string(ResizeMethod method);
Result<ResizeMethod> parse_resize_method(const std::string& name);

// fastai's PadMode: what pad fills with. zeros: black; border: the edge pixels
// repeated; reflection: the image mirrored at its edge (numpy's "reflect").
enum class PadMode { Zeros, Border, Reflection };

const char* to_string(PadMode pad);
Result<PadMode> parse_pad_mode(const std::string& name);

// Resampling filters of Pillow's Image.resize. Bilinear widens its support with
// the downscale factor (antialiased), as Pillow does.
enum class Filter { Nearest, Bilinear };

// Resamples the region [x0,x1)x[y0,y1) (floating point box, like Pillow's `box`)
// of `src` to out_w x out_h.
Image resample(const Image& src, int out_w, int out_h, Filter filter, double x0, double y0, double x1,
               double y1);

// Resizes the whole image to out_w x out_h.
Image resize(const Image& src, int out_w, int out_h, Filter filter = Filter::Bilinear);

// The integer window of the source that fit resizes (fastai's Resize, centre
// position): inside the image for crop, reaching past it for pad (the excess is
// padding), the whole image for squish.
struct FitWindow {
    int x0 = 0, y0 = 0, width = 0, height = 0;
};
FitWindow fit_window(int src_width, int src_height, int width, int height, ResizeMethod method);

// Brings an image to width x height with a fastai resize method (centre position
// for crop; `pad` fills pad's margins).
Image fit(const Image& src, int width, int height, ResizeMethod method, Filter filter = Filter::Bilinear,
          PadMode pad = PadMode::Zeros);

// Decode + fit in one step (what training and preprocessing do): the same pixels as
// fit(decode_image(...)), without the RGB copy of the full-size photo when it is
// opaque and upright.
Result<Image> decode_fit(const uint8_t* data, size_t size, int width, int height, ResizeMethod method,
                         PadMode pad = PadMode::Zeros, const DecodeOptions& options = {});
Result<Image> fit_decoded(const DecodedRgba& decoded, int width, int height, ResizeMethod method,
                          PadMode pad = PadMode::Zeros, const DecodeOptions& options = {});

// What a model expects as input (from the ONNX metadata `ursa.input`).
struct InputSpec {
    int height = 224;
    int width = 224;
    ResizeMethod resize = ResizeMethod::Squish;
    PadMode pad_mode = PadMode::Zeros;  // used when resize is pad
    std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
    std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// (pixel/255 - mean) / std into planar float CHW; appends to `out`.
void normalize_to_chw(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                      std::vector<float>& out);

// Fit + normalise a decoded image: the model's input tensor [3,H,W].
std::vector<float> image_to_tensor(const Image& image, const InputSpec& spec);

// Decode + fit + normalise: bytes to the model's input tensor [3,H,W].
Result<std::vector<float>> preprocess(const uint8_t* data, size_t size, const InputSpec& spec,
                                      const DecodeOptions& options = {});

}  // namespace ursa
