#include "torch_doctest.h"

#include <string>
#include <vector>

#include "ursa/dedupe.h"
#include "ursa/json.h"

using namespace ursa;

namespace {

// A decoded file: label from the path's folder, its own bytes unless `sha` is given.
DedupeRecord rec(const std::string& file, uint64_t phash, int width = 100, int height = 100,
                 uint64_t size = 1000, std::string sha = "") {
    DedupeRecord r;
    r.file = file;
    r.label = file.substr(0, file.find('/'));
    r.sha256 = sha.empty() ? "sha-of-" + file : sha;
    r.decoded = true;
    r.phash = phash;
    r.width = width;
    r.height = height;
    r.size = size;
    return r;
}

std::vector<std::string> files(const std::vector<DedupeRecord>& records, const std::vector<size_t>& indices) {
    std::vector<std::string> out;
    for (size_t i : indices) out.push_back(records[i].file);
    return out;
}

using Files = std::vector<std::string>;

constexpr uint64_t kA = 0x0123456789abcdefULL;
constexpr uint64_t kFar = ~kA;  // 64 bits from kA

}  // namespace

TEST_CASE("dedupe: near duplicates gather round the best copy, without chaining") {
    // b is 3 bits from a, c is 3 bits from b (6 from a).
    const uint64_t b = kA ^ 0x7, c = b ^ 0x70;
    SUBCASE("a leads (most pixels): b joins it, c is too far from a") {
        const std::vector<DedupeRecord> r = {rec("bear/a.jpg", kA, 200, 200), rec("bear/b.jpg", b),
                                             rec("bear/c.jpg", c), rec("bear/z.jpg", kFar)};
        for (int threads : {1, 3}) {
            const auto groups = group_duplicates(r, 4, false, threads);
            REQUIRE(groups.size() == 1);
            const DedupeGroup& g = groups[0];
            CHECK_FALSE(g.exact);
            CHECK_FALSE(g.conflict);
            CHECK(g.labels == Files{"bear"});
            CHECK(files(r, g.keep) == Files{"bear/a.jpg"});
            CHECK(files(r, g.extra) == Files{"bear/b.jpg"});
            CHECK(g.distance == 3);
        }
        // Threshold 6 reaches c from a as well.
        CHECK(files(r, group_duplicates(r, 6).at(0).extra) == Files{"bear/b.jpg", "bear/c.jpg"});
    }
    SUBCASE("b leads: a and c both join it, 6 bits apart from each other") {
        const std::vector<DedupeRecord> r = {rec("bear/a.jpg", kA), rec("bear/b.jpg", b, 200, 200),
                                             rec("bear/c.jpg", c), rec("bear/z.jpg", kFar)};
        const auto groups = group_duplicates(r, 4);
        REQUIRE(groups.size() == 1);
        CHECK(files(r, groups[0].keep) == Files{"bear/b.jpg"});
        CHECK(files(r, groups[0].extra) == Files{"bear/a.jpg", "bear/c.jpg"});
        CHECK(groups[0].distance == 6);
    }
    SUBCASE("a chain of look-alikes does not become one group") {
        // h0, h1, ... each 2 bits from the next: with threshold 2, leaders take their
        // neighbours only, so groups stay small however long the chain.
        std::vector<DedupeRecord> r;
        uint64_t h = kA;
        for (int i = 0; i < 12; ++i, h ^= uint64_t{3} << (2 * i))
            r.push_back(rec("bear/" + std::string(1, static_cast<char>('a' + i)) + ".jpg", h, 100 - i, 100));
        const auto groups = group_duplicates(r, 2);
        REQUIRE_FALSE(groups.empty());
        for (const auto& g : groups) CHECK(g.keep.size() + g.extra.size() <= 3);
    }
    const std::vector<DedupeRecord> r = {rec("bear/a.jpg", kA, 200, 200), rec("bear/b.jpg", b),
                                         rec("bear/c.jpg", c), rec("bear/z.jpg", kFar)};
    // Threshold 2: nothing is near enough; threshold 0 neither.
    CHECK(group_duplicates(r, 2).empty());
    CHECK(group_duplicates(r, 0).empty());
    // Threshold 64 joins everything.
    CHECK(group_duplicates(r, 64).at(0).extra.size() == 3);
}

