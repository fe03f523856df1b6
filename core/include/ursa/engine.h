// Core's own inference engine: runs an ONNX image classifier (ResNet-style
// graphs) in plain C++, natively and in WebAssembly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ursa/result.h"

namespace ursa {

// A dense float32 tensor, row-major.
struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

// Threads the engine's kernels run on, the calling thread included, for every Engine
// of the process. The default is every hardware thread the process may use natively
// (and in a wasm build with pthreads), 1 in a wasm build without them. 0 restores the
// default; the count is clamped to what the build can start. Returns the count in use.
// Results do not depend on it.
int set_engine_threads(int threads);
int engine_threads();

class Engine {
  public:
    // Parses and plans the graph. Unsupported operators, data types or attributes
    // are reported here (naming them), not at run time.
    static Result<std::shared_ptr<Engine>> load(const uint8_t* data, size_t size);

    virtual ~Engine() = default;
    // The graph's single non-initializer input and its first output.
    virtual const std::string& input_name() const = 0;
    virtual const std::string& output_name() const = 0;
    // Input shape from the graph, with -1 for symbolic dimensions (e.g. batch).
    virtual const std::vector<int64_t>& input_shape() const = 0;
    // Runs the graph on `input` (NCHW for an image model) and returns the first output.
    virtual Result<Tensor> run(const Tensor& input) = 0;

    // Every non-initializer graph input and every graph output, in graph order.
    virtual const std::vector<std::string>& input_names() const = 0;
    virtual const std::vector<std::string>& output_names() const = 0;
    // Runs with one tensor per input_names() entry and returns every output. Integer
    // inputs (e.g. a Reshape shape) are passed as float values.
    virtual Result<std::vector<Tensor>> run_all(const std::vector<Tensor>& inputs) = 0;
};

}  // namespace ursa
