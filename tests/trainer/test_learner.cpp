#include "torch_doctest.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ursa/dataset.h"
#include "ursa/learner.h"
#include "ursa/models.h"

using namespace ursa;
namespace fs = std::filesystem;

TEST_CASE("fp32 blocks: under CPU bf16 autocast the marked blocks compute in fp32, the rest in bf16") {
    torch::manual_seed(0);
    Classifier model = *make_classifier("small", 3);
    std::vector<std::string> names;
    for (auto& [name, block] : body_blocks(model)) names.push_back(name);
    CHECK((names == std::vector<std::string>{"layer1.0", "layer2.0", "layer3.0", "layer4.0"}));
    Classifier resnet18 = *make_classifier("resnet18", 3);
    CHECK(body_blocks(resnet18).size() == 8);
    auto bad = set_fp32_blocks(model, {"layer9.0"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("layer9.0") != std::string::npos);
    REQUIRE(set_fp32_blocks(model, {"layer4.0"}));
    model->eval();
    const torch::Tensor x = torch::rand({2, 128, 4, 4});
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    auto blocks = body_blocks(model);
    const torch::Tensor in_fp32 = blocks[3].second->forward(x);
    const bool still_on = at::autocast::is_cpu_enabled();
    const torch::Tensor in_bf16 = blocks[2].second->forward(torch::rand({2, 64, 7, 7}));
    const torch::Tensor logits = model->forward(torch::rand({2, 3, 28, 28}));
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
    CHECK((in_fp32.scalar_type() == torch::kFloat32));
    CHECK(still_on);  // the fp32 block turns autocast back on when it is done
    CHECK((in_bf16.scalar_type() == torch::kBFloat16));
    CHECK((logits.sizes() == torch::IntArrayRef{2, 3}));
    torch::Tensor plain;
    {
        torch::NoGradGuard no_grad;
        plain = blocks[3].second->forward(x);  // no autocast: the flag changes nothing
    }
    CHECK((plain - blocks[3].second->residual(x)).abs().max().item<double>() == 0);
    REQUIRE(set_fp32_blocks(model, {}));
    CHECK_FALSE(blocks[3].second->fp32_under_autocast);
}

TEST_CASE("time_blocks times every block both ways and leaves the model as it was; 15 % decides") {
    torch::manual_seed(1);
    Classifier model = *make_classifier("small", 3);
    set_memory_format(*model, torch::MemoryFormat::ChannelsLast);
    model->eval();
    std::vector<torch::Tensor> before;
    for (const auto& b : model->buffers()) before.push_back(b.clone());
    const auto gen_before = at::detail::getDefaultCPUGenerator().current_seed();
    const torch::Tensor draw_before = torch::rand({4}, at::detail::getDefaultCPUGenerator().clone());
    const std::vector<BlockTiming> t = time_blocks(model, 4, 28);
    REQUIRE(t.size() == 4);
    for (size_t i = 0; i < t.size(); ++i) {
        CHECK(t[i].name == body_blocks(model)[i].first);
        CHECK(t[i].bf16_ms > 0);
        CHECK(t[i].fp32_ms > 0);
    }
    const auto buffers = model->buffers();
    for (size_t i = 0; i < buffers.size(); ++i) CHECK(torch::equal(buffers[i], before[i]));
    for (const auto& p : model->parameters()) CHECK_FALSE(p.grad().defined());
    CHECK_FALSE(model->is_training());
    CHECK(at::detail::getDefaultCPUGenerator().current_seed() == gen_before);
    CHECK(torch::equal(torch::rand({4}), draw_before));  // torch's generator was not drawn from

    CHECK((faster_in_fp32({{"a", 10.0, 8.4}, {"b", 10.0, 8.6}, {"c", 5.0, 9.0}, {"d", 2.0, 1.0}}) ==
           std::vector<std::string>{"a", "d"}));
}

TEST_CASE("one-cycle schedule follows fastai's formulas") {
    OneCycle s{1e-3};
    CHECK(s.lr(0) == doctest::Approx(1e-3 / 25));
    CHECK(s.lr(0.25) == doctest::Approx(1e-3));
    CHECK(s.lr(1.0) == doctest::Approx(1e-3 / 1e5));
    CHECK(s.lr(0.125) == doctest::Approx((1e-3 / 25 + 1e-3) / 2));
    CHECK(s.momentum(0) == doctest::Approx(0.95));
    CHECK(s.momentum(0.25) == doctest::Approx(0.85));
    CHECK(s.momentum(1.0) == doctest::Approx(0.95));
}

namespace {

fs::path make_tree(const std::string& name, const std::vector<std::string>& files) {
    const fs::path root = fs::path(URSA_TEST_TMP) / name;
    fs::remove_all(root);
    for (const auto& f : files) {
        fs::create_directories((root / f).parent_path());
        std::ofstream(root / f) << "x";
    }
    return root;
}

}  // namespace

TEST_CASE("image files are found by extension, case-insensitively, skipping hidden ones") {
    const fs::path root = make_tree("find", {"a/1.JPG", "a/2.png", "a/.hidden.jpg", ".cache/3.jpg", "b/deep/4.jpeg",
                                             "b/notes.txt", "b/5.WebP"});
    auto files = find_image_files(root.string());
    std::vector<std::string> rel;
    for (const auto& f : files) rel.push_back(fs::relative(f, root).string());
    const std::vector<std::string> expected = {"a/1.JPG", "a/2.png", "b/5.WebP", "b/deep/4.jpeg"};
    CHECK(rel == expected);
}

TEST_CASE("labels come from parent folders; the random split is seeded and reproducible") {
    std::vector<std::string> files;
    for (int i = 0; i < 10; ++i) files.push_back("cat/" + std::to_string(i) + ".png");
    for (int i = 0; i < 10; ++i) files.push_back("dog/" + std::to_string(i) + ".png");
    const fs::path root = make_tree("split", files);
    DatasetOptions o;
    o.valid_pct = 0.2;
    o.seed = 42;
    auto a = make_dataset(root.string(), o);
    REQUIRE(a.ok());
    CHECK(a->vocab == (std::vector<std::string>{"cat", "dog"}));
    CHECK(a->split == "random");
    CHECK(a->valid.size() == 4);  // int(0.2 * 20)
    CHECK(a->train.size() == 16);
    auto b = make_dataset(root.string(), o);
    REQUIRE(b.ok());
    for (size_t i = 0; i < a->valid.size(); ++i) CHECK(a->valid[i].path == b->valid[i].path);
    o.seed = 7;
    auto c = make_dataset(root.string(), o);
    bool differs = false;
    for (size_t i = 0; i < a->valid.size(); ++i) differs |= a->valid[i].path != c->valid[i].path;
    CHECK(differs);
    for (const auto& item : a->train) CHECK(item.label == (item.path.find("/dog/") != std::string::npos ? 1 : 0));
}

TEST_CASE("CSV parsing follows RFC 4180") {
    auto rows = parse_csv("file,label\r\n\"a,b.jpg\",\"say \"\"hi\"\"\"\n\nc.png,x\n\"multi\nline.jpg\",y");
    REQUIRE(rows.ok());
    const std::vector<std::vector<std::string>> expected = {
        {"file", "label"}, {"a,b.jpg", "say \"hi\""}, {"c.png", "x"}, {"multi\nline.jpg", "y"}};
    CHECK(*rows == expected);
    auto bad = parse_csv("a,\"b\nc");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "unterminated quoted field at line 2");
}

