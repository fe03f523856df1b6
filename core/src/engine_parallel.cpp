#include "engine_parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#if defined(__EMSCRIPTEN__)
#include <emscripten/threading.h>
#endif
#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define URSA_ENGINE_THREADS 1
#include <pthread.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace ursa::engine {
namespace {

constexpr int kMaxThreads = 64;

int hardware_threads() {
#if defined(__EMSCRIPTEN_PTHREADS__)
    return std::max(1, emscripten_num_logical_cores());
#elif defined(URSA_ENGINE_THREADS)
#if defined(__linux__)
    // The CPUs this process may run on (taskset, cgroup cpusets), not all of the machine's.
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
    return std::max(1u, std::thread::hardware_concurrency());
#else
    return 1;
#endif
}

thread_local bool t_in_task = false;

class Pool {
  public:
    // For the kernels' split decisions: no lock (they may run inside a task).
    int planned() const { return wanted_.load(std::memory_order_relaxed); }

    // The workers are started here, so that the count is what the build could start.
    int threads() {
        std::lock_guard<std::mutex> use(use_);
        start_workers();
        return wanted_;
    }

    int set_threads(int n) {
        std::lock_guard<std::mutex> use(use_);
        n = n <= 0 ? hardware_threads() : n;
        n = std::clamp(n, 1, threads_supported() ? kMaxThreads : 1);
        if (n - 1 < int(workers_.size())) stop_workers();
        wanted_ = n;
        start_workers();
        return wanted_;
    }

    void run(int64_t tasks, const std::function<void(int64_t)>& task) {
        std::unique_lock<std::mutex> use(use_, std::try_to_lock);
        const bool serial = !use || t_in_task || tasks <= 1;
        if (!serial) start_workers();  // on first use; none when one thread is wanted
        if (serial || workers_.empty()) {
            for (int64_t t = 0; t < tasks; ++t) task(t);
            return;
        }
        {
            std::lock_guard<std::mutex> lk(m_);
            job_ = &task;
            tasks_ = tasks;
            next_.store(0);
            active_ = int(workers_.size());
            failed_ = false;
            ++generation_;
        }
        work_.notify_all();
        t_in_task = true;
        bool failed = !take_tasks();
        t_in_task = false;
        std::unique_lock<std::mutex> lk(m_);
        done_.wait(lk, [&] { return active_ == 0; });
        job_ = nullptr;
        if (failed || failed_) throw std::bad_alloc();
    }

  private:
    // Runs tasks until none is left; false if one ran out of memory (the others still run).
    bool take_tasks() {
        bool ok = true;
        for (int64_t t; (t = next_.fetch_add(1)) < tasks_;) {
            try {
                (*job_)(t);
            } catch (const std::bad_alloc&) {
                ok = false;
            }
        }
        return ok;
    }

    struct Start {
        Pool* pool;
        uint64_t generation;  // the last one before the worker existed
    };

    static void* worker_main(void* arg) {
        const Start start = *static_cast<Start*>(arg);
        delete static_cast<Start*>(arg);
        Pool& p = *start.pool;
        t_in_task = true;
        uint64_t seen = start.generation;
        std::unique_lock<std::mutex> lk(p.m_);
        for (;;) {
            p.work_.wait(lk, [&] { return p.stop_ || p.generation_ != seen; });
            if (p.stop_) return nullptr;
            seen = p.generation_;
            lk.unlock();
            const bool ok = p.take_tasks();
            lk.lock();
            if (!ok) p.failed_ = true;
            if (--p.active_ == 0) p.done_.notify_one();
        }
    }

    // Starts the missing workers (with use_ held); wanted_ becomes what could start.
    void start_workers() {
#if defined(URSA_ENGINE_THREADS)
        while (int(workers_.size()) < wanted_ - 1) {
            pthread_t th;
            // The worker takes part in every generation after the current one (which
            // has ended: use_ is held), however late the thread gets to run.
            Start* start = new Start{this, 0};
            {
                std::lock_guard<std::mutex> lk(m_);
                start->generation = generation_;
            }
            if (pthread_create(&th, nullptr, &Pool::worker_main, start) != 0) {
                delete start;
                // e.g. a wasm build whose pool of Web Workers is smaller: use what started.
                wanted_ = int(workers_.size()) + 1;
                break;
            }
            workers_.push_back(th);
        }
#endif
    }

    void stop_workers() {
#if defined(URSA_ENGINE_THREADS)
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
        }
        work_.notify_all();
        for (pthread_t th : workers_) pthread_join(th, nullptr);
        workers_.clear();
        std::lock_guard<std::mutex> lk(m_);
        stop_ = false;
#endif
    }

    std::mutex use_;  // held by the thread running tasks on the pool, and while it changes
    std::atomic<int> wanted_{hardware_threads()};  // written with use_ held
#if defined(URSA_ENGINE_THREADS)
    std::vector<pthread_t> workers_;
#else
    std::vector<int> workers_;
#endif

    std::mutex m_;  // guards the fields below
    std::condition_variable work_, done_;
    uint64_t generation_ = 0;
    bool stop_ = false, failed_ = false;
    int active_ = 0;
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t tasks_ = 0;
    std::atomic<int64_t> next_{0};
};

// Never destroyed: workers may still wait on it while the process exits.
Pool& pool() {
    static Pool* p = new Pool;
    return *p;
}

}  // namespace

bool threads_supported() {
#if defined(URSA_ENGINE_THREADS)
    return true;
#else
    return false;
#endif
}

int pool_threads() {
    return pool().planned();
}

int set_pool_threads(int n) {
    return pool().set_threads(n);
}

void parallel_for(int64_t tasks, const std::function<void(int64_t)>& task) {
    pool().run(tasks, task);
}

}  // namespace ursa::engine

namespace ursa {
int set_engine_threads(int threads) {
    return engine::set_pool_threads(threads);
}
int engine_threads() {
    return engine::pool().threads();
}
}  // namespace ursa
