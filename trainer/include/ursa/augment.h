// Batch augmentation with fastai's aug_transforms semantics: flip, rotate, zoom and
// perspective warp fused into one bilinear resampling with reflection padding, then
// brightness and contrast in logit space. Applied to training batches only.
#pragma once
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
};

// Draws one image's parameters, each transform applied with its probability.
AugParams draw_aug_params(std::mt19937_64& rng, const AugOptions& options);

// images: [N,3,H,W] float in [0,1]; params: one per image. Returns the augmented
// batch, same shape, values in [0,1].
torch::Tensor augment_batch(const torch::Tensor& images, const std::vector<AugParams>& params);

}  // namespace ursa
