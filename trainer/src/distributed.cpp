#include "ursa/distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace ursa {

namespace {

// An integer from a flag (when >= 0) or else an environment variable; `fallback` when neither.
Result<int> int_setting(int flag, const char* env, int fallback) {
    if (flag >= 0) return flag;
    const char* v = std::getenv(env);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end || n < 0 || n > INT_MAX) return make_error(std::string(env) + "='" + v + "' is not a non-negative integer");
    return static_cast<int>(n);
}

bool is_loopback(const std::string& addr) {
    return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

Result<DistConfig> dist_config(int rank_flag, int world_flag, const std::string& master_flag, int timeout_s) {
    DistConfig c;
    c.timeout_s = timeout_s;
    auto world = int_setting(world_flag, "WORLD_SIZE", 1);
    auto rank = int_setting(rank_flag, "RANK", 0);
    if (!world) return world.error();
    if (!rank) return rank.error();
    c.world = *world, c.rank = *rank;
    if (c.world < 1) return make_error("the world size must be at least 1");
    if (c.rank >= c.world)
        return make_error("rank " + std::to_string(c.rank) + " is not below the world size " + std::to_string(c.world));
    auto local_rank = int_setting(-1, "LOCAL_RANK", c.rank);
    auto local_world = int_setting(-1, "LOCAL_WORLD_SIZE", c.world);
    if (!local_rank) return local_rank.error();
    if (!local_world) return local_world.error();
    c.local_rank = *local_rank, c.local_world = std::max(1, *local_world);
    std::string master = master_flag;
    if (master.empty()) {
        const char* addr = std::getenv("MASTER_ADDR");
        auto port = int_setting(-1, "MASTER_PORT", 29500);
        if (!port) return port.error();
        master = std::string(addr && *addr ? addr : "127.0.0.1") + ":" + std::to_string(*port);
    }
    const size_t colon = master.rfind(':');
    if (colon == std::string::npos || colon == 0)
        return make_error("--master must be ADDR:PORT, not '" + master + "'");
    c.master_addr = master.substr(0, colon);
    char* end = nullptr;
    const long port = std::strtol(master.c_str() + colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) return make_error("bad port in --master '" + master + "'");
    c.master_port = static_cast<int>(port);
    return c;
}

struct ProcessGroup::State {
    c10::intrusive_ptr<c10d::TCPStore> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
    // Gradient buckets of the step in progress.
    struct Bucket {
        std::vector<size_t> params;   // indices into `params`
        std::vector<int64_t> offsets; // where each one's gradient sits in `flat`
        torch::Tensor flat;
        size_t pending = 0;           // gradients not arrived yet
        c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<torch::Tensor> params;
    std::vector<Bucket> buckets;
    std::vector<std::pair<int, size_t>> where;  // param -> (bucket or -1, slot)
    std::vector<bool> arrived;
    size_t launched = 0;  // buckets [0, launched) have their all-reduce under way
    bool active = false;

    void launch_ready() {  // in bucket order, so every rank issues the same sequence
        while (launched < buckets.size() && buckets[launched].pending == 0) {
            std::vector<torch::Tensor> one{buckets[launched].flat};
            buckets[launched].work = pg->allreduce(one);
            ++launched;
        }
    }
};

ProcessGroup::~ProcessGroup() = default;

Result<std::unique_ptr<ProcessGroup>> ProcessGroup::connect(const DistConfig& c) {
    std::unique_ptr<ProcessGroup> g(new ProcessGroup());
    g->s_ = std::make_unique<State>();
    g->rank_ = c.rank, g->world_ = c.world;
    const std::chrono::milliseconds timeout(static_cast<int64_t>(c.timeout_s) * 1000);
    try {
        c10d::TCPStoreOptions so;
        so.port = static_cast<std::uint16_t>(c.master_port);
        so.isServer = c.rank == 0;
        so.numWorkers = static_cast<size_t>(c.world);
        so.waitWorkers = false;
        so.timeout = timeout;
        g->s_->store = c10::make_intrusive<c10d::TCPStore>(c.master_addr, so);
        auto options = c10d::ProcessGroupGloo::Options::create(timeout);
        // Loopback rendezvous binds loopback; otherwise the interface named by
        // GLOO_SOCKET_IFNAME (as PyTorch), else the address the hostname resolves to.
        const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        if (ifname && *ifname)
            options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
        else if (is_loopback(c.master_addr))
            options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        else
            options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        options->threads = 2;
        g->s_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->s_->store, c.rank, c.world, options);
    } catch (const std::exception& e) {
        return make_error("rank " + std::to_string(c.rank) + " of " + std::to_string(c.world) +
                          ": cannot connect to the other ranks at " + c.master_addr + ":" +
                          std::to_string(c.master_port) + ": " + e.what());
    }
    return g;
}

void ProcessGroup::allreduce_sum(torch::Tensor& t) {
    std::vector<torch::Tensor> v{t};
    s_->pg->allreduce(v)->wait();
}

void ProcessGroup::broadcast(torch::Tensor& t) {
    std::vector<torch::Tensor> v{t};
    s_->pg->broadcast(v)->wait();
}

void ProcessGroup::watch_gradients(const std::vector<torch::Tensor>& params) {
    State& st = *s_;
    st.params = params;
    st.where.assign(params.size(), {-1, 0});
    st.arrived.assign(params.size(), false);
    for (size_t i = 0; i < params.size(); ++i)
        params[i].register_hook([&st, i](const torch::Tensor& grad) {
            if (!st.active || st.where[i].first < 0 || st.arrived[i]) return;
            State::Bucket& b = st.buckets[static_cast<size_t>(st.where[i].first)];
            b.flat.narrow(0, b.offsets[st.where[i].second], grad.numel()).copy_(grad.reshape({-1}));
            st.arrived[i] = true;
            --b.pending;
            st.launch_ready();
        });
}

void ProcessGroup::begin_gradients() {
    constexpr int64_t kBucketBytes = 25 << 20;  // DDP's default bucket_cap_mb
    State& st = *s_;
    st.buckets.clear();
    st.where.assign(st.params.size(), {-1, 0});
    st.arrived.assign(st.params.size(), false);
    int64_t bytes = 0;
    for (size_t k = st.params.size(); k-- > 0;) {  // the backward pass reaches the last layers first
        const torch::Tensor& p = st.params[k];
        if (!p.requires_grad()) continue;
        const int64_t n = p.numel(), nbytes = n * static_cast<int64_t>(p.element_size());
        if (st.buckets.empty() || (bytes > 0 && bytes + nbytes > kBucketBytes)) st.buckets.emplace_back(), bytes = 0;
        State::Bucket& b = st.buckets.back();
        const int64_t offset = b.offsets.empty() ? 0 : b.offsets.back() + st.params[b.params.back()].numel();
        st.where[k] = {static_cast<int>(st.buckets.size() - 1), b.params.size()};
        b.params.push_back(k);
        b.offsets.push_back(offset);
        bytes += nbytes;
    }
    for (auto& b : st.buckets) {
        const int64_t total = b.offsets.back() + st.params[b.params.back()].numel();
        b.flat = torch::zeros({total}, st.params[b.params.front()].options().requires_grad(false));
        b.pending = b.params.size();
    }
    st.launched = 0;
    st.active = true;
}

void ProcessGroup::finish_gradients() {
    State& st = *s_;
    st.active = false;
    for (auto& b : st.buckets) b.pending = 0;  // gradients that never came count as zeros
    st.launch_ready();
    torch::NoGradGuard no_grad;
    for (auto& b : st.buckets) {
        b.work->wait();
        b.flat.div_(world_);
        for (size_t j = 0; j < b.params.size(); ++j) {
            torch::Tensor p = st.params[b.params[j]];
            const torch::Tensor mean = b.flat.narrow(0, b.offsets[j], p.numel()).view(p.sizes());
            if (p.grad().defined()) p.mutable_grad().copy_(mean);
            else p.mutable_grad() = mean.clone().contiguous(p.suggest_memory_format());
        }
    }
    st.buckets.clear();
}

namespace {

int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 29500;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 29500;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                    strsignal(WTERMSIG(status)) + ")";
    return "stopped";
}

volatile sig_atomic_t g_forward_signal = 0;
void remember_signal(int sig) { g_forward_signal = sig; }

}  // namespace

