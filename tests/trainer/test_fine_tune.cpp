// fastai's transfer-learning machinery: fine_tune's plan, the Adam update, freezing,
// lr_find's valley and its restoring of the weights, and torchvision weight parity.
#include "torch_doctest.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "ursa/learner.h"
#include "ursa/models.h"
#include "ursa/optimizer.h"
#include "ursa/preprocess.h"
#include "ursa/safetensors.h"

using namespace ursa;
namespace fs = std::filesystem;

TEST_CASE("fine_tune's plan: frozen group rates [2e-4, 2e-4, 2e-3], then [1e-5, 1e-4, 1e-3] with div 5") {
    TrainOptions o;
    o.pretrained = "weights.safetensors";
    o.lr = 2e-3;
    o.epochs = 4;
    const auto plan = training_plan(o);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].frozen);
    CHECK(plan[0].epochs == 1);
    CHECK(plan[0].pct_start == doctest::Approx(0.99));
    CHECK(plan[0].div == doctest::Approx(25));
    REQUIRE(plan[0].lr_max.size() == 3);
    CHECK(plan[0].lr_max[0] == doctest::Approx(2e-4));
    CHECK(plan[0].lr_max[1] == doctest::Approx(2e-4));
    CHECK(plan[0].lr_max[2] == doctest::Approx(2e-3));
    CHECK_FALSE(plan[1].frozen);
    CHECK(plan[1].epochs == 4);
    CHECK(plan[1].pct_start == doctest::Approx(0.3));
    CHECK(plan[1].div == doctest::Approx(5));
    CHECK(plan[1].lr_max[0] == doctest::Approx(1e-5));
    CHECK(plan[1].lr_max[1] == doctest::Approx(1e-4));
    CHECK(plan[1].lr_max[2] == doctest::Approx(1e-3));
    // The unfrozen schedule starts at lr/div and peaks at lr after 30 % of it.
    OneCycle head{plan[1].lr_max[2], plan[1].div, 1e5, plan[1].pct_start};
    CHECK(head.lr(0) == doctest::Approx(2e-4));
    CHECK(head.lr(0.3) == doctest::Approx(1e-3));

    o.pretrained.clear();  // from scratch: one fit_one_cycle, every group at lr
    const auto scratch = training_plan(o);
    REQUIRE(scratch.size() == 1);
    CHECK_FALSE(scratch[0].frozen);
    CHECK(scratch[0].lr_max == std::vector<double>{2e-3, 2e-3, 2e-3});
}

TEST_CASE("Adam follows fastai's formula: decoupled weight decay, debiased moments, none for 1-D params") {
    torch::Tensor w = torch::tensor({{1.0f, -2.0f}, {0.5f, 3.0f}}).set_requires_grad(true);
    torch::Tensor b = torch::tensor({0.25f, -0.75f}).set_requires_grad(true);
    Adam opt({{w, b}}, /*wd=*/0.1);
    opt.set_lrs({0.01});
    const std::vector<std::vector<double>> grads_w = {{0.3, -0.1, 2.0, 0.0}, {-0.5, 0.2, 1.0, 0.4}};
    const std::vector<double> moms = {0.95, 0.9};  // the schedule changes beta1 between steps
    // The formula in double precision; 1-D parameters (b) get no weight decay.
    std::vector<double> pw = {1.0, -2.0, 0.5, 3.0, 0.25}, m(5, 0), v(5, 0);
    for (int t = 0; t < 2; ++t) {
        opt.set_mom(moms[t]);
        w.mutable_grad() = torch::tensor(std::vector<float>(grads_w[t].begin(), grads_w[t].end())).view({2, 2});
        b.mutable_grad() = torch::tensor({1.0f, 1.0f});
        opt.step();
        const double mom = moms[t], lr = 0.01;
        for (int i = 0; i < 5; ++i) {
            const double g = i < 4 ? grads_w[t][i] : 1.0;
            if (i < 4) pw[i] *= 1 - lr * 0.1;
            m[i] = mom * m[i] + (1 - mom) * g;
            v[i] = 0.99 * v[i] + 0.01 * g * g;
            pw[i] -= lr / (1 - std::pow(mom, t + 1)) * m[i] / (std::sqrt(v[i] / (1 - std::pow(0.99, t + 1))) + 1e-5);
        }
    }
    auto flat = w.detach().flatten();
    for (int i = 0; i < 4; ++i) CHECK(flat[i].item<double>() == doctest::Approx(pw[i]).epsilon(1e-6));
    CHECK(b[0].item<double>() == doctest::Approx(pw[4]).epsilon(1e-6));
    CHECK(pw[4] == doctest::Approx(0.2324).epsilon(1e-3));  // a hand check of the reference itself
    // The state round-trips, and clear_state forgets it.
    const auto state = opt.state();
    CHECK(state.at("0.step").item<int64_t>() == 2);
    Adam other({{w.detach().clone(), b.detach().clone()}}, 0.1);
    CHECK(other.load_state(state).empty());
    CHECK(torch::equal(other.params()[0].avg, opt.params()[0].avg));
    opt.clear_state();
    CHECK(opt.state().empty());
    Adam wrong({{torch::zeros({3})}}, 0.1);
    CHECK_FALSE(wrong.load_state(state).empty());
}

