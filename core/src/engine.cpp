// The engine: plans an ONNX graph once at load (operators checked, names resolved to
// slots, lifetimes computed) and runs the plan.
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

#include "engine_internal.h"

namespace ursa {
namespace engine {

int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
    int64_t n = 1;
    for (size_t k = from; k < to && k < shape.size(); ++k) n *= shape[k];
    return n;
}

int64_t numel(const std::vector<int64_t>& shape) {
    return product(shape, 0, shape.size());
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k) s += (k ? "," : "") + std::to_string(shape[k]);
    return s + "]";
}

Status alloc(Tensor& t, std::vector<int64_t> shape, bool zero) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return make_error("negative dimension in shape " + shape_str(shape));
        if (d != 0 && n > kMaxElements / d)
            return make_error("tensor of shape " + shape_str(shape) + " is too large");
        n *= d;
    }
    t.shape = std::move(shape);
    if (zero)
        t.data.assign(size_t(n), 0.f);
    else
        t.data.resize(size_t(n));
    return ok();
}

bool normalize_axis(int64_t& axis, int64_t rank, int64_t extra) {
    if (axis < -rank || axis >= rank + extra) return false;
    if (axis < 0) axis += rank;
    return axis >= 0;
}

bool broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                     std::vector<int64_t>& out) {
    size_t r = std::max(a.size(), b.size());
    out.assign(r, 1);
    for (size_t k = 0; k < r; ++k) {
        int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
        int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
        if (da != db && da != 1 && db != 1) return false;
        out[k] = da == 1 ? db : da;
    }
    return true;
}

// Element strides of `shape` seen as rank `rank`, 0 along broadcast dims.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, size_t rank) {
    std::vector<int64_t> st(rank, 0);
    int64_t s = 1;
    for (size_t k = shape.size(); k-- > 0;) {
        st[k + rank - shape.size()] = shape[k] == 1 ? 0 : s;
        s *= shape[k];
    }
    return st;
}

// ---- Attrs

const onnx::Attribute* Attrs::find(const char* name, int32_t type) {
    used_.insert(name);
    for (const auto& a : node_.attributes) {
        if (a.name != name) continue;
        if (a.type != type) {
            reject(std::string("attribute '") + name + "' has type " + std::to_string(a.type) +
                   ", expected " + std::to_string(type));
            return nullptr;
        }
        return &a;
    }
    return nullptr;
}

bool Attrs::has(const char* name) {
    for (const auto& a : node_.attributes)
        if (a.name == name) return true;
    return false;
}

int64_t Attrs::i(const char* name, int64_t def) {
    const auto* a = find(name, onnx::kAttrInt);
    return a ? a->i : def;
}
float Attrs::f(const char* name, float def) {
    const auto* a = find(name, onnx::kAttrFloat);
    return a ? a->f : def;
}
std::string Attrs::s(const char* name, const std::string& def) {
    const auto* a = find(name, onnx::kAttrString);
    return a ? a->s : def;
}
std::vector<int64_t> Attrs::ints(const char* name, std::vector<int64_t> def) {
    const auto* a = find(name, onnx::kAttrInts);
    return a ? a->ints : def;
}
std::vector<float> Attrs::floats(const char* name) {
    const auto* a = find(name, onnx::kAttrFloats);
    return a ? a->floats : std::vector<float>{};
}
const onnx::TensorData* Attrs::tensor(const char* name) {
    const auto* a = find(name, onnx::kAttrTensor);
    return a ? &a->t : nullptr;
}

void Attrs::reject(const std::string& message) {
    if (error_.empty()) error_ = message;
}

Status Attrs::status() const {
    if (!error_.empty()) return make_error(error_);
    for (const auto& a : node_.attributes)
        if (!used_.count(a.name)) return make_error("unsupported attribute '" + a.name + "'");
    return ok();
}