TEST_CASE("dedupe: exact groups need identical bytes; exact_only ignores the hashes") {
    std::vector<DedupeRecord> r = {
        rec("cat/a.png", kA, 50, 50, 500, "s1"), rec("cat/a copy.png", kA, 50, 50, 500, "s1"),
        rec("cat/b.png", kFar, 50, 50, 700, "s2"), rec("cat/b small.png", kFar ^ 1, 25, 25, 300, "s3")};
    auto groups = group_duplicates(r, 4);
    REQUIRE(groups.size() == 2);
    // Ordered by first file: "cat/a copy.png" < "cat/b small.png".
    CHECK(groups[0].exact);
    CHECK(files(r, groups[0].keep) == Files{"cat/a copy.png"});  // a tie on pixels and size: first path
    CHECK(files(r, groups[0].extra) == Files{"cat/a.png"});
    CHECK(groups[0].distance == 0);
    CHECK_FALSE(groups[1].exact);
    CHECK(groups[1].distance == 1);
    CHECK(files(r, groups[1].keep) == Files{"cat/b.png"});
    CHECK(files(r, groups[1].extra) == Files{"cat/b small.png"});

    groups = group_duplicates(r, 4, /*exact_only=*/true);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].exact);

    // Same hash but different bytes (e.g. a re-saved PNG): near, distance 0.
    r[1].sha256 = "s1-resaved";
    groups = group_duplicates(r, 4);
    REQUIRE(groups.size() == 2);
    CHECK_FALSE(groups[0].exact);
    CHECK(groups[0].distance == 0);
    // An exact pair joined by a near copy makes the whole group near.
    r[1].sha256 = "s1";
    r.push_back(rec("cat/a small.png", kA ^ 3, 10, 10, 100, "s4"));
    groups = group_duplicates(r, 4);
    REQUIRE(groups.size() == 2);
    CHECK_FALSE(groups[0].exact);
    CHECK(groups[0].extra.size() == 2);
}

TEST_CASE("dedupe: keep the most pixels, then the largest file, then the first path") {
    std::vector<DedupeRecord> r = {rec("x/1.jpg", kA, 100, 100, 900), rec("x/2.jpg", kA ^ 1, 100, 100, 950),
                                   rec("x/3.jpg", kA ^ 2, 50, 50, 5000)};
    auto g = group_duplicates(r, 4).at(0);
    CHECK(files(r, g.keep) == Files{"x/2.jpg"});  // same pixels as 1, larger file; 3 is larger but smaller
    CHECK(files(r, g.extra) == Files{"x/1.jpg", "x/3.jpg"});
    r[2].width = 101;  // now 3 has the most pixels
    r[2].height = 100;
    g = group_duplicates(r, 4).at(0);
    CHECK(files(r, g.keep) == Files{"x/3.jpg"});
}

TEST_CASE("dedupe: the same photo under two labels is a conflict that keeps one copy per label") {
    const std::vector<DedupeRecord> r = {rec("grizzly/p.jpg", kA, 400, 300, 100, "same"),
                                         rec("grizzly/p2.jpg", kA ^ 1, 200, 150),
                                         rec("black/p.jpg", kA, 400, 300, 100, "same"),
                                         rec("black/p small.jpg", kA ^ 4, 100, 75), rec("teddy/q.jpg", kFar)};
    const auto groups = group_duplicates(r, 4);
    REQUIRE(groups.size() == 1);
    const DedupeGroup& g = groups[0];
    CHECK(g.conflict);
    CHECK_FALSE(g.exact);
    CHECK(g.labels == Files{"black", "grizzly"});
    CHECK(files(r, g.keep) == Files{"black/p.jpg", "grizzly/p.jpg"});
    CHECK(files(r, g.extra) == Files{"black/p small.jpg", "grizzly/p2.jpg"});
    CHECK(g.distance == 2);  // p2 and p small: each 1 bit from p, 2 from each other

    // Only the two identical files: an exact conflict, nothing extra.
    const std::vector<DedupeRecord> two = {r[0], r[2]};
    const auto exact = group_duplicates(two, 0);
    REQUIRE(exact.size() == 1);
    CHECK(exact[0].exact);
    CHECK(exact[0].conflict);
    CHECK(exact[0].extra.empty());
    CHECK(exact[0].keep.size() == 2);
}