TEST_CASE("--label-smoothing is fastai's LabelSmoothingCrossEntropy: (1-eps) nll + eps/C sum(-log_softmax)") {
    const torch::Tensor logits = torch::tensor({2.0f, 1.0f, 0.0f, 0.0f, 0.0f, 3.0f}).view({2, 3});
    const torch::Tensor targets = torch::tensor({0, 2}, torch::kLong);
    // The formula in doubles: lse = log sum exp per row, log p = x - lse.
    const double lse0 = std::log(std::exp(2.0) + std::exp(1.0) + 1.0), lse1 = std::log(2.0 + std::exp(3.0));
    const double nll = ((lse0 - 2) + (lse1 - 3)) / 2;                             // mean -log p[target]
    const double smooth = ((3 * lse0 - 3) + (3 * lse1 - 3)) / 2;                  // mean sum_c -log p[c]
    const double expected = 0.1 / 3 * smooth + 0.9 * nll;
    CHECK(expected == doctest::Approx(0.4012644604326706).epsilon(1e-12));
    CHECK(classification_loss(logits, targets, 0.1).item<double>() == doctest::Approx(expected).epsilon(1e-6));
    CHECK(classification_loss(logits, targets, 0.1, /*sum=*/true).item<double>() ==
          doctest::Approx(2 * expected).epsilon(1e-6));
    // eps 0 is plain cross-entropy (the default), and equals PyTorch's label_smoothing option.
    CHECK(classification_loss(logits, targets, 0.0).item<double>() == doctest::Approx(nll).epsilon(1e-6));
    const auto opts = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(0.1);
    CHECK(classification_loss(logits, targets, 0.1).item<double>() ==
          doctest::Approx(torch::nn::functional::cross_entropy(logits, targets, opts).item<double>()).epsilon(1e-6));
}

TEST_CASE("Adam skips parameters without a gradient (frozen)") {
    torch::Tensor w = torch::ones({2, 2}).set_requires_grad(true);
    Adam opt({{w}}, 0.5);
    opt.set_lrs({0.1});
    opt.step();
    CHECK(torch::equal(w.detach(), torch::ones({2, 2})));  // not even weight decay
    CHECK(opt.state().empty());
}

TEST_CASE("freeze keeps the head and every BatchNorm learning; unfreeze trains all; groups split the body at layer3") {
    Classifier model = *make_classifier("resnet18", 3);
    const auto groups = param_groups(model);
    REQUIRE(groups.size() == 3);
    size_t total = 0;
    for (const auto& g : groups) total += g.size();
    CHECK(total == model->parameters().size());
    CHECK(groups[0][0].is_same(model->body->conv1->weight));
    CHECK(groups[1][0].is_same(model->body->layer3->parameters()[0]));
    CHECK(groups[2].size() == model->head->parameters().size());

    freeze_to(model, -1);
    for (const auto& p : model->named_parameters()) {
        const std::string& name = p.key();
        const bool bn = name.find(".bn") != std::string::npos || name.find("downsample.1.") != std::string::npos ||
                        name.rfind("body.bn1.", 0) == 0;
        const bool head = name.rfind("head.", 0) == 0;
        INFO(name);
        CHECK(p.value().requires_grad() == (bn || head));
    }
    freeze_to(model, 0);
    for (const auto& p : model->parameters()) CHECK(p.requires_grad());
    freeze_to(model, 1);  // layer3/layer4 and the head; the stem's BatchNorm still learns
    CHECK_FALSE(model->body->conv1->weight.requires_grad());
    CHECK(model->body->bn1->weight.requires_grad());
    CHECK(model->body->layer3->parameters()[0].requires_grad());
}

