// A persistent thread pool for synchronous kernels. The calling JS thread takes part and blocks
// until every task is done, so a kernel returns only when its output is complete (tfjs kernels are
// synchronous). Workers touch raw memory only, never N-API.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    stop();
    stopping_.store(false);
    // A worker must count generations from now: one that read the counter only once started could
    // miss a job published meanwhile, and run() would wait for it forever.
    const uint64_t now = generation_.load();
    for (int t = 1; t < std::max(1, threads); t++) workers_.emplace_back([this, now] { loop(now); });
  }

  // Runs task(i) for i in [0, tasks), on all threads, and returns when all are done. Which thread
  // runs a task varies, so tasks must write disjoint outputs: results then never depend on timing.
  // An exception in any task is rethrown here, on the calling thread.
  void run(int64_t tasks, const std::function<void(int64_t)>& task) {
    if (workers_.empty() || tasks <= 1) {
      for (int64_t i = 0; i < tasks; i++) task(i);
      return;
    }
    task_ = &task;
    tasks_ = tasks;
    error_ = nullptr;
    next_.store(0);
    busy_.store(static_cast<int>(workers_.size()));
    generation_.fetch_add(1);  // publishes the fields above to the workers
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    drain();
    // Workers are spinning during a burst of kernels, so completion is a few microseconds away.
    for (int spins = 0; busy_.load() != 0; spins++) spins < 4096 ? pause() : std::this_thread::yield();
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  void drain() {
    for (int64_t i; (i = next_.fetch_add(1)) < tasks_;) {
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  // A worker spins for a while after each job before it sleeps: kernels of a training step come
  // every few tens of microseconds, and waking a sleeping thread (on a VM, a halted vCPU) can
  // take milliseconds.
  void loop(uint64_t seen) {
    for (;;) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
      for (int spins = 0; generation_.load() == seen && !stopping_.load(); spins++) {
        pause();
        if ((spins & 255) == 255 && std::chrono::steady_clock::now() > deadline) {
          std::unique_lock<std::mutex> lock(mutex_);
          sleepers_.fetch_add(1);
          wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
          sleepers_.fetch_sub(1);
          break;
        }
      }
      if (stopping_.load()) return;
      seen = generation_.load();
      drain();
      busy_.fetch_sub(1);
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
      wake_.notify_all();
    }
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  static constexpr int kSpinMicroseconds = 20;
  std::vector<std::thread> workers_;
  std::mutex mutex_, errorMutex_;
  std::condition_variable wake_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> busy_{0}, sleepers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

// Runs body(begin, end) over [0, n) in fixed chunks of `grain` items: the chunking depends on n
// and grain only, never on the number of threads, so every result is the same on any machine.
// Work under `serialBelow` items stays on the calling thread (a hand-off costs ~10 us).
inline void parallelFor(Pool& pool, int64_t n, int64_t grain, int64_t serialBelow,
                        const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t chunks = (n + grain - 1) / grain;
  if (n < serialBelow || chunks == 1) {
    body(0, n);
    return;
  }
  pool.run(chunks, [&](int64_t c) { body(c * grain, std::min(n, (c + 1) * grain)); });
}