TEST_CASE("dedupe: files that could not be decoded still group by bytes, and are reported") {
    std::vector<DedupeRecord> r = {rec("a/x.jpg", kA), rec("a/y.jpg", kA ^ 1)};
    DedupeRecord broken;
    broken.file = "a/broken.jpg";
    broken.label = "a";
    broken.sha256 = "junk";
    broken.size = 10;
    broken.error = "not an image";
    DedupeRecord broken2 = broken;
    broken2.file = "a/broken copy.jpg";
    DedupeRecord unreadable;
    unreadable.file = "a/locked.jpg";
    unreadable.label = "a";
    unreadable.error = "cannot open a/locked.jpg: Permission denied";
    DedupeRecord unreadable2 = unreadable;
    unreadable2.file = "a/locked2.jpg";
    r.insert(r.end(), {broken, broken2, unreadable, unreadable2});
    const auto groups = group_duplicates(r, 4);
    REQUIRE(groups.size() == 2);
    CHECK(files(r, groups[0].keep) == Files{"a/broken copy.jpg"});
    CHECK(files(r, groups[0].extra) == Files{"a/broken.jpg"});
    CHECK(groups[0].exact);
    CHECK(files(r, groups[1].keep) == Files{"a/x.jpg"});

    // The report: valid JSON with the groups and the failures.
    auto parsed = json::parse(dedupe_report_json("photos", 4, false, r, groups));
    REQUIRE(parsed.ok());
    CHECK(parsed->find("version")->number == 1);
    CHECK(parsed->find("data")->string == "photos");
    CHECK(parsed->find("threshold")->number == 4);
    CHECK(parsed->find("files")->number == 6);
    const auto& g = parsed->find("groups")->array;
    REQUIRE(g.size() == 2);
    CHECK(g[0].find("kind")->string == "exact");
    CHECK(g[1].find("kind")->string == "near");
    CHECK(g[1].find("distance")->number == 1);
    CHECK(g[1].find("keep")->array.at(0).string == "a/x.jpg");
    CHECK(g[1].find("extra")->array.at(0).string == "a/y.jpg");
    CHECK(g[1].find("conflict")->boolean == false);
    const auto& failed = parsed->find("failed")->array;
    REQUIRE(failed.size() == 4);
    CHECK(failed[0].find("file")->string == "a/broken.jpg");
    CHECK(failed[0].find("error")->string == "not an image");
}

TEST_CASE("dedupe: many hashes, several threads, the same groups") {
    // 3000 random hashes (far apart) plus a near copy of every 100th.
    std::vector<DedupeRecord> r;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 3000; ++i) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        r.push_back(rec("l/" + std::to_string(100000 + i) + ".jpg", s));
        if (i % 100 == 0) r.push_back(rec("l/" + std::to_string(100000 + i) + "b.jpg", s ^ 0x101));
    }
    const auto one = group_duplicates(r, 3, false, 1), four = group_duplicates(r, 3, false, 4);
    REQUIRE(one.size() == four.size());
    CHECK(one.size() >= 30);
    for (size_t k = 0; k < one.size(); ++k) {
        CHECK(one[k].keep == four[k].keep);
        CHECK(one[k].extra == four[k].extra);
    }
}