TEST_CASE("a CSV gives labels and, with is_valid, the split") {
    const fs::path root = make_tree("csv", {"img/1.jpg", "img/2.jpg", "img/3.jpg", "img/4.jpg"});
    std::ofstream(root / "labels.csv") << "file,label,is_valid\nimg/1.jpg,grizzly,0\nimg/2.jpg,black,false\n"
                                          "img/3.jpg,teddy,1\nimg/4.jpg,grizzly,True\n";
    DatasetOptions o;
    o.csv = (root / "labels.csv").string();
    auto ds = make_dataset(root.string(), o);
    REQUIRE(ds.ok());
    CHECK(ds->split == "csv");
    CHECK(ds->vocab == (std::vector<std::string>{"black", "grizzly", "teddy"}));
    REQUIRE(ds->train.size() == 2);
    REQUIRE(ds->valid.size() == 2);
    CHECK(ds->train[0].path == (root / "img/1.jpg").string());
    CHECK(ds->train[0].label == 1);
    CHECK(ds->valid[0].label == 2);

    std::ofstream(root / "two.csv") << "img/1.jpg,a\nimg/2.jpg,b\nimg/3.jpg,a\nimg/4.jpg,b\n";  // no header, no split
    o.csv = (root / "two.csv").string();
    o.valid_pct = 0.5;
    auto random = make_dataset(root.string(), o);
    REQUIRE(random.ok());
    CHECK(random->split == "random");
    CHECK(random->valid.size() == 2);

    std::ofstream(root / "bad.csv") << "file,label,is_valid\nimg/1.jpg,a,maybe\n";
    o.csv = (root / "bad.csv").string();
    auto bad = make_dataset(root.string(), o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == o.csv + " row 2: is_valid must be 1/0, true/false or yes/no, not 'maybe'");

    std::ofstream(root / "ragged.csv") << "img/1.jpg,a\nimg/2.jpg\n";
    o.csv = (root / "ragged.csv").string();
    auto ragged = make_dataset(root.string(), o);
    REQUIRE_FALSE(ragged.ok());
    CHECK(ragged.error().message == o.csv + " row 2 has 1 fields, expected 2");

    std::ofstream(root / "novalid.csv") << "img/1.jpg,a,0\nimg/2.jpg,b,0\n";
    o.csv = (root / "novalid.csv").string();
    auto novalid = make_dataset(root.string(), o);
    REQUIRE_FALSE(novalid.ok());
    CHECK(novalid.error().message.find("nothing to validate on") != std::string::npos);
}

