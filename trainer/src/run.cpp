#include "ursa/run.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ursa/io.h"

namespace ursa {

Result<bool> write_run_config(const std::string& run_dir, const RunConfig& c) {
    nlohmann::json j = {{"version", URSA_VERSION},
                        {"arch", c.arch},
                        {"input",
                         {{"size", {c.input.height, c.input.width}},
                          {"resize", to_string(c.input.resize)},
                          {"pad_mode", to_string(c.input.pad_mode)},
                          {"mean", c.input.mean},
                          {"std", c.input.std}}},
                        {"labels", c.labels},
                        {"valid_error", c.valid_error},
                        {"epochs", c.epochs},
                        {"data", c.data},
                        {"split", c.split}};
    return write_file_atomic((std::filesystem::path(run_dir) / kRunConfig).string(), j.dump(2) + "\n");
}

Result<RunConfig> read_run_config(const std::string& run_dir) {
    const std::string path = (std::filesystem::path(run_dir) / kRunConfig).string();
    auto bytes = read_file(path);
    if (!bytes) return make_error(bytes.error().message + " (is " + run_dir + " a finished `ursa train` run folder?)");
    auto j = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
    if (j.is_discarded()) return make_error(path + " is not valid JSON");
    try {
        RunConfig c;
        c.arch = j.at("arch");
        const auto& in = j.at("input");
        c.input.height = in.at("size").at(0);
        c.input.width = in.at("size").at(1);
        auto method = parse_resize_method(in.at("resize"));
        if (!method) return make_error(path + ": " + method.error().message);
        c.input.resize = *method;
        auto pad = parse_pad_mode(in.value("pad_mode", "zeros"));
        if (!pad) return make_error(path + ": " + pad.error().message);
        c.input.pad_mode = *pad;
        c.input.mean = in.at("mean");
        c.input.std = in.at("std");
        c.labels = j.at("labels").get<std::vector<std::string>>();
        c.valid_error = j.value("valid_error", -1.0);
        c.epochs = j.value("epochs", 0);
        c.data = j.value("data", "");
        c.split = j.value("split", "");
        return c;
    } catch (const std::exception& e) {
        return make_error(path + " is missing a field: " + e.what());
    }
}

}  // namespace ursa