namespace {

const std::vector<OpDef>& op_defs() {
    static const std::vector<OpDef> defs = [] {
        std::vector<OpDef> d;
        add_elementwise_ops(d);
        add_conv_pool_ops(d);
        add_linear_ops(d);
        add_shape_ops(d);
        return d;
    }();
    return defs;
}

const OpDef* find_op(const std::string& op_type) {
    for (const auto& d : op_defs())
        if (op_type == d.op_type) return &d;
    return nullptr;
}

std::string node_label(const onnx::Node& n) {
    std::string who = !n.name.empty()      ? "node '" + n.name + "'"
                      : !n.outputs.empty() ? "the node producing '" + n.outputs[0] + "'"
                                           : "an unnamed node";
    return n.op_type + " (" + who + ")";
}

Result<Tensor> constant_value(OpInit& init) {
    Attrs& a = init.attrs;
    Tensor t;
    if (const auto* value = a.tensor("value")) {
        t = Tensor{value->dims, value->values};
    } else if (a.has("value_float")) {
        t = Tensor{{}, {a.f("value_float", 0.f)}};
    } else if (a.has("value_floats")) {
        auto v = a.floats("value_floats");
        t = Tensor{{int64_t(v.size())}, v};
    } else if (a.has("value_int")) {
        t = Tensor{{}, {float(a.i("value_int", 0))}};
    } else if (a.has("value_ints")) {
        auto v = a.ints("value_ints");
        t = Tensor{{int64_t(v.size())}, std::vector<float>(v.begin(), v.end())};
    } else {
        a.reject("Constant needs a value, value_float(s) or value_int(s) attribute");
    }
    Status s = a.status();
    if (!s) return s.error();
    return t;
}

class GraphEngine final : public Engine {
  public:
    static Result<std::shared_ptr<Engine>> build(onnx::Model& model);

    const std::string& input_name() const override { return inputs_.empty() ? empty_ : input_names_[0]; }
    const std::string& output_name() const override { return output_names_[0]; }
    const std::vector<int64_t>& input_shape() const override {
        static const std::vector<int64_t> none;
        return inputs_.empty() ? none : inputs_[0].shape;
    }
    const std::vector<std::string>& input_names() const override { return input_names_; }
    const std::vector<std::string>& output_names() const override { return output_names_; }

    Result<Tensor> run(const Tensor& input) override;
    Result<std::vector<Tensor>> run_all(const std::vector<Tensor>& inputs) override;

  private:
    struct Input {
        std::vector<int64_t> shape;  // -1 for symbolic dims
        bool has_shape = false;
        int slot = -1;
    };
    struct Step {
        std::unique_ptr<Op> op;
        std::string op_type, label;
        std::vector<int> in, out;  // slots, -1 when absent
        std::vector<int> release;  // slots no longer needed after this step
    };

    Status plan(onnx::Model& model, int64_t opset);
    Status add_node(const onnx::Node& node, int64_t opset);
    int new_slot(const std::string& name) { return slots_[name] = int(nslots_++); }
    Status check_input(size_t k, const Tensor& t) const;
    void fuse_relus();
    Status prepare_ops();
    Result<std::vector<Tensor>> execute(const std::vector<const Tensor*>& inputs);
    Result<std::vector<Tensor>> guarded(const std::vector<const Tensor*>& inputs);

    std::unordered_map<std::string, int> slots_;
    size_t nslots_ = 0;
    std::vector<Tensor> consts_;
    std::vector<int> const_slots_;
    std::vector<Input> inputs_;
    std::vector<std::string> input_names_, output_names_;
    std::vector<int> output_slots_;
    std::vector<Step> steps_;
    std::string empty_;

