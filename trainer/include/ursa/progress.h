// A progress bar on stderr: redrawn in place on a terminal, a few plain lines otherwise.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace ursa {

// An empty title makes a silent bar.
class ProgressBar {
  public:
    ProgressBar(std::string title, size_t total);
    // Sets the count done and an optional suffix (e.g. the smoothed loss).
    void update(size_t done, const std::string& suffix = "");
    // Ends the line (idempotent).
    void finish();
    ~ProgressBar() { finish(); }

  private:
    std::string title_;
    size_t total_;
    size_t done_ = 0;
    bool tty_;
    bool finished_ = false;
    int last_quarter_ = -1;
    std::string suffix_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
    void draw(bool force);
};

// Whether bars made from now on are drawn (data-parallel ranks other than 0 draw none).
void show_progress_bars(bool shown);

// "mm:ss" as fastai's table prints times.
std::string format_duration(double seconds);

// `requested` threads, or every core when it is 0 (the --threads convention).
int thread_count(int requested);

// Calls work(i) for i in [0, n) on `threads` threads (the caller's among them), each
// index once, with a progress bar titled `title`. work must be safe to run
// concurrently for different i.
void parallel_for_with_progress(size_t n, int threads, const std::string& title,
                                const std::function<void(size_t)>& work);

}  // namespace ursa
