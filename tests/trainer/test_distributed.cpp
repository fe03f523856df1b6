#include "torch_doctest.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "ursa/collective.h"
#include "ursa/models.h"

using namespace ursa;

namespace {

// Ranks as threads of one process: allreduce_sum waits for every rank, then hands
// each the sum. (The trainer's ProcessGroup does the same over Gloo.)
struct ThreadRanks {
    std::mutex m;
    std::condition_variable cv;
    int world = 2, arrived = 0, generation = 0;
    torch::Tensor acc, result;

    struct Rank : Collective {
        ThreadRanks* all;
        int r;
        Rank(ThreadRanks* a, int rank_) : all(a), r(rank_) {}
        int rank() const override { return r; }
        int world() const override { return all->world; }
        void allreduce_sum(torch::Tensor& t) override { all->sum(t); }
    };

    void sum(torch::Tensor& t) {
        std::unique_lock<std::mutex> lock(m);
        const int g = generation;
        acc = arrived == 0 ? t.clone() : acc + t;
        if (++arrived == world) {
            result = acc, arrived = 0, ++generation;
            cv.notify_all();
        } else {
            cv.wait(lock, [&] { return generation != g; });
        }
        t.copy_(result);
    }
};

Classifier seeded_small(int64_t classes) {
    torch::manual_seed(11);
    Classifier m = *make_classifier("small", classes);
    // Dropout's masks come from the one CPU generator that threads would share;
    // the processes of real data parallelism each have their own (see the CLI test).
    for (auto& mod : m->modules(false))
        if (auto* d = mod->as<torch::nn::Dropout>()) d->options.p(0);
    m->train();
    return m;
}

}  // namespace

TEST_CASE("synchronized BatchNorm: 2 ranks of 6 images give the logits, gradients and running statistics of 1 of 12") {
    const int64_t classes = 3, per_rank = 6;
    torch::manual_seed(5);
    const torch::Tensor x = torch::randn({2 * per_rank, 3, 16, 16}) * 2 + 0.5;
    const torch::Tensor y = torch::randint(classes, {2 * per_rank}, torch::kLong);

    Classifier one = seeded_small(classes);
    const torch::Tensor logits = one->forward(x);
    torch::nn::functional::cross_entropy(logits, y).backward();

    ThreadRanks ranks;
    Classifier models[2] = {seeded_small(classes), seeded_small(classes)};
    torch::Tensor rank_logits[2];
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r)
        threads.emplace_back([&, r] {
            ThreadRanks::Rank me(&ranks, r);
            set_batch_sync(&me);
            const torch::Tensor xr = x.narrow(0, r * per_rank, per_rank), yr = y.narrow(0, r * per_rank, per_rank);
            rank_logits[r] = models[r]->forward(xr);
            torch::nn::functional::cross_entropy(rank_logits[r], yr).backward();
            set_batch_sync(nullptr);
        });
    for (auto& t : threads) t.join();

    const double logit_diff = (torch::cat({rank_logits[0], rank_logits[1]}) - logits).abs().max().item<double>();
    MESSAGE("max logit difference " << logit_diff << " of max " << logits.abs().max().item<double>());
    CHECK(logit_diff <= 1e-5 * logits.abs().max().item<double>() + 1e-6);
    const auto p1 = one->named_parameters(), p0 = models[0]->named_parameters(), pr1 = models[1]->named_parameters();
    for (const auto& item : p1) {
        INFO(item.key());
        // Data parallelism averages the ranks' gradients.
        const torch::Tensor avg = (p0[item.key()].grad() + pr1[item.key()].grad()) / 2;
        const double scale = item.value().grad().abs().max().item<double>();
        CHECK((avg - item.value().grad()).abs().max().item<double>() <= 1e-4 * scale + 1e-7);
    }
    const auto b1 = one->named_buffers(), b0 = models[0]->named_buffers();
    for (const auto& item : b1) {
        INFO(item.key());
        if (item.value().is_floating_point()) CHECK(torch::allclose(b0[item.key()], item.value(), 1e-4, 1e-6));
        else CHECK(torch::equal(b0[item.key()], item.value()));
    }
}

TEST_CASE("dropout without a collective: keeps a 1 - p share, scaled by 1 / (1 - p); seeded; identity in eval") {
    set_batch_sync(nullptr);
    torch::nn::Dropout drop(0.25);
    drop->train();
    const torch::Tensor x = torch::full({256, 512}, 2.0);
    torch::manual_seed(11);
    const torch::Tensor y = dropout(*drop, x);
    const torch::Tensor kept = y.ne(0);
    CHECK(kept.to(torch::kDouble).mean().item<double>() == doctest::Approx(0.75).epsilon(0.01));  // 131 072 draws
    CHECK(torch::equal(y.masked_select(kept), torch::full({kept.sum().item<int64_t>()}, 2.0 / 0.75)));
    torch::manual_seed(11);
    CHECK(torch::equal(dropout(*drop, x), y));  // the CPU generator's draws: repeatable, checkpointed
    CHECK_FALSE(torch::equal(dropout(*drop, x), y));
    drop->eval();
    CHECK(torch::equal(dropout(*drop, x), x));
}
