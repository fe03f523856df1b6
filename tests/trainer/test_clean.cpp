#include "torch_doctest.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ursa/clean.h"

using namespace ursa;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void put(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

// A dataset whose every file has different bytes (its own path, repeated).
fs::path make_data(const std::string& name, const std::vector<std::string>& files) {
    const fs::path root = fs::path(URSA_TEST_TMP) / "clean" / name;
    fs::remove_all(root);
    fs::create_directories(root);
    for (const auto& f : files) {
        std::string bytes;
        for (int i = 0; i < 50; ++i) bytes += f + '\n';
        put(root / f, bytes);
    }
    return root;
}

// Every file (path → bytes) and folder (path → "<dir>") under root; .ursa-trash
// only when asked.
std::map<std::string, std::string> tree(const fs::path& root, bool with_trash = false) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        const std::string rel = fs::relative(it->path(), root).generic_string();
        if (!with_trash && rel.rfind(".ursa-trash", 0) == 0) {
            it.disable_recursion_pending();
            continue;
        }
        out[rel] = it->is_directory() ? "<dir>" : slurp(it->path());
    }
    return out;
}

CleanPlan plan_of(const std::vector<CleanItem>& items) {
    CleanPlan p;
    p.items = items;
    return p;
}

// The apply folders under DATA/.ursa-trash, oldest first.
std::vector<fs::path> trash_dirs(const fs::path& data) {
    std::vector<fs::path> out;
    if (!fs::exists(data / ".ursa-trash")) return out;
    for (const auto& e : fs::directory_iterator(data / ".ursa-trash"))
        if (e.is_directory()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

nlohmann::json journal(const fs::path& trash_dir) { return nlohmann::json::parse(slurp(trash_dir / "journal.json")); }

std::string plan_error(const std::string& text) {
    auto p = parse_clean_plan(text, "p.json");
    return p ? "" : p.error().message;
}

}  // namespace

TEST_CASE("clean plans are validated and each bad item is named with its index and reason") {
    auto ok = parse_clean_plan(R"({"version": 1, "data": "photos", "items": [
        {"file": "red/x.jpg", "action": "delete"},
        {"file": "train/red/y.jpg", "action": "relabel", "label": "blue", "reason": "ignored"}]})");
    REQUIRE(ok.ok());
    CHECK(ok->data == "photos");
    REQUIRE(ok->items.size() == 2);
    CHECK(ok->items[1].file == "train/red/y.jpg");
    CHECK(ok->items[1].action == "relabel");
    CHECK(ok->items[1].label == "blue");
    CHECK(parse_clean_plan(R"({"version": 1, "items": []})").ok());

    CHECK(plan_error("{") == "p.json is not valid JSON");
    CHECK(plan_error(R"({"version": 2, "items": []})").find("unsupported \"version\" 2") != std::string::npos);
    CHECK(plan_error(R"({"items": []})").find("\"version\" is missing") != std::string::npos);
    CHECK(plan_error(R"({"version": 1, "items": {}})").find("\"items\" must be an array") != std::string::npos);

    const std::string e = plan_error(R"({"version": 1, "items": [
        {"file": "/etc/passwd", "action": "delete"},
        {"file": "../outside.jpg", "action": "delete"},
        {"file": "red/../../x.jpg", "action": "delete"},
        {"file": ".ursa-trash/20240101-000000/red/x.jpg", "action": "delete"},
        {"file": "red/a.jpg", "action": "move"},
        {"file": "red/b.jpg", "action": "relabel"},
        {"file": "red/c.jpg", "action": "relabel", "label": "a/b"},
        {"file": "red/d.jpg", "action": "relabel", "label": ".hidden"},
        {"file": "red/e.jpg", "action": "relabel", "label": ""},
        {"file": "f.jpg", "action": "relabel", "label": "blue"},
        {"file": "red/ok.jpg", "action": "delete"},
        {"file": "red/ok.jpg", "action": "relabel", "label": "blue"},
        {"file": 3, "action": "delete"},
        {"file": "red//g.jpg", "action": "delete"},
        {"file": "red/h.jpg", "action": "relabel", "label": ".."}]})");
    INFO(e);
    CHECK(e.find("p.json: items[0] (/etc/passwd): \"file\" must be relative to DATA, not absolute") !=
          std::string::npos);
    CHECK(e.find("items[1] (../outside.jpg): \"file\" must not contain \"..\"") != std::string::npos);
    CHECK(e.find("items[2] (red/../../x.jpg): \"file\" must not contain \"..\"") != std::string::npos);
    CHECK(e.find("items[3] (.ursa-trash/20240101-000000/red/x.jpg): \"file\" is inside .ursa-trash") !=
          std::string::npos);
    CHECK(e.find("items[4] (red/a.jpg): \"action\" must be \"delete\" or \"relabel\", not \"move\"") !=
          std::string::npos);
    CHECK(e.find("items[5] (red/b.jpg): relabel needs a \"label\"") != std::string::npos);
    CHECK(e.find("items[6] (red/c.jpg): \"label\" must be one folder name") != std::string::npos);
    CHECK(e.find("items[7] (red/d.jpg): \"label\" must not start with '.'") != std::string::npos);
    CHECK(e.find("items[8] (red/e.jpg): relabel needs a non-empty \"label\"") != std::string::npos);
    CHECK(e.find("items[9] (f.jpg): relabel needs a file inside a label folder") != std::string::npos);
    CHECK(e.find("items[10] (") == std::string::npos);  // a valid item
    CHECK(e.find("items[11] (red/ok.jpg): the same file as items[10]") != std::string::npos);
    CHECK(e.find("items[12]: \"file\" must be a string") != std::string::npos);
    CHECK(e.find("items[13] (red//g.jpg): \"file\" has an empty or \".\" part") != std::string::npos);
    CHECK(e.find("items[14] (red/h.jpg): \"label\" must be a folder name") != std::string::npos);

    auto missing = read_clean_plan((fs::path(URSA_TEST_TMP) / "no-such-plan.json").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("no-such-plan.json") != std::string::npos);
}

