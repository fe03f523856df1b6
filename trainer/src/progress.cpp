#include "ursa/progress.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>
#include <unistd.h>

namespace ursa {

std::string format_duration(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
    return buf;
}

namespace {
std::atomic<bool> g_bars_shown{true};
}

void show_progress_bars(bool shown) { g_bars_shown = shown; }

ProgressBar::ProgressBar(std::string title, size_t total)
    : title_(g_bars_shown ? std::move(title) : std::string()), total_(total), tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(size_t done, const std::string& suffix) {
    done_ = done;
    suffix_ = suffix;
    draw(false);
}

void ProgressBar::finish() {
    if (finished_) return;
    finished_ = true;
    draw(true);
    if (tty_ && !title_.empty()) std::fputc('\n', stderr);
}

void ProgressBar::draw(bool force) {
    if (title_.empty()) return;  // an untitled bar is silent (small internal jobs)
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double frac = total_ ? static_cast<double>(done_) / total_ : 1.0;
    const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    if (tty_) {
        if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(frac * kWidth);
        std::string bar(filled, '#');
        bar.resize(kWidth, '.');
        std::fprintf(stderr, "\r%s [%s] %zu/%zu %s<%s %s\033[K", title_.c_str(), bar.c_str(), done_, total_,
                     format_duration(elapsed).c_str(), format_duration(eta).c_str(), suffix_.c_str());
    } else {
        // Not a terminal (CI logs, pipes): one line per 25% so logs stay short.
        const int quarter = static_cast<int>(frac * 4);
        if (!force && quarter <= last_quarter_) return;
        if (force && last_quarter_ >= 4) return;
        last_quarter_ = quarter;
        std::fprintf(stderr, "%s %3d%% %zu/%zu %s %s\n", title_.c_str(), static_cast<int>(frac * 100), done_,
                     total_, format_duration(elapsed).c_str(), suffix_.c_str());
    }
    std::fflush(stderr);
}

int thread_count(int requested) {
    return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void parallel_for_with_progress(size_t n, int threads, const std::string& title,
                                const std::function<void(size_t)>& work) {
    std::atomic<size_t> next{0}, done{0};
    ProgressBar bar(title, n);
    std::mutex bar_mutex;
    auto loop = [&] {
        for (size_t i = next++; i < n; i = next++) {
            work(i);
            const size_t d = ++done;
            if (d % 256 == 0 || d == n) {
                std::lock_guard<std::mutex> lock(bar_mutex);
                bar.update(d);
            }
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < std::max(1, threads); ++t) pool.emplace_back(loop);
    loop();
    for (auto& t : pool) t.join();
    bar.finish();
}

}  // namespace ursa
