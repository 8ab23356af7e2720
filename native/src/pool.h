// A persistent thread pool for synchronous kernels. The calling JS thread takes part and blocks
// until every task is done, so a kernel returns only when its output is complete (tfjs kernels are
// synchronous). Workers touch raw memory only, never N-API.
#pragma once
#include <algorithm>
#include <atomic>
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
    stopping_ = false;
    for (int t = 1; t < std::max(1, threads); t++) workers_.emplace_back([this] { loop(); });
  }

  // Runs task(i) for i in [0, tasks), on all threads, and returns when all are done. Which thread
  // runs a task varies, so tasks must write disjoint outputs: results then never depend on timing.
  // An exception in any task is rethrown here, on the calling thread.
  void run(int64_t tasks, const std::function<void(int64_t)>& task) {
    if (workers_.empty() || tasks <= 1) {
      for (int64_t i = 0; i < tasks; i++) task(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      tasks_ = tasks;
      next_.store(0);
      busy_ = static_cast<int>(workers_.size());
      error_ = nullptr;
      generation_++;
    }
    wake_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
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

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_, errorMutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  int busy_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
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
