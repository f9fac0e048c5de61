// A fixed pool of compute threads for the addon's kernels: the calling (JS) thread plus
// threads-1 workers run the tasks of one parallel_for. Why our own pool: a TF.js training step is
// hundreds of kernels of 10 us to 10 ms each, back to back; a worker that sleeps between them
// costs a futex wake-up (~5-50 us) per kernel, so workers spin for a short while after each
// parallel_for before they sleep (SPIN_NS), and the next kernel usually finds them awake.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mf {

class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  int threads() const { return threads_; }

  // Changes the thread count (>= 1). Not called while a parallel_for runs (JS is single-threaded).
  void set_threads(int n) {
    if (n < 1) n = 1;
    if (n == threads_) return;
    stop_workers();
    threads_ = n;
    start_workers();
  }

  // Runs fn(task, worker) for task in [0, tasks), worker in [0, threads()): each worker id is used
  // by one thread at a time, so per-worker scratch indexed by it needs no lock.
  void parallel_for(int64_t tasks, const std::function<void(int64_t, int)>& fn) {
    if (tasks <= 0) return;
    if (threads_ == 1 || tasks == 1) {
      for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
      return;
    }
    job_ = &fn;
    tasks_ = tasks;
    next_.store(0, std::memory_order_relaxed);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      gen = generation_.load(std::memory_order_relaxed) + 1;
      // Open the generation for workers to join before they can see it.
      joined_.store(gen << JOIN_BITS, std::memory_order_release);
      generation_.store(gen, std::memory_order_release);
    }
    wake_.notify_all();
    drain(0);
    // Wait only for the workers that joined (they finish the tasks they took), then close the
    // generation so that a worker the OS has not run yet cannot join late: a descheduled worker
    // costs its share of the work, not its time slice.
    for (uint64_t open = gen << JOIN_BITS;;) {
      uint64_t expected = open;
      if (joined_.compare_exchange_weak(expected, open | CLOSED, std::memory_order_acq_rel)) break;
      spin_pause();
    }
    job_ = nullptr;
  }

  ~ThreadPool() { stop_workers(); }

 private:
  static constexpr int64_t SPIN_NS = 2'000'000;  // 2 ms: longer than the gaps between a step's kernels
  static constexpr int JOIN_BITS = 16;
  static constexpr uint64_t CLOSED = (uint64_t{1} << JOIN_BITS) - 1;

  ThreadPool() = default;

  static void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  void drain(int worker) {
    for (;;) {
      const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks_) break;
      (*job_)(t, worker);
    }
  }

  // `seen`: the generation when the worker was started, read by the starting thread: a
  // parallel_for issued before the new thread runs must still count as new for it.
  void worker_loop(int worker, uint64_t seen) {
    for (;;) {
      // Spin a while for the next kernel, then sleep until one comes.
      auto start = std::chrono::steady_clock::now();
      uint64_t gen;
      for (int i = 0;; ++i) {
        gen = generation_.load(std::memory_order_acquire);
        if (gen != seen || stopping_.load(std::memory_order_relaxed)) break;
        spin_pause();
        if ((i & 255) == 255 && std::chrono::steady_clock::now() - start > std::chrono::nanoseconds(SPIN_NS)) {
          std::unique_lock<std::mutex> lock(mutex_);
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen || stopping_.load(); });
          gen = generation_.load(std::memory_order_acquire);
          break;
        }
      }
      if (stopping_.load()) return;
      seen = gen;
      if (!join(gen)) continue;
      drain(worker);
      joined_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  // Enters generation `gen` unless its parallel_for already closed it (or a newer one opened).
  bool join(uint64_t gen) {
    uint64_t v = joined_.load(std::memory_order_acquire);
    for (;;) {
      if ((v >> JOIN_BITS) != gen || (v & CLOSED) == CLOSED) return false;
      if (joined_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) return true;
      spin_pause();
    }
  }

  void start_workers() {
    stopping_.store(false);
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int w = 1; w < threads_; ++w) workers_.emplace_back([this, w, gen] { worker_loop(w, gen); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> next_{0};
  // The open generation (high bits) and how many workers are inside it (low JOIN_BITS bits, all
  // ones once its parallel_for has closed it).
  std::atomic<uint64_t> joined_{CLOSED};
  int64_t tasks_ = 0;
  const std::function<void(int64_t, int)>* job_ = nullptr;
};

}  // namespace mf
