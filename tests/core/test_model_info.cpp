#include <doctest.h>

#include "ursa/json.h"
#include "ursa/model_info.h"

using namespace ursa;

namespace {

onnx::MetadataProps good_props() {
    return {{"ursa.labels", "[\"black\",\"grizzly\",\"teddy\"]"},
            {"ursa.input", "{\"size\":[224,192],\"resize\":\"crop\",\"mean\":[0.485,0.456,0.406],"
                           "\"std\":[0.229,0.224,0.225]}"},
            {"ursa.arch", "\"resnet18\""},
            {"ursa.valid_error", "0.0159"},
            {"ursa.version", "\"0.1.0\""}};
}

}  // namespace

TEST_CASE("JSON values parse, including escapes and nesting") {
    auto v = json::parse(R"({"a":[1,-2.5e3,true,null],"b":"x\"y\u00e9\n","c":{}})");
    REQUIRE(v.ok());
    const json::Value* a = v->find("a");
    REQUIRE(a);
    REQUIRE(a->array.size() == 4);
    CHECK(a->array[1].number == -2500);
    CHECK(a->array[2].boolean);
    CHECK(v->find("b")->string == "x\"y\xC3\xA9\n");
    CHECK(v->find("c")->is_object());
    CHECK(v->find("missing") == nullptr);
}

TEST_CASE("invalid JSON is an error with an offset") {
    for (const char* bad : {"", "[1,", "{\"a\" 1}", "[1] x", "\"unterminated", "{\"a\":tru}"}) {
        CAPTURE(bad);
        auto v = json::parse(bad);
        REQUIRE_FALSE(v.ok());
        CHECK(v.error().message.find("invalid JSON") == 0);
    }
    std::string deep(200, '[');
    CHECK_FALSE(json::parse(deep).ok());
}

TEST_CASE("quote and number write JSON that reads back") {
    CHECK(json::quote("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
    // UTF-8 passes through; bytes that are not UTF-8 (a Latin-1 file name, a lone
    // continuation byte, an overlong or surrogate form) become U+FFFD.
    CHECK(json::quote("b\xC3\xA4r \xF0\x9F\x90\xBB") == "\"b\xC3\xA4r \xF0\x9F\x90\xBB\"");
    CHECK(json::quote("b\xE4r") == "\"b\\ufffdr\"");
    CHECK(json::quote("\x80\xC0\xAF\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    CHECK(json::quote("\xF0\x9F\x90") == "\"\\ufffd\\ufffd\\ufffd\"");  // cut short
    CHECK(json::number(0.1) == "0.1");
    CHECK(json::number(1e-5) == "1e-05");
    CHECK(json::parse(json::number(0.123456789012345)).value().number == 0.123456789012345);
}

TEST_CASE("model info is read from the metadata contract") {
    auto info = model_info_from_metadata(good_props());
    REQUIRE(info.ok());
    CHECK(info->labels == std::vector<std::string>{"black", "grizzly", "teddy"});
    CHECK(info->input.height == 224);
    CHECK(info->input.width == 192);
    CHECK(info->input.resize == ResizeMethod::Crop);
    CHECK(info->input.std[2] == doctest::Approx(0.225f));
    CHECK(info->arch == "resnet18");
    CHECK(info->valid_error == doctest::Approx(0.0159));
    CHECK(info->version == "0.1.0");
}

TEST_CASE("bare-word metadata values are read as they are") {
    auto props = good_props();
    props[2].second = "resnet18";
    props[3].second = "null";
    auto info = model_info_from_metadata(props);
    REQUIRE(info.ok());
    CHECK(info->arch == "resnet18");
    CHECK(info->valid_error < 0);
}

TEST_CASE("model info round-trips through the exporter's JSON") {
    InputSpec spec;
    spec.height = 28;
    spec.width = 32;
    spec.resize = ResizeMethod::Pad;
    spec.pad_mode = PadMode::Reflection;
    const std::vector<std::string> labels = {"a \"quoted\" label", "b"};
    auto info = model_info_from_metadata({{kMetaLabels, labels_json(labels)}, {kMetaInput, input_json(spec)}});
    REQUIRE(info.ok());
    CHECK(info->labels == labels);
    CHECK(info->input.height == 28);
    CHECK(info->input.width == 32);
    CHECK(info->input.resize == ResizeMethod::Pad);
    CHECK(info->input.pad_mode == PadMode::Reflection);
    CHECK(info->input.mean == spec.mean);
    CHECK(input_json(spec) == "{\"size\":[28,32],\"resize\":\"pad\",\"pad_mode\":\"reflection\",\"mean\":[0.485,0.456,0.406],"
                              "\"std\":[0.229,0.224,0.225]}");
    spec.resize = ResizeMethod::Crop;  // pad_mode only appears with pad
    CHECK(input_json(spec) ==
          "{\"size\":[28,32],\"resize\":\"crop\",\"mean\":[0.485,0.456,0.406],\"std\":[0.229,0.224,0.225]}");
    auto whole = json::parse(to_json(*info));
    REQUIRE(whole.ok());
    CHECK(whole->find("labels")->array.size() == 2);
    CHECK(whole->find("valid_error")->kind == json::Value::Kind::Null);
}

TEST_CASE("missing or bad metadata gives an error naming the key") {
    auto none = model_info_from_metadata({});
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message.find("ursa.labels") != std::string::npos);
    CHECK(none.error().message.find("ursa.input") != std::string::npos);

    auto props = good_props();
    props[1].second = "{\"size\":[224],\"mean\":[0,0,0],\"std\":[1,1,1]}";
    auto bad_size = model_info_from_metadata(props);
    REQUIRE_FALSE(bad_size.ok());
    CHECK(bad_size.error().message.find("ursa.input.size") != std::string::npos);

    props = good_props();
    props[1].second = "{\"size\":[8,8],\"mean\":[0,0,0],\"std\":[1,0,1]}";
    CHECK_FALSE(model_info_from_metadata(props).ok());

    props = good_props();
    props[0].second = "[\"a\", 3]";
    auto bad_labels = model_info_from_metadata(props);
    REQUIRE_FALSE(bad_labels.ok());
    CHECK(bad_labels.error().message.find("ursa.labels") != std::string::npos);

    props = good_props();
    props[1].second = "{\"size\":[8,8],\"resize\":\"stretch\",\"mean\":[0,0,0],\"std\":[1,1,1]}";
    CHECK_FALSE(model_info_from_metadata(props).ok());

    props[1].second = "{\"size\":[8,8],\"resize\":\"pad\",\"pad_mode\":\"mirror\",\"mean\":[0,0,0],\"std\":[1,1,1]}";
    auto bad_pad = model_info_from_metadata(props);
    REQUIRE_FALSE(bad_pad.ok());
    CHECK(bad_pad.error().message == "ursa.input.pad_mode: unknown pad mode 'mirror' (expected zeros, border or reflection)");
}