TEST_CASE("train/ and valid/ folders give the folder split") {
    const fs::path root = make_tree("folders", {"train/a/1.png", "train/b/2.png", "valid/a/3.png", "valid/b/4.png"});
    auto ds = make_dataset(root.string(), {});
    REQUIRE(ds.ok());
    CHECK(ds->split == "folder");
    CHECK(ds->train.size() == 2);
    CHECK(ds->valid.size() == 2);
    CHECK(ds->vocab == (std::vector<std::string>{"a", "b"}));
}

TEST_CASE("dataset errors say what is wrong") {
    auto missing = make_dataset("/nonexistent/photos", {});
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("/nonexistent/photos") != std::string::npos);
    const fs::path one = make_tree("onelabel", {"only/1.png", "only/2.png"});
    auto single = make_dataset(one.string(), {});
    REQUIRE_FALSE(single.ok());
    CHECK(single.error().message.find("only one label") != std::string::npos);
    DatasetOptions folder;
    folder.split = "folder";
    CHECK_FALSE(make_dataset(one.string(), folder).ok());

    // An empty validation split is refused before training (it would give nan metrics).
    const fs::path tiny = make_tree("tiny", {"a/1.png", "b/2.png"});
    auto few = make_dataset(tiny.string(), {});
    REQUIRE_FALSE(few.ok());
    CHECK(few.error().message == "the validation split is empty: --valid-pct 0.20 of 2 images is less than one; add "
                                 "images or raise --valid-pct");
    const fs::path no_valid = make_tree("novalid", {"train/a/1.png", "train/b/2.png"});
    fs::create_directories(no_valid / "valid");
    auto empty = make_dataset(no_valid.string(), {});
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().message == "no validation images found under " + (no_valid / "valid").string());
}

TEST_CASE("--precision auto picks bf16 exactly where the CPU has native bf16, as /proc/cpuinfo lists it") {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    bool avx512 = false, amx = false;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line);
        for (std::string w; words >> w;) {
            avx512 = avx512 || w == "avx512_bf16";
            amx = amx || w == "amx_bf16";
        }
        break;  // every core lists the same flags
    }
    const bool listed = avx512 || amx;
    CHECK(cpu_bf16().avx512_bf16 == avx512);
    CHECK(cpu_bf16().amx_bf16 == amx);  // the bf16 matmul-convolution plan depends on it
    CHECK(cpu_has_native_bf16() == listed);
    CHECK(use_bf16("auto", "cpu") == listed);
    CHECK_FALSE(use_bf16("auto", "cuda"));
    CHECK(use_bf16("bf16", "cpu"));
    CHECK(use_bf16("bf16", "cuda"));
    CHECK_FALSE(use_bf16("fp32", "cpu"));
    CHECK_FALSE(use_bf16("fp32", "auto"));
}