    // Run-time buffers, kept between runs (one run at a time): each slot's tensor, the
    // size its value had in the last run, and the buffers of released values, handed
    // to later outputs of at most their capacity (best fit). Memory stays bounded by
    // about the plan's peak of simultaneously live values.
    std::mutex run_mutex_;
    std::vector<Tensor> work_;
    std::vector<size_t> last_size_;
    std::vector<std::vector<float>> pool_;
    void seat(Tensor& t, size_t size);
    void release(Tensor& t);
};

Status GraphEngine::add_node(const onnx::Node& node, int64_t opset) {
    const std::string label = node_label(node);
    auto fail = [&](const std::string& msg) { return make_error(label + ": " + msg); };
    if (!node.domain.empty() && node.domain != "ai.onnx")
        return fail("operator domain '" + node.domain + "' is not supported");
    Attrs attrs(node);
    OpInit init{node, opset, attrs};
    if (node.op_type == "Constant") {  // folded into a constant slot
        auto t = constant_value(init);
        if (!t) return fail(t.error().message);
        if (node.outputs.size() != 1 || node.outputs[0].empty()) return fail("needs one output");
        if (slots_.count(node.outputs[0])) return fail("output '" + node.outputs[0] + "' is defined twice");
        consts_.push_back(std::move(*t));
        const_slots_.push_back(new_slot(node.outputs[0]));
        return ok();
    }
    const OpDef* def = find_op(node.op_type);
    if (!def) return fail("unsupported operator '" + node.op_type + "'");
    int nin = int(node.inputs.size()), nout = int(node.outputs.size());
    if (nin < def->min_inputs || nin > def->max_inputs)
        return fail("has " + std::to_string(nin) + " inputs, expected " + std::to_string(def->min_inputs) +
                    ".." + std::to_string(def->max_inputs));
    if (nout < def->min_outputs || nout > def->max_outputs)
        return fail("has " + std::to_string(nout) + " outputs, expected " + std::to_string(def->min_outputs) +
                    ".." + std::to_string(def->max_outputs));
    auto op = def->make(init);
    if (!op) return fail(op.error().message);
    Status s = attrs.status();
    if (!s) return fail(s.error().message);

    Step step{std::move(*op), node.op_type, label, {}, {}, {}};
    for (const auto& name : node.inputs) {
        if (name.empty()) {
            if (int(step.in.size()) < def->min_inputs)
                return fail("required input " + std::to_string(step.in.size()) + " is empty");
            step.in.push_back(-1);
            continue;
        }
        auto it = slots_.find(name);
        if (it == slots_.end()) return fail("input '" + name + "' is not produced by any earlier node");
        step.in.push_back(it->second);
    }
    if (step.op->passthrough() && step.in.size() == 1 && step.in[0] >= 0 && node.outputs.size() == 1 &&
        !node.outputs[0].empty()) {  // the output is another name for the input's value
        if (slots_.count(node.outputs[0])) return fail("output '" + node.outputs[0] + "' is defined twice");
        slots_[node.outputs[0]] = step.in[0];
        return ok();
    }
    for (const auto& name : node.outputs) {
        if (name.empty()) {
            if (step.out.empty()) return fail("the first output has no name");
            step.out.push_back(-1);
            continue;
        }
        if (slots_.count(name)) return fail("output '" + name + "' is defined twice");
        step.out.push_back(new_slot(name));
    }
    steps_.push_back(std::move(step));
    return ok();
}

std::vector<int64_t> value_info_shape(const onnx::ValueInfo& vi) {
    std::vector<int64_t> shape;
    for (const auto& d : vi.dims) shape.push_back(d.param.empty() && d.value >= 0 ? d.value : -1);
    return shape;
}

// Moves the initializers' values out of `model`.
Status GraphEngine::plan(onnx::Model& model, int64_t opset) {
    onnx::Graph& g = model.graph;
    for (auto& init : g.initializers) {
        if (init.name.empty()) return make_error("an initializer has no name");
        if (slots_.count(init.name)) return make_error("initializer '" + init.name + "' is defined twice");
        consts_.push_back(Tensor{std::move(init.dims), std::move(init.values)});
        const_slots_.push_back(new_slot(init.name));
    }
    for (const auto& vi : g.inputs) {
        if (slots_.count(vi.name)) continue;  // an initializer listed as an input (older exporters)
        if (vi.name.empty()) return make_error("a graph input has no name");
        inputs_.push_back(Input{value_info_shape(vi), vi.has_shape, new_slot(vi.name)});
        input_names_.push_back(vi.name);
    }
    for (const auto& node : g.nodes) {
        Status s = add_node(node, opset);
        if (!s) return s;
    }
    if (g.outputs.empty()) return make_error("the graph has no outputs");
    for (const auto& vi : g.outputs) {
        auto it = slots_.find(vi.name);
        if (it == slots_.end())
            return make_error("graph output '" + vi.name + "' is not produced by any node");
        output_names_.push_back(vi.name);
        output_slots_.push_back(it->second);
    }
    fuse_relus();
    Status prepared = prepare_ops();
    if (!prepared) return prepared;
    // Lifetimes: a node output is released after its last reader, unless it is a graph output.
    std::vector<int> last(nslots_, -1);
    for (size_t k = 0; k < steps_.size(); ++k) {
        for (int s : steps_[k].out)
            if (s >= 0) last[size_t(s)] = int(k);
        for (int s : steps_[k].in)
            if (s >= 0) last[size_t(s)] = int(k);
    }
    for (int s : output_slots_) last[size_t(s)] = -1;
    for (size_t k = 0; k < steps_.size(); ++k)
        for (int s : steps_[k].out)
            if (s >= 0 && last[size_t(s)] >= 0) steps_[size_t(last[size_t(s)])].release.push_back(s);
    return ok();
}

// A Relu whose input is the first output of a node that can apply it itself (Conv) and
// that nothing else reads is dropped; its output becomes another name for that value.
void GraphEngine::fuse_relus() {
    std::vector<int> readers(nslots_, 0), producer(nslots_, -1), rename(nslots_);
    for (size_t s = 0; s < nslots_; ++s) rename[s] = int(s);
    for (size_t k = 0; k < steps_.size(); ++k) {
        for (int s : steps_[k].in)
            if (s >= 0) ++readers[size_t(s)];
        if (!steps_[k].out.empty() && steps_[k].out[0] >= 0) producer[size_t(steps_[k].out[0])] = int(k);
    }
    for (int s : output_slots_) ++readers[size_t(s)];
    std::vector<Step> kept;
    std::vector<size_t> kept_at(steps_.size());  // step k's index in `kept`
    for (size_t k = 0; k < steps_.size(); ++k) {
        Step& step = steps_[k];
        for (int& s : step.in)
            if (s >= 0) s = rename[size_t(s)];
        if (step.op_type == "Relu" && step.in.size() == 1 && step.in[0] >= 0 && step.out.size() == 1 &&
            step.out[0] >= 0) {
            const int s = step.in[0], j = producer[size_t(s)];
            if (j >= 0 && readers[size_t(s)] == 1 && kept[kept_at[size_t(j)]].op->fuse_relu()) {
                rename[size_t(step.out[0])] = s;
                continue;
            }
        }
        kept_at[k] = kept.size();
        kept.push_back(std::move(step));
    }
    steps_ = std::move(kept);
    for (int& s : output_slots_) s = rename[size_t(s)];
    for (auto& [name, s] : slots_) s = rename[size_t(s)];
}

Status GraphEngine::prepare_ops() {
    std::vector<Tensor*> const_of(nslots_, nullptr);
    for (size_t k = 0; k < consts_.size(); ++k) const_of[size_t(const_slots_[k])] = &consts_[k];
    std::vector<int> readers(nslots_, 0);
    for (const Step& step : steps_)
        for (int s : step.in)
            if (s >= 0) ++readers[size_t(s)];
    for (int s : output_slots_) ++readers[size_t(s)];
    std::vector<const Tensor*> constants;
    for (Step& step : steps_) {
        constants.clear();
        for (int s : step.in) constants.push_back(s >= 0 ? const_of[size_t(s)] : nullptr);
        Status s = step.op->prepare(constants);
        if (!s) return make_error(step.label + ": " + s.error().message);
        for (size_t k = 0; k < step.in.size(); ++k) {
            const int slot = step.in[k];
            if (constants[k] && readers[size_t(slot)] == 1 && step.op->keeps_copy_of(k))
                std::vector<float>().swap(const_of[size_t(slot)]->data);  // the shape stays
        }
    }
    return ok();
}

void GraphEngine::seat(Tensor& t, size_t size) {
    if (size == 0 || t.data.capacity() >= size) return;
    size_t best = pool_.size();
    for (size_t k = 0; k < pool_.size(); ++k)
        if (pool_[k].capacity() >= size && (best == pool_.size() || pool_[k].capacity() < pool_[best].capacity()))
            best = k;
    if (best == pool_.size()) return;  // nothing fits: the op allocates (and the pool grows by it later)
    release(t);
    t.data = std::move(pool_[best]);
    pool_[best] = std::move(pool_.back());
    pool_.pop_back();
}

void GraphEngine::release(Tensor& t) {
    if (t.data.capacity()) pool_.push_back(std::move(t.data));
    t = Tensor{};
}

Result<std::shared_ptr<Engine>> GraphEngine::build(onnx::Model& model) {
    if (!model.has_graph) return make_error("the ONNX model has no graph");
    int64_t opset = 0;
    for (const auto& [domain, version] : model.opsets)
        if (domain.empty() || domain == "ai.onnx") opset = version;
    if (opset == 0) opset = 1;  // IR < 3 models carry no opset_import
    auto engine = std::make_shared<GraphEngine>();
    Status s = engine->plan(model, opset);
    if (!s) return make_error("cannot load ONNX model: " + s.error().message);
    return std::shared_ptr<Engine>(std::move(engine));
}

Status GraphEngine::check_input(size_t k, const Tensor& t) const {
    const Input& in = inputs_[k];
    const std::string& name = input_names_[k];
    if (in.has_shape) {
        bool match = t.shape.size() == in.shape.size();
        for (size_t d = 0; match && d < t.shape.size(); ++d)
            match = in.shape[d] < 0 || in.shape[d] == t.shape[d];
        if (!match)
            return make_error("input '" + name + "' expects shape " + shape_str(in.shape) +
                              " (-1: any), got " + shape_str(t.shape));
    }
    int64_t n = 1;
    for (int64_t d : t.shape) {
        if (d < 0 || (d != 0 && n > kMaxElements / d))
            return make_error("input '" + name + "' has an invalid shape " + shape_str(t.shape));
        n *= d;
    }
    if (size_t(n) != t.data.size())
        return make_error("input '" + name + "' has shape " + shape_str(t.shape) + " (" + std::to_string(n) +
                          " values) but " + std::to_string(t.data.size()) + " values");
    return ok();
}

Result<std::vector<Tensor>> GraphEngine::execute(const std::vector<const Tensor*>& inputs) {
    if (inputs.size() != inputs_.size())
        return make_error("the model has " + std::to_string(inputs_.size()) + " inputs, got " +
                          std::to_string(inputs.size()));
    for (size_t k = 0; k < inputs.size(); ++k) {
        Status s = check_input(k, *inputs[k]);
        if (!s) return s.error();
    }
    std::lock_guard<std::mutex> lock(run_mutex_);
    std::vector<Tensor>& owned = work_;
    owned.resize(nslots_);
    last_size_.resize(nslots_, 0);
    for (Tensor& t : owned) release(t);  // left over from a run that failed
    std::vector<const Tensor*> value(nslots_, nullptr);
    for (size_t k = 0; k < consts_.size(); ++k) value[size_t(const_slots_[k])] = &consts_[k];
    for (size_t k = 0; k < inputs.size(); ++k) value[size_t(inputs_[k].slot)] = inputs[k];
    std::vector<const Tensor*> in;
    std::vector<Tensor*> out;
    for (const Step& step : steps_) {
        in.clear();
        out.clear();
        for (int s : step.in) in.push_back(s >= 0 ? value[size_t(s)] : nullptr);
        for (int s : step.out) {
            if (s >= 0) seat(owned[size_t(s)], last_size_[size_t(s)]);
            out.push_back(s >= 0 ? &owned[size_t(s)] : nullptr);
        }
        Status st = step.op->run(in, out);
        if (!st) return make_error(step.label + ": " + st.error().message);
        for (int s : step.out)
            if (s >= 0) {
                value[size_t(s)] = &owned[size_t(s)];
                last_size_[size_t(s)] = owned[size_t(s)].data.size();
            }
        for (int s : step.release) release(owned[size_t(s)]);
    }
    std::vector<Tensor> result;
    for (int s : output_slots_) result.push_back(*value[size_t(s)]);
    for (Tensor& t : owned) release(t);
    return result;
}

// Kernels check sizes before allocating; this only catches a host that is out of memory.
Result<std::vector<Tensor>> GraphEngine::guarded(const std::vector<const Tensor*>& inputs) {
#if defined(__cpp_exceptions)
    try {
        return execute(inputs);
    } catch (const std::bad_alloc&) {
        return make_error("out of memory while running the model");
    }
#else
    return execute(inputs);
#endif
}

Result<std::vector<Tensor>> GraphEngine::run_all(const std::vector<Tensor>& inputs) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(&t);
    return guarded(ptrs);
}

Result<Tensor> GraphEngine::run(const Tensor& input) {
    if (inputs_.size() != 1)
        return make_error("run() needs a model with one input; this one has " +
                          std::to_string(inputs_.size()) + " (use run_all)");
    auto outs = guarded({&input});
    if (!outs) return outs.error();
    return std::move(outs->front());
}

}  // namespace
}  // namespace engine

Result<std::shared_ptr<Engine>> Engine::load(const uint8_t* data, size_t size) {
#if defined(__cpp_exceptions)
    try {
#endif
        auto model = onnx::parse_model(data, size);
        if (!model) return model.error();
        return engine::GraphEngine::build(*model);
#if defined(__cpp_exceptions)
    } catch (const std::bad_alloc&) {
        return make_error("out of memory while loading the model");
    }
#endif
}

}  // namespace ursa
