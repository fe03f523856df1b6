#include "ursa/safetensors.h"

#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "ursa/image.h"
#include "ursa/io.h"

namespace ursa {

std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& module) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.key()] = p.value();
    for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.key()] = b.value();
    return out;
}

namespace {

const char* dtype_name(torch::ScalarType t) {
    switch (t) {
        case torch::kFloat32: return "F32";
        case torch::kFloat16: return "F16";
        case torch::kBFloat16: return "BF16";
        case torch::kInt64: return "I64";
        case torch::kUInt8: return "U8";
        default: return nullptr;
    }
}

}  // namespace

Result<bool> save_safetensors(const torch::nn::Module& module, const std::string& path,
                              const std::map<std::string, std::string>& metadata) {
    return save_tensors(state_of(module), path, metadata);
}

Result<bool> save_tensors(const std::map<std::string, torch::Tensor>& named, const std::string& path,
                          const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<torch::Tensor> tensors;
    size_t offset = 0;
    for (auto& [name, tensor] : named) {
        torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
        const char* dtype = dtype_name(t.scalar_type());
        if (!dtype) return make_error("cannot save tensor " + name + ": unsupported dtype");
        const size_t bytes = t.numel() * t.element_size();
        header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        tensors.push_back(t);
    }
    std::string head = header.dump();
    while ((head.size() + 8) % 8) head += ' ';  // align the data to 8 bytes
    std::string out(8, '\0');
    const uint64_t n = head.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    out += head;
    out.reserve(out.size() + offset);
    for (const auto& t : tensors) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    return write_file_atomic(path, out);
}

Result<std::map<std::string, torch::Tensor>> read_safetensors(const std::string& path,
                                                              std::map<std::string, std::string>* metadata) {
    auto bytes = read_file(path);
    if (!bytes) return bytes.error();
    const auto& b = *bytes;
    if (b.size() < 8) return make_error(path + ": not a safetensors file (too short)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
    if (n > b.size() - 8) return make_error(path + ": not a safetensors file (bad header length)");
    nlohmann::json header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + n, nullptr, false);
    if (header.is_discarded() || !header.is_object()) return make_error(path + ": safetensors header is not JSON");
    const size_t data0 = 8 + n;
    std::map<std::string, torch::Tensor> out;
    for (auto& [name, info] : header.items()) {
        if (name == "__metadata__") {
            if (metadata && info.is_object())
                for (auto& [key, value] : info.items())
                    if (value.is_string()) (*metadata)[key] = value.get<std::string>();
            continue;
        }
        try {
            const std::string dtype = info.at("dtype");
            const std::vector<int64_t> shape = info.at("shape");
            const std::vector<uint64_t> offs = info.at("data_offsets");
            torch::ScalarType t;
            if (dtype == "F32") t = torch::kFloat32;
            else if (dtype == "F16") t = torch::kFloat16;
            else if (dtype == "BF16") t = torch::kBFloat16;
            else if (dtype == "I64") t = torch::kInt64;
            else if (dtype == "U8") t = torch::kUInt8;
            else return make_error(path + ": tensor " + name + " has unsupported dtype " + dtype);
            int64_t numel = 1;
            for (int64_t d : shape) numel *= d;
            const size_t bytes_needed = static_cast<size_t>(numel) * torch::elementSize(t);
            if (offs.size() != 2 || offs[1] < offs[0] || offs[1] - offs[0] != bytes_needed ||
                data0 + offs[1] > b.size())
                return make_error(path + ": tensor " + name + " has bad data_offsets");
            torch::Tensor tensor = torch::empty(shape, t);
            std::memcpy(tensor.data_ptr(), b.data() + data0 + offs[0], bytes_needed);
            out[name] = tensor;
        } catch (const std::exception& e) {
            return make_error(path + ": bad entry for tensor " + name + ": " + e.what());
        }
    }
    return out;
}

Result<bool> load_into(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                       const std::string& source) {
    auto state = state_of(module);
    std::string problems;
    for (auto& [name, target] : state) {
        auto it = tensors.find(name);
        if (it == tensors.end()) {
            problems += "\n  missing: " + name;
        } else if (it->second.sizes() != target.sizes()) {
            problems += "\n  shape mismatch: " + name;
        }
    }
    for (const auto& [name, t] : tensors)
        if (!state.count(name)) problems += "\n  unexpected: " + name;
    if (!problems.empty()) return make_error(source + " does not match the model:" + problems);
    torch::NoGradGuard guard;
    for (auto& [name, target] : state) target.copy_(tensors.at(name).to(target.scalar_type()));
    return true;
}

}  // namespace ursa