TEST_CASE("free_destination adds (2), (3) before the extension and never picks a taken name") {
    const fs::path dir = fs::path(URSA_TEST_TMP) / "clean" / "free";
    fs::remove_all(dir);
    put(dir / "red" / "a.jpg", "1");
    CHECK(free_destination(dir, "red/b.jpg") == dir / "red" / "b.jpg");
    CHECK(free_destination(dir, "red/a.jpg") == dir / "red" / "a (2).jpg");
    put(dir / "red" / "a (2).jpg", "2");
    CHECK(free_destination(dir, "red/a.jpg") == dir / "red" / "a (3).jpg");
    auto taken = [&](const fs::path& p) { return fs::exists(p) || p == dir / "red" / "a (3).jpg"; };
    CHECK(free_destination(dir, "red/a.jpg", taken) == dir / "red" / "a (4).jpg");
}

TEST_CASE("clean apply moves files without overwriting; undo restores the tree byte for byte") {
    const fs::path data = make_data("roundtrip", {"cat/a.jpg", "bird/a.jpg", "cat/b.jpg", "dog/a.jpg", "dog/c.jpg",
                                                  "train/cat/x.jpg", "train/cat/y.jpg", "journal.json"});
    const auto before = tree(data);
    const CleanPlan plan = plan_of({{"cat/a.jpg", "relabel", "dog"},   // dog/a.jpg exists: dog/a (2).jpg
                                    {"bird/a.jpg", "relabel", "dog"},  // and then dog/a (3).jpg
                                    {"cat/b.jpg", "delete", ""},
                                    {"train/cat/x.jpg", "relabel", "dog"},  // makes train/dog, keeps train/
                                    {"journal.json", "delete", ""},         // its trash path is the journal's
                                    {"dog/c.jpg", "relabel", "dog"}});      // already there: skipped
    REQUIRE(apply_clean_plan(data.string(), plan) == 0);

    const auto after = tree(data);
    CHECK(after.at("dog/a.jpg") == before.at("dog/a.jpg"));
    CHECK(after.at("dog/a (2).jpg") == before.at("cat/a.jpg"));
    CHECK(after.at("dog/a (3).jpg") == before.at("bird/a.jpg"));
    CHECK(after.at("train/dog/x.jpg") == before.at("train/cat/x.jpg"));
    CHECK(after.at("dog/c.jpg") == before.at("dog/c.jpg"));
    CHECK(after.count("cat/a.jpg") == 0);
    CHECK(after.count("cat/b.jpg") == 0);
    CHECK(after.count("journal.json") == 0);
    const auto trash = trash_dirs(data);
    REQUIRE(trash.size() == 1);
    CHECK(slurp(trash[0] / "cat" / "b.jpg") == before.at("cat/b.jpg"));
    CHECK(slurp(trash[0] / "journal (2).json") == before.at("journal.json"));
    const auto j = journal(trash[0]);
    CHECK(j["state"] == "applied");
    REQUIRE(j["moves"].size() == 6);
    CHECK(j["moves"][0]["to"] == "dog/a (2).jpg");
    CHECK(j["moves"][0]["state"] == "done");
    CHECK(j["moves"][0]["size"] == before.at("cat/a.jpg").size());
    CHECK(j["moves"][0]["sha256"].get<std::string>().size() == 64);
    CHECK(j["moves"][5]["state"] == "skipped");
    CHECK(j["made_dirs"] == nlohmann::json::array({"train/dog"}));
    CHECK_FALSE(fs::exists(trash[0] / "journal.log"));

    // The same plan again: already applied, nothing moves.
    CHECK(apply_clean_plan(data.string(), plan) == 0);
    CHECK(tree(data) == after);

    REQUIRE(undo_last_clean(data.string()) == 0);
    CHECK(tree(data) == before);  // every file byte-identical, train/dog gone again
    CHECK(journal(trash[0])["state"] == "undone");
    CHECK(undo_last_clean(data.string()) == 0);  // nothing left to undo
    CHECK(tree(data) == before);
}

