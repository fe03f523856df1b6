// ResNets with torchvision's module structure and parameter names
// (`layer1.0.conv1.weight`), so torchvision weights load unchanged, and the head
// fastai's vision_learner builds.
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "ursa/result.h"
#include "ursa/run.h"

namespace ursa {

// Turns bf16 autocast on `device` (CUDA or the CPU) on or off for the scope's
// lifetime, then puts back what was there; when it turned it on, it also clears
// autocast's cache of cast weights on the way out.
class Bf16AutocastScope {
public:
    Bf16AutocastScope(bool on, const torch::Device& device);
    ~Bf16AutocastScope();
    Bf16AutocastScope(const Bf16AutocastScope&) = delete;
    Bf16AutocastScope& operator=(const Bf16AutocastScope&) = delete;

private:
    bool on_, cuda_, was_;
};

// ref: torchvision resnet.py BasicBlock (expansion 1).
struct BasicBlockImpl : torch::nn::Module {
    BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride);
    torch::Tensor forward(torch::Tensor x);
    torch::Tensor residual(const torch::Tensor& x);  // the block itself, in whatever precision is on

    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
    torch::nn::Sequential downsample{nullptr};  // conv1x1 + BN when the shape changes
    // Under CPU bf16 autocast, run this block in fp32 (its input cast to float): set
    // where the block trains faster so (see measure_block_precision).
    bool fp32_under_autocast = false;
    // Under CPU bf16 autocast, its convolutions through conv_forward (matmul_conv.h):
    // those on small feature maps as matrix products.
    bool matmul_convs = false;
};
TORCH_MODULE(BasicBlock);

// The shape of a ResNet body: the stem conv, whether a 3x3 stride-2 max-pool follows
// it, and per layer its width, block count and first stride.
struct BodySpec {
    int64_t stem_width = 64, stem_kernel = 7, stem_stride = 2;
    bool maxpool = true;
    std::vector<int64_t> widths = {64, 128, 256, 512};
    std::vector<int> blocks = {2, 2, 2, 2};
    std::vector<int64_t> strides = {1, 2, 2, 2};
};
// resnet18, resnet34 (torchvision's), or small: a 16-wide 3x3 stride-1 stem at full
// resolution whose output the first block downsamples with a learned stride-2 conv
// (no max-pool), widths 32, 64, 128, 128, one block per layer: for 28-64 px images.
BodySpec body_spec(const std::string& arch);

// torchvision's ResNet without avgpool and fc (fastai cuts the body at -2).
struct ResNetBodyImpl : torch::nn::Module {
    explicit ResNetBodyImpl(const BodySpec& spec);
    torch::Tensor forward(torch::Tensor x);

    torch::nn::Conv2d conv1{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr};
    torch::nn::MaxPool2d maxpool{nullptr};  // null when the spec has none
    torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
    int64_t features = 512;  // channels of the last layer
};
TORCH_MODULE(ResNetBody);

// cat([max, avg]) pooling, as fastai's AdaptiveConcatPool2d (max first).
struct ConcatPoolImpl : torch::nn::Module {
    torch::Tensor forward(torch::Tensor x);
};
TORCH_MODULE(ConcatPool);

// nn::Linear whose forward, on CPU batches of 2 or more, runs as a 1x1 convolution:
// libtorch's CPU matrix product goes through the system BLAS (Debian's reference
// BLAS: 248 ms for a 256x1024x512 forward+backward here) while convolutions use
// oneDNN (21 ms). Same parameters, names and results (to float rounding).
struct FastLinearImpl : torch::nn::LinearImpl {
    using torch::nn::LinearImpl::LinearImpl;
    torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(FastLinear);

// body + fastai head: ConcatPool → Flatten → BN → Dropout(0.25) → Linear(2f,512, no bias)
// → ReLU → BN → Dropout(0.5) → Linear(512, classes, no bias). Indices match fastai's
// Sequential (head.2 = first BN, head.4 = first Linear, head.6, head.8).
struct ClassifierImpl : torch::nn::Module {
    ClassifierImpl(const std::string& arch, int64_t classes);
    torch::Tensor forward(torch::Tensor x);

    std::string arch;
    ResNetBody body{nullptr};
    torch::nn::Sequential head{nullptr};
};
TORCH_MODULE(Classifier);

// fastai's parameter groups for a ResNet learner: body[:6] (stem, layer1, layer2),
// body[6:] (layer3, layer4), head. ref: fastai vision/learner.py _resnet_split.
std::vector<std::vector<torch::Tensor>> param_groups(Classifier& model);

// fastai's freeze_to(n) with train_bn=True: groups before n stop learning, except
// their BatchNorm weights and biases; groups from n on learn. freeze = freeze_to(-1)
// (only the head and every BatchNorm), unfreeze = freeze_to(0).
void freeze_to(Classifier& model, int n);

// Loads ImageNet (or other) weights into the body: torchvision / timm names
// (`conv1.weight`, `layer1.0.bn1.running_mean`, …; `fc.*` ignored), or an Ursa run's
// `model.safetensors` (`body.*`; the head is not loaded, the classes may differ).
// A missing tensor or a shape mismatch (say, --arch small's 3x3 stem against 7x7
// ImageNet weights) is an error that names them.
Result<bool> load_pretrained(Classifier& model, const std::string& path);

// The trained model of a run folder (config.json's arch and labels, model.safetensors).
Result<Classifier> load_run_model(const std::string& run_dir, const RunConfig& config);

// The body's residual blocks by their parameter-name prefixes ("layer1.0", …), in order.
std::vector<std::pair<std::string, BasicBlock>> body_blocks(Classifier& model);

// Marks the named blocks (names as body_blocks gives them) to run in fp32 under CPU
// bf16 autocast, and the others not; an unknown name is an error.
Result<bool> set_fp32_blocks(Classifier& model, const std::vector<std::string>& names);

// Turns matmul_convs on or off in every residual block.
void set_matmul_convs(Classifier& model, bool on);

// The architectures `--arch` accepts.
const std::vector<std::string>& known_archs();
Result<Classifier> make_classifier(const std::string& arch, int64_t classes);

}  // namespace ursa