TEST_CASE("valley picks start + L/3 + L/6 of the longest decreasing run, after trimming like fastai") {
    std::vector<double> lrs, losses;
    for (int i = 0; i < 30; ++i) {
        lrs.push_back(1e-7 * std::pow(10.0, i / 3.0));
        // flat, then falling from index 5 to 20, then rising
        losses.push_back(i < 5 ? 3.0 : i <= 20 ? 3.0 - 0.1 * (i - 4) : 1.4 + 0.3 * (i - 20));
    }
    // Trimmed to indices 2..24 (num_it/10 = 2 in front, 5 at the end). Longest
    // decreasing run: 3.0 then indices 5..20, length 17 ending at trimmed position 18;
    // max_start = 18 - 17 = 1; 17/3 = 5.67 → 1 + 5 + 2 = 8 → index 10.
    CHECK(valley_index(lrs, losses, 20) == 10);
    losses[12] = NAN;  // everything from the first NaN is dropped: positions 0..9 remain
    // decreasing run: 3.0, indices 5..11 (length 8 ending at position 9): max_start 1,
    // 8/3 = 2.67 → 1 + 2 + 1 = 4 → index 6
    CHECK(valley_index(lrs, losses, 20) == 6);
    CHECK(valley_index({1, 2, 3}, {1, 2, 3}, 100) == -1);
}

namespace {

Prepared random_images(int n, int size, int classes, uint64_t seed) {
    Prepared p;
    std::mt19937 rng(static_cast<uint32_t>(seed));
    for (int i = 0; i < n; ++i) {
        Image img;
        img.width = img.height = size;
        img.pixels.resize(static_cast<size_t>(size * size * 3));
        for (auto& v : img.pixels) v = static_cast<uint8_t>(rng() & 0xFF);
        p.images.push_back(std::move(img));
        p.labels.push_back(i % classes);
    }
    return p;
}

// Options for a Learner on random_images: --arch small, no augmentation.
TrainOptions small_options(int size, int batch) {
    TrainOptions o;
    o.arch = "small";
    o.size = size;
    o.batch_size = batch;
    o.augment = false;
    return o;
}

}  // namespace

TEST_CASE("validate(flip_tta): the mean of the softmax on each picture and its mirror; plain validate unchanged") {
    torch::manual_seed(1);
    TrainOptions o = small_options(16, 3);  // 7 pictures: batches of 3, 3 and 1
    o.label_smoothing = 0.1;
    Learner l(*make_classifier("small", 3), o, random_images(6, 16, 3, 5), random_images(7, 16, 3, 6));
    l.train_batch({0, 1, 2}, {1e-2, 1e-2, 1e-2}, 0.9);  // BatchNorm statistics that are not the defaults
    const auto plain = l.validate();
    const auto tta = l.validate(/*flip_tta=*/true);
    // The same by hand, on the whole validation set at once.
    torch::NoGradGuard g;
    l.model->eval();
    Batch all = make_batch(l.valid_data, {0, 1, 2, 3, 4, 5, 6}, l.spec);
    const torch::Tensor logits = l.model->forward(all.images);
    const torch::Tensor mean_p = (logits.softmax(1) + l.model->forward(all.images.flip({3})).softmax(1)) / 2;
    const double expected_tta_loss = classification_loss(mean_p.log(), all.labels, 0.1).item<double>();
    const double expected_tta_error = mean_p.argmax(1).ne(all.labels).sum().item<double>() / 7;
    CHECK(tta.first == doctest::Approx(expected_tta_loss).epsilon(1e-5));
    CHECK(tta.second == doctest::Approx(expected_tta_error));
    CHECK(plain.first == doctest::Approx(classification_loss(logits, all.labels, 0.1).item<double>()).epsilon(1e-5));
    CHECK(plain.second == doctest::Approx(logits.argmax(1).ne(all.labels).sum().item<double>() / 7));
    // The mirror matters: random pictures are not symmetric, so the two losses differ.
    CHECK(std::fabs(tta.first - plain.first) > 1e-6);
}