TEST_CASE("clean undo goes back one apply at a time") {
    const fs::path data = make_data("two", {"red/a.jpg", "red/b.jpg", "blue/c.jpg"});
    const auto original = tree(data);
    REQUIRE(apply_clean_plan(data.string(), plan_of({{"red/a.jpg", "relabel", "blue"}})) == 0);
    const auto first = tree(data);
    REQUIRE(apply_clean_plan(data.string(), plan_of({{"red/b.jpg", "delete", ""}, {"blue/c.jpg", "delete", ""}})) == 0);
    CHECK(trash_dirs(data).size() == 2);
    REQUIRE(undo_last_clean(data.string()) == 0);
    CHECK(tree(data) == first);
    REQUIRE(undo_last_clean(data.string()) == 0);
    CHECK(tree(data) == original);
}

TEST_CASE("clean --dry-run changes nothing, not even a journal") {
    const fs::path data = make_data("dry", {"red/a.jpg", "red/b.jpg", "blue/c.jpg"});
    const auto before = tree(data, true);
    CleanOptions dry;
    dry.dry_run = true;
    const CleanPlan plan = plan_of({{"red/a.jpg", "relabel", "green"}, {"red/b.jpg", "delete", ""}});
    CHECK(apply_clean_plan(data.string(), plan, dry) == 0);
    CHECK(tree(data, true) == before);
    CHECK_FALSE(fs::exists(data / ".ursa-trash"));
    CHECK(undo_last_clean(data.string(), dry) == 0);
    CHECK(tree(data, true) == before);

    REQUIRE(apply_clean_plan(data.string(), plan) == 0);
    const auto applied = tree(data, true);
    CHECK(undo_last_clean(data.string(), dry) == 0);
    CHECK(tree(data, true) == applied);
}

TEST_CASE("clean reports a missing source and applies the rest (status 1)") {
    const fs::path data = make_data("missing", {"red/a.jpg", "red/b.jpg"});
    const auto before = tree(data);
    CHECK(apply_clean_plan(data.string(), plan_of({{"red/nope.jpg", "delete", ""}, {"red/a.jpg", "delete", ""},
                                                   {"red/gone.jpg", "relabel", "blue"}})) == 1);
    CHECK_FALSE(fs::exists(data / "red" / "a.jpg"));
    const auto trash = trash_dirs(data);
    REQUIRE(trash.size() == 1);
    const auto j = journal(trash[0]);
    CHECK(j["moves"][0]["state"] == "failed");
    CHECK(j["moves"][0]["error"] == "no such file");
    CHECK(j["moves"][1]["state"] == "done");
    REQUIRE(undo_last_clean(data.string()) == 0);
    CHECK(tree(data) == before);

    // Nothing movable at all: status 1, and no journal that --undo would take for an apply.
    CHECK(apply_clean_plan(data.string(), plan_of({{"red/nope.jpg", "delete", ""}})) == 1);
    CHECK(trash_dirs(data).size() == 1);
}

