// Batch augmentation with fastai's aug_transforms semantics: flip, rotate, zoom and
// perspective warp fused into one bilinear resampling with reflection padding, then
// brightness and contrast in logit space. Applied to training batches only.
#pragma once
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include <torch/torch.h>

namespace ursa {

// ref: fastai vision/augment.py aug_transforms defaults.
struct AugOptions {
    bool flip = true;            // p = 0.5
    double max_rotate = 10.0;    // degrees
    double min_zoom = 1.0, max_zoom = 1.1;
    double max_warp = 0.2;       // perspective warp magnitude
    double max_lighting = 0.2;   // brightness and contrast
    double p_affine = 0.75;      // each of rotate, zoom, warp
    double p_lighting = 0.75;    // each of brightness, contrast
    double mult = 1.0;           // scales max_rotate, max_lighting, max_warp (fastai's mult)
    // RandomResizedCrop (an item transform in fastai, drawn here with the rest):
    bool random_resized_crop = false;
    double min_scale = 0.08;     // smallest crop area, as a fraction of the image's
    // RandomErasing (Zhong et al. 2017; fastai's box distribution: area a uniform
    // fraction in [0, erase_max_area] of the image's, aspect log-uniform in
    // [0.3, 1/0.3], filled with N(0,1) noise after normalisation), drawn per image with
    // probability erase_p. fastai's own RandomErasing, put in batch_tfms, erases one
    // box shared by the whole batch; here each image has its own, as in the paper.
    double erase_p = 0;          // 0 = off
    double erase_max_area = 0.3; // fastai's sh
};

// What one image gets. The defaults change nothing.
struct AugParams {
    bool flip = false;
    double rotate_deg = 0.0;
    double zoom = 1.0, col_pct = 0.5, row_pct = 0.5;  // zoom in by `zoom` around (col_pct, row_pct)
    double warp_x = 0.0, warp_y = 0.0;
    double brightness = 0.5;  // 0.5 = unchanged (added in logit space)
    double contrast = 1.0;    // 1 = unchanged (multiplies in logit space)
    double crop_pct = 0.5;    // where the crop window sits along a strip's long side (fastai's pcts)
    // RandomResizedCrop: the seed of the crop's draws (they depend on the image's size,
    // so they are made when the batch is cut), and the smallest area.
    uint64_t rrc_seed = 0;
    double rrc_min_scale = 0.08;
    // RandomErasing: the box's area (a fraction of the image's; 0 = no box), its
    // aspect (height / width), where it sits (fractions of the room left), and the
    // seed of its noise.
    double erase_area = 0.0, erase_aspect = 1.0, erase_row_pct = 0.0, erase_col_pct = 0.0;
    uint64_t erase_seed = 0;
    // Whether the batch transforms (flip, affine, warp, lighting) leave the image as it is.
    bool identity() const {
        return !flip && rotate_deg == 0 && zoom == 1 && warp_x == 0 && warp_y == 0 && brightness == 0.5 &&
               contrast == 1 && erase_area == 0;
    }
};

// The window fastai's RandomResizedCrop cuts from a width x height image on the
// training set: 10 tries of an area fraction uniform in [min_scale, 1] and a ratio
// log-uniform in [3/4, 4/3], the first that fits placed uniformly at random; else
// the centre crop of the image clamped to that ratio range. The same draws, with the
// same distributions and in the same order, as fastai's (from `rng`, not Python's).
struct CropBox {
    int x0 = 0, y0 = 0, width = 0, height = 0;
};
CropBox random_resized_crop_box(int width, int height, double min_scale, std::mt19937_64& rng);

// The rows [y0, y0+height) and columns [x0, x0+width) an h x w image's RandomErasing
// box covers (fastai's _slice: each side round(sqrt(area * aspect)) for the rows,
// round(sqrt(area / aspect)) for the columns, clipped to the image). Empty (width or
// height 0) when params erase nothing.
CropBox erase_box(int h, int w, const AugParams& params);

// Options that draw nothing but the RandomResizedCrop seed and the RandomErasing box
// (training with --no-aug).
AugOptions no_batch_aug(const AugOptions& options);

// Draws one image's parameters, each transform applied with its probability.
AugParams draw_aug_params(std::mt19937_64& rng, const AugOptions& options);

// One h x w RGB image (8-bit, rows `row_bytes` apart) through the batch transforms,
// normalised ((v/255 - mean) / std) into planar float `chw` [3,h,w], then the
// RandomErasing box (if any) filled with N(0,1) noise. Each image
// is independent, so a batch's images can be done on several threads.
void augment_image(const uint8_t* rgb, int64_t row_bytes, int h, int w, const AugParams& params,
                   const std::array<float, 3>& mean, const std::array<float, 3>& std, float* chw);

// The same on a batch: images [N,3,H,W] float in [0,1]; params: one per image.
// Returns the augmented batch, same shape, values in [0,1] (not normalised; an
// erased box holds N(0,1) noise).
torch::Tensor augment_batch(const torch::Tensor& images, const std::vector<AugParams>& params);

}  // namespace ursa