TEST_CASE("validate runs under the run's autocast: with bf16 its loss is that of bf16 logits, not of fp32 ones") {
    torch::manual_seed(2);
    TrainOptions o = small_options(16, 7);  // one batch of all 7 pictures, as the check by hand
    o.bf16 = true;
    Learner l(*make_classifier("small", 3), o, random_images(6, 16, 3, 5), random_images(7, 16, 3, 6));
    l.train_batch({0, 1, 2}, {1e-2, 1e-2, 1e-2}, 0.9);
    const auto got = l.validate();
    torch::NoGradGuard g;
    l.model->eval();
    Batch all = make_batch(l.valid_data, {0, 1, 2, 3, 4, 5, 6}, l.spec);
    const torch::Tensor x = all.images.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor bf16_logits;
    {
        const Bf16AutocastScope autocast(true, torch::kCPU);
        bf16_logits = l.model->forward(x).to(torch::kFloat32);
    }
    const double bf16_loss = classification_loss(bf16_logits, all.labels, 0.0).item<double>();
    const double fp32_loss = classification_loss(l.model->forward(x), all.labels, 0.0).item<double>();
    CHECK(got.first == doctest::Approx(bf16_loss).epsilon(1e-6));
    CHECK(std::fabs(bf16_loss - fp32_loss) > 1e-5);  // bf16 rounding shows, so the check above can tell
}

TEST_CASE("lr_find sweeps exponentially and restores the weights, buffers and optimizer state") {
    torch::manual_seed(0);
    TrainOptions o = small_options(16, 4);
    Learner l(*make_classifier("small", 2), o, random_images(12, 16, 2, 1), random_images(4, 16, 2, 2));
    l.freeze(true);
    // One real step first, so there is optimizer state to keep.
    l.train_batch({0, 1, 2, 3}, {1e-3, 1e-3, 1e-3}, 0.9);
    std::map<std::string, torch::Tensor> before;
    for (auto& [name, t] : state_of(*l.model)) before[name] = t.detach().clone();
    std::map<std::string, torch::Tensor> opt_before;
    for (auto& [name, t] : l.opt.state()) opt_before[name] = t.clone();
    REQUIRE(!opt_before.empty());
    LrFindOptions f;
    f.start_lr = 1e-5;
    f.end_lr = 1e-1;
    f.num_it = 8;
    f.stop_div = false;
    const LrFindResult r = l.lr_find(f);
    REQUIRE(r.lrs.size() == 8);
    CHECK(r.lrs[0] == doctest::Approx(1e-5));
    CHECK(r.lrs[4] == doctest::Approx(1e-3));  // 1e-5 * (1e4)^(4/8)
    for (auto& [name, t] : state_of(*l.model)) {
        INFO(name);
        CHECK(torch::equal(t, before.at(name)));
    }
    const auto opt_after = l.opt.state();
    REQUIRE(opt_after.size() == opt_before.size());
    for (auto& [name, t] : opt_before) CHECK(torch::equal(t, opt_after.at(name)));
}

TEST_CASE("torchvision weights load unchanged: Ursa's body + torchvision's fc give torchvision's logits (1e-4)") {
    const fs::path ref = URSA_TORCHVISION_REF;
    INFO("reference folder " << ref << " is made by tests/trainer/make_torchvision_reference.py (CTest fixture)");
    REQUIRE(fs::exists(ref / "input.f32"));
    auto read_f32 = [](const fs::path& p, std::vector<int64_t> shape) {
        torch::Tensor t = torch::empty(shape, torch::kFloat32);
        std::ifstream in(p, std::ios::binary);
        in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * 4));
        REQUIRE(in.gcount() == t.numel() * 4);
        return t;
    };
    const torch::Tensor x = read_f32(ref / "input.f32", {2, 3, 64, 64});
    for (const std::string arch : {"resnet18", "resnet34"}) {
        INFO(arch);
        const std::string weights = (ref / (arch + ".safetensors")).string();
        Classifier model = *make_classifier(arch, 7);
        auto loaded = load_pretrained(model, weights);
        REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
        model->eval();
        torch::NoGradGuard no_grad;
        auto tensors = *read_safetensors(weights);
        const torch::Tensor features = model->body->forward(x).mean({2, 3});
        const torch::Tensor logits = torch::nn::functional::linear(features, tensors.at("fc.weight"), tensors.at("fc.bias"));
        const torch::Tensor expected = read_f32(ref / (arch + "_logits.f32"), {2, 1000});
        const double diff = (logits - expected).abs().max().item<double>();
        CHECK(diff < 1e-4);
        CHECK(expected.abs().max().item<double>() > 0.1);  // not a trivially zero output
    }
    // Wrong architecture: the error names the tensors that do not fit.
    Classifier r18 = *make_classifier("resnet18", 7);
    auto wrong = load_pretrained(r18, (ref / "resnet34.safetensors").string());
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().message.find("unexpected: layer1.2.conv1.weight") != std::string::npos);
    Classifier small = *make_classifier("small", 7);
    auto stem = load_pretrained(small, (ref / "resnet18.safetensors").string());
    REQUIRE_FALSE(stem.ok());
    CHECK(stem.error().message.find("shape mismatch: conv1.weight") != std::string::npos);
    CHECK(stem.error().message.find("3x3") != std::string::npos);
}

