// fastai's ClassificationInterpretation on known predictions: confusion matrix,
// most_confused, top_losses.
#include "torch_doctest.h"

#include "ursa/interpret.h"
#include "ursa/svg.h"

using namespace ursa;

namespace {

ItemResult item(int actual, int predicted, double loss) {
    ItemResult r;
    r.path = std::to_string(actual) + "_" + std::to_string(predicted) + "_" + std::to_string(loss);
    r.actual = actual;
    r.predicted = predicted;
    r.loss = loss;
    return r;
}

}  // namespace

TEST_CASE("confusion matrix: rows actual, columns predicted; most_confused sorted by count, min_val applied") {
    // 3 labels; known predictions: 0→0 x3, 0→2 x2, 1→1 x1, 1→0 x1, 2→2 x2, 2→0 x2, 2→1 x3
    std::vector<ItemResult> items;
    auto add = [&](int a, int p, int n) {
        for (int i = 0; i < n; ++i) items.push_back(item(a, p, 0.1 * static_cast<double>(items.size())));
    };
    add(0, 0, 3);
    add(0, 2, 2);
    add(1, 1, 1);
    add(1, 0, 1);
    add(2, 2, 2);
    add(2, 0, 2);
    add(2, 1, 3);
    const auto cm = confusion_matrix(items, 3);
    const std::vector<std::vector<int64_t>> expected = {{3, 0, 2}, {1, 1, 0}, {2, 3, 2}};
    CHECK(cm == expected);
    const auto mc = most_confused(cm, 1);
    // (2,1,3) first; then the 2s in label order: (0,2,2), (2,0,2); then (1,0,1)
    const std::vector<std::tuple<int, int, int64_t>> want = {{2, 1, 3}, {0, 2, 2}, {2, 0, 2}, {1, 0, 1}};
    CHECK((mc == want));
    const auto mc2 = most_confused(cm, 2);
    CHECK(mc2.size() == 3);
    CHECK(most_confused(cm, 4).empty());
}

TEST_CASE("top_losses: the k largest losses, largest first") {
    std::vector<ItemResult> items = {item(0, 0, 0.5), item(0, 1, 3.0), item(1, 1, 0.1), item(1, 0, 2.0)};
    CHECK(top_losses(items, 2) == std::vector<size_t>{1, 3});
    CHECK(top_losses(items, 10).size() == 4);
}

TEST_CASE("SVG charts escape text and draw one polyline per series") {
    SvgChart c;
    c.title = "a <b> & \"c\"";
    c.series.push_back({"x<y", "#000", {0, 1, 2}, {1, 2, 3}});
    const std::string svg = render_svg(c);
    CHECK(svg.find("a &lt;b&gt; &amp; &quot;c&quot;") != std::string::npos);
    CHECK(svg.find("<b>") == std::string::npos);
    CHECK(svg.find("class=\"series\" data-name=\"x&lt;y\"") != std::string::npos);
}