TEST_CASE("an interrupted clean apply is finished by a second apply and reversed by undo") {
    const fs::path data = make_data("resume", {"a/1.jpg", "a/2.jpg", "a/3.jpg", "a/4.jpg", "b/5.jpg", "b/6.jpg"});
    const auto before = tree(data);
    const CleanPlan plan = plan_of({{"a/1.jpg", "delete", ""},
                                    {"a/2.jpg", "relabel", "b"},
                                    {"a/3.jpg", "relabel", "c"},
                                    {"a/4.jpg", "delete", ""},
                                    {"b/5.jpg", "relabel", "a"}});
    CleanOptions kill;
    kill.stop_after = 2;  // stops right after the second rename, before it is logged
    REQUIRE(apply_clean_plan(data.string(), plan, kill) == 1);
    const auto trash = trash_dirs(data);
    REQUIRE(trash.size() == 1);
    CHECK(journal(trash[0])["state"] == "applying");
    CHECK(fs::exists(trash[0] / "journal.log"));
    CHECK_FALSE(fs::exists(data / "a" / "1.jpg"));
    CHECK_FALSE(fs::exists(data / "a" / "2.jpg"));
    CHECK(fs::exists(data / "a" / "3.jpg"));

    // Another plan may not start while this one is unfinished.
    CHECK(apply_clean_plan(data.string(), plan_of({{"b/6.jpg", "delete", ""}})) == 2);

    // A file that appeared where a pending delete was going is not overwritten.
    const std::string intruder = "not ours\n";
    put(trash[0] / "a" / "4.jpg", intruder);

    REQUIRE(apply_clean_plan(data.string(), plan) == 0);
    CHECK(trash_dirs(data).size() == 1);  // continued, not started again
    const auto j = journal(trash[0]);
    CHECK(j["state"] == "applied");
    for (const auto& m : j["moves"]) CHECK(m["state"] == "done");
    CHECK(j["moves"][3]["to"] == ".ursa-trash/" + trash[0].filename().string() + "/a/4 (2).jpg");
    CHECK(slurp(trash[0] / "a" / "4.jpg") == intruder);
    CHECK(slurp(trash[0] / "a" / "4 (2).jpg") == before.at("a/4.jpg"));
    CHECK(slurp(data / "b" / "2.jpg") == before.at("a/2.jpg"));
    CHECK(slurp(data / "c" / "3.jpg") == before.at("a/3.jpg"));
    CHECK(slurp(data / "a" / "5.jpg") == before.at("b/5.jpg"));
    CHECK_FALSE(fs::exists(trash[0] / "journal.log"));

    // Undo, interrupted after one file, then again: the original tree.
    CleanOptions kill_undo;
    kill_undo.stop_after = 1;
    REQUIRE(undo_last_clean(data.string(), kill_undo) == 1);
    CHECK(journal(trash[0])["state"] == "undoing");
    CHECK(apply_clean_plan(data.string(), plan) == 2);  // finish the undo first
    REQUIRE(undo_last_clean(data.string()) == 0);
    CHECK(tree(data) == before);
    CHECK(slurp(trash[0] / "a" / "4.jpg") == intruder);  // the stranger's file stays
}

TEST_CASE("an apply killed before its journal marks anything done is undone from the files themselves") {
    const fs::path data = make_data("undo_unfinished", {"x/1.jpg", "x/2.jpg", "x/3.jpg"});
    const auto before = tree(data);
    CleanOptions kill;
    kill.stop_after = 1;
    REQUIRE(apply_clean_plan(data.string(), plan_of({{"x/1.jpg", "relabel", "y"}, {"x/2.jpg", "delete", ""},
                                                     {"x/3.jpg", "relabel", "y"}}),
                             kill) == 1);
    CHECK(fs::exists(data / "y" / "1.jpg"));
    CHECK(journal(trash_dirs(data)[0])["moves"][0]["state"] == "pending");
    REQUIRE(undo_last_clean(data.string()) == 0);
    CHECK(tree(data) == before);  // y/ was made by the apply and is gone again
}

TEST_CASE("clean undo leaves changed files and occupied paths alone and goes on") {
    const fs::path data = make_data("undo_conflicts", {"red/a.jpg", "red/b.jpg", "red/c.jpg"});
    const auto before = tree(data);
    REQUIRE(apply_clean_plan(data.string(), plan_of({{"red/a.jpg", "delete", ""},
                                                     {"red/b.jpg", "relabel", "blue"},
                                                     {"red/c.jpg", "relabel", "blue"}})) == 0);
    const auto trash = trash_dirs(data);
    REQUIRE(trash.size() == 1);
    put(trash[0] / "red" / "a.jpg", "edited since\n");  // sha256 no longer matches
    put(data / "red" / "b.jpg", "a new file where b was\n");
    CHECK(undo_last_clean(data.string()) == 1);
    CHECK(slurp(trash[0] / "red" / "a.jpg") == "edited since\n");
    CHECK_FALSE(fs::exists(data / "red" / "a.jpg"));
    CHECK(slurp(data / "red" / "b.jpg") == "a new file where b was\n");
    CHECK(slurp(data / "blue" / "b.jpg") == before.at("red/b.jpg"));  // blue/ still holds a file: kept
    CHECK(slurp(data / "red" / "c.jpg") == before.at("red/c.jpg"));
    const auto j = journal(trash[0]);
    CHECK(j["state"] == "undone");
    CHECK(j["moves"][2]["state"] == "undone");
    CHECK(j["moves"][1]["state"] == "done");
    CHECK(j["moves"][1]["error"].get<std::string>().find("another file is at red/b.jpg") != std::string::npos);
    CHECK(j["moves"][0]["error"].get<std::string>().find("sha256 differs") != std::string::npos);
    CHECK(undo_last_clean(data.string()) == 0);  // nothing more to undo
}