int launch_local(int nproc, const std::vector<std::string>& argv, int timeout_s) {
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) {
        std::fprintf(stderr, "error: cannot find this program (/proc/self/exe): %s\n", ec.message().c_str());
        return 2;
    }
    const int port = free_loopback_port();
    std::vector<pid_t> pids;
    for (int r = 0; r < nproc; ++r) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::fprintf(stderr, "error: cannot start rank %d: %s\n", r, std::strerror(errno));
            for (pid_t p : pids) ::kill(p, SIGTERM);
            return 2;
        }
        if (pid == 0) {
            ::setenv("RANK", std::to_string(r).c_str(), 1);
            ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
            ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
            ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
            ::setenv("MASTER_ADDR", "127.0.0.1", 1);
            ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
            ::setenv(kLaunchedEnv, "1", 1);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execv(self.c_str(), args.data());
            std::fprintf(stderr, "error: cannot run %s: %s\n", self.c_str(), std::strerror(errno));
            ::_exit(127);
        }
        pids.push_back(pid);
    }
    std::string started;
    for (int r = 0; r < nproc; ++r) started += (r ? ", rank " : "rank ") + std::to_string(r) + " pid " + std::to_string(pids[r]);
    std::fprintf(stderr, "started %d processes on 127.0.0.1:%d: %s\n", nproc, port, started.c_str());
    struct sigaction sa {};
    sa.sa_handler = remember_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);

    int result = 0, running = nproc;
    std::vector<bool> done(static_cast<size_t>(nproc), false);
    std::chrono::steady_clock::time_point failed_at{};
    bool stopping = false;
    while (running > 0) {
        if (g_forward_signal) {
            for (int r = 0; r < nproc; ++r)
                if (!done[r]) ::kill(pids[r], g_forward_signal);
            g_forward_signal = 0;
        }
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            int r = 0;
            while (r < nproc && pids[r] != pid) ++r;
            if (r == nproc) continue;
            done[r] = true;
            --running;
            const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!ok) std::fprintf(stderr, "rank %d (pid %d) %s\n", r, pid, describe(status).c_str());
            if (!ok && result == 0) {
                result = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
                failed_at = std::chrono::steady_clock::now();
                if (running > 0)
                    std::fprintf(stderr, "stopping: the other ranks fail on their next collective, or are stopped in %d s\n",
                                 timeout_s);
            }
            continue;
        }
        if (result != 0 && !stopping && std::chrono::steady_clock::now() - failed_at > std::chrono::seconds(timeout_s)) {
            for (int r = 0; r < nproc; ++r)
                if (!done[r]) ::kill(pids[r], SIGKILL);
            stopping = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (result != 0) std::fprintf(stderr, "error: data-parallel training failed (see the messages above)\n");
    return result;
}

}  // namespace ursa
