// libFuzzer target: bytes → ONNX metadata reader, model info (JSON), engine load/plan.
#include <cstddef>
#include <cstdint>

#include "ursa/engine.h"
#include "ursa/model_info.h"
#include "ursa/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)ursa::onnx::read_metadata_props(data, size);
    (void)ursa::read_model_info(data, size);
    (void)ursa::Engine::load(data, size);
    return 0;
}