TEST_CASE("an Ursa run's weights load as a body; the head is left to the new classes") {
    torch::manual_seed(3);
    Classifier a = *make_classifier("resnet18", 3);
    const std::string path = std::string(URSA_TEST_TMP) + "/run_weights.safetensors";
    REQUIRE(save_safetensors(*a, path).ok());
    torch::manual_seed(4);
    Classifier b = *make_classifier("resnet18", 5);
    REQUIRE(load_pretrained(b, path).ok());
    CHECK(torch::equal(a->body->layer4->parameters()[0], b->body->layer4->parameters()[0]));
    CHECK(torch::equal(a->body->bn1->running_var, b->body->bn1->running_var));
    CHECK(b->head->parameters().back().size(0) == 5);
}

TEST_CASE("progressive resizing: epoch_size switches from start_size to size after start_epochs") {
    TrainOptions o;
    o.size = 28;
    CHECK(epoch_size(o, 0) == 28);  // off
    o.start_size = 20;
    o.start_epochs = 3;
    CHECK(epoch_size(o, 0) == 20);
    CHECK(epoch_size(o, 2) == 20);
    CHECK(epoch_size(o, 3) == 28);
    CHECK(epoch_size(o, 10) == 28);
}

TEST_CASE("resize_batch shrinks as Pillow's antialiased BILINEAR resize does (core's resize), to 1/255") {
    const Prepared p = random_images(2, 28, 2, 9);
    torch::Tensor batch = torch::empty({2, 3, 28, 28});
    for (int i = 0; i < 2; ++i)
        batch[i] = torch::from_blob(const_cast<uint8_t*>(p.images[i].pixels.data()), {28, 28, 3}, torch::kUInt8)
                       .permute({2, 0, 1})
                       .to(torch::kFloat32) / 255;
    const torch::Tensor small = resize_batch(batch, 20);
    REQUIRE(small.sizes() == torch::IntArrayRef({2, 3, 20, 20}));
    for (int i = 0; i < 2; ++i) {
        const Image ref = resize(p.images[i], 20, 20, Filter::Bilinear);  // Pillow parity: tests/core
        const torch::Tensor want =
            torch::from_blob(const_cast<uint8_t*>(ref.pixels.data()), {20, 20, 3}, torch::kUInt8)
                .permute({2, 0, 1})
                .to(torch::kFloat32) / 255;
        CHECK((small[i] - want).abs().max().item<double>() <= 1.0 / 255 + 1e-6);
    }
    CHECK(resize_batch(batch, 28).data_ptr() == batch.data_ptr());  // already that size: untouched
}

TEST_CASE("the feed size shrinks the batches step trains on and validate scores; the model takes any size") {
    torch::manual_seed(2);
    TrainOptions o = small_options(32, 4);
    Learner l(*make_classifier("small", 2), o, random_images(8, 32, 2, 3), random_images(4, 32, 2, 4));
    CHECK(l.feed_size() == 32);
    l.set_feed_size(16);
    CHECK(l.feed_size() == 16);
    const Batch b = l.load_batch(l.draw_batch({0, 1, 2, 3}));
    CHECK(b.images.size(2) == 32);  // the loader cuts at --size; step shrinks
    auto loss_at = [&](int64_t size) {  // step's loss by hand, with the same dropout draws
        torch::NoGradGuard g;
        torch::manual_seed(7);
        l.model->train();
        return classification_loss(l.model->forward(resize_batch(b.images, size)), b.labels, 0).item<double>();
    };
    const double at16 = loss_at(16), at32 = loss_at(32);
    torch::manual_seed(7);
    const double stepped = l.step(b, {1e-2, 1e-2, 1e-2}, 0.9);
    CHECK(stepped == doctest::Approx(at16).epsilon(1e-5));
    CHECK(std::fabs(stepped - at32) > 1e-4);
    // validate scores the shrunk validation batch.
    const auto shrunk = l.validate();
    torch::NoGradGuard g;
    l.model->eval();
    Batch full = make_batch(l.valid_data, {0, 1, 2, 3}, l.spec);
    const torch::Tensor logits = l.model->forward(resize_batch(full.images, 16));
    CHECK(shrunk.first == doctest::Approx(classification_loss(logits, full.labels, 0).item<double>()).epsilon(1e-5));
}
